"""What a model is to the rest of the system: its kind, runtime, format and where its weights come from.
Kept apart from the catalogue (which lists the bundled models and assembles their files), so modules
that describe a model of their own (the optimizer's folders) need not import the catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Kind = Literal["chat", "completion", "embedding", "transcription", "classification"]
TierName = Literal["edge", "cloud"]
RuntimeName = Literal["llamacpp", "transformers", "remote", "whisper", "onnx"]
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class PackageFile:
    """A single file shipped inside a package (found without importing the package)."""

    package: str
    relpath: str


@dataclass(frozen=True)
class PackageParts:
    """A file split across several packages; concatenated once into the cache."""

    parts: tuple[PackageFile, ...]
    filename: str


@dataclass(frozen=True)
class PackageArchive:
    """A model folder shipped as a zip inside a package; extracted once into the cache."""

    archive: PackageFile
    folder: str
    check_file: str


@dataclass(frozen=True)
class LocalPath:
    """A user's own file or folder."""

    path: Path


Source = PackageFile | PackageParts | PackageArchive | LocalPath


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Kind
    runtime: RuntimeName
    format: Literal["gguf", "hf", "ct2"]
    source: Source
    sha256: str | None = None
    quantization: str = "unknown"
    context_length: int = 2048
    size_bytes: int | None = None
    description: str = ""
    packages: tuple[str, ...] = ()
    default_system_prompt: str | None = None
    options: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    # The model ladder: which tier a bundled model suits, and its rung there (0 = the tier's default,
    # higher = larger and slower). The demo, the scenarios and the router read it instead of names.
    tier: TierName | None = None
    rung: int = 0
