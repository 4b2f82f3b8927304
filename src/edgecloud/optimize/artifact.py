"""What an optimized model folder says about itself: a small manifest (`optimized.json`) naming the method
and the format of its weights, so the catalogue picks the right engine for `edgecloud serve --model DIR`
and the report knows how to load both sides. Also the model kind of an HF folder, and sizes on disk."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from edgecloud.errors import ModelFileError

MANIFEST = "optimized.json"
REPORT_FILES = frozenset({"report.json", "report.html", MANIFEST})
ModelKind = Literal["embedding", "classifier", "decoder"]
WeightFormat = Literal["hf", "int8-safetensors", "onnx", "gguf"]


@dataclass(frozen=True)
class Manifest:
    method: str  # dynamic-int8, onnx-int8, gguf:Q8_0, prune-structured, distill ...
    format: WeightFormat
    kind: ModelKind
    source: str
    served_as: str = ""  # the catalogue kind the node serves it as (chat, completion, embedding ...)


def write_manifest(out: Path, manifest: Manifest) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).write_text(json.dumps(asdict(manifest), indent=2) + "\n")


def read_manifest(folder: Path) -> Manifest | None:
    path = folder / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return Manifest(
            **{k: data[k] for k in ("method", "format", "kind", "source")},
            served_as=data.get("served_as", ""),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} is not an optimizer manifest: {exc}") from None


def model_kind(folder: Path) -> ModelKind:
    """From config.json's architectures: sequence classifiers, causal LMs, or (else) encoders."""
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelFileError(f"{folder} is not a Hugging Face model folder (no config.json)")
    architectures = " ".join(json.loads(config_file.read_text()).get("architectures") or [])
    if "ForSequenceClassification" in architectures:
        return "classifier"
    if "CausalLM" in architectures or "ForConditionalGeneration" in architectures:
        return "decoder"
    return "embedding"


def size_on_disk(path: Path) -> int:
    """Bytes of a model file or folder, leaving out our own report and manifest files."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name not in REPORT_FILES)


def fresh_output(src: Path, out: Path) -> None:
    """Refuses to write into the source, and creates out."""
    if out.resolve() == src.resolve() or (src.is_dir() and out.resolve().is_relative_to(src.resolve())):
        raise ModelFileError(f"--out {out} is inside the source {src}; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
