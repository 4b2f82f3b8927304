"""Hugging Face model folders in and out: loading a source folder, and writing an optimized model with
everything else the source carried (tokenizer, sentence-transformers modules and pooling config), so
`AutoModel.from_pretrained(out)` loads it and `edgecloud serve --model out` serves it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgecloud.errors import ModelFileError

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".gguf")
_OWN_FILES = {"config.json", "generation_config.json", "model.safetensors.index.json"}
_REPORT_FILES = {"report.json", "report.html"}


def hf_config(folder: Path) -> dict[str, Any]:
    config = folder / "config.json"
    if not folder.is_dir() or not config.is_file():
        raise ModelFileError(f"{folder} is not a Hugging Face model folder (no config.json)")
    loaded: dict[str, Any] = json.loads(config.read_text())
    return loaded


def is_decoder(folder: Path) -> bool:
    architectures = " ".join(hf_config(folder).get("architectures") or [])
    return "CausalLM" in architectures


def load_encoder(folder: Path) -> tuple[Any, Any]:
    """(model in eval mode, tokenizer) for an encoder folder, in float32."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    hf_config(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()
    return model, tokenizer


def load_decoder(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    hf_config(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    return model, tokenizer


def write_model(model: Any, src: Path, out: Path) -> None:
    """out gets src's non-weight files first, then the model's own config and safetensors weights."""
    if out.resolve() == src.resolve():
        raise ModelFileError(f"--out {out} is the source folder; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.iterdir():  # weights of an earlier run must not be loaded beside ours
        if stale.is_file() and stale.name.endswith(_WEIGHT_SUFFIXES):
            stale.unlink()
    copy_support_files(src, out)
    model.save_pretrained(out, safe_serialization=True)


def copy_support_files(src: Path, out: Path) -> None:
    """Tokenizer, sentence-transformers and pooling files: everything but weights, config and reports."""
    for path in src.rglob("*"):
        relative = path.relative_to(src)
        if not path.is_file() or relative.parts[0].startswith("."):
            continue
        if path.name.endswith(_WEIGHT_SUFFIXES) or str(relative) in _OWN_FILES | _REPORT_FILES:
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def parameter_count(model: Any) -> int:
    return int(sum(p.numel() for p in model.parameters()))
