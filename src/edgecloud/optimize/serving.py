"""How the node serves a folder the optimizer wrote: the ModelSpec its manifest implies (called by
catalogue.spec_for_path). Plain HF folders (pruned, distilled) need nothing special and get None."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

from edgecloud.errors import ModelNotFound
from edgecloud.modelspec import Kind, LocalPath, ModelSpec
from edgecloud.optimize.artifact import read_manifest, size_on_disk
from edgecloud.optimize.gguf import GGUF_FILE

_SERVED_KINDS = {"embedding": "embedding", "classifier": "classification", "decoder": "chat"}


def optimized_spec(folder: Path) -> ModelSpec | None:
    manifest = read_manifest(folder)
    if manifest is None or manifest.format == "hf":
        return None
    kind = cast(Kind, manifest.served_as or _SERVED_KINDS[manifest.kind])
    described = f"{manifest.method} of {manifest.source}"
    if manifest.format == "gguf":
        return ModelSpec(
            name=folder.name.lower(),
            kind=kind,
            runtime="llamacpp",
            format="gguf",
            source=LocalPath(folder / GGUF_FILE),
            quantization=manifest.method.removeprefix("gguf:"),
            context_length=32768,
            size_bytes=size_on_disk(folder / GGUF_FILE),
            description=described,
        )
    if manifest.format == "onnx" and manifest.kind != "embedding":
        raise ModelNotFound(f"{folder}: the onnx runtime serves sentence encoders only, not {manifest.kind}s")
    return ModelSpec(
        name=folder.name.lower(),
        kind=kind,
        source=LocalPath(folder),
        size_bytes=size_on_disk(folder),
        description=described,
        runtime="onnx" if manifest.format == "onnx" else "transformers",
        format="hf",
        quantization=manifest.method,
        context_length=_context(folder),
    )


def _context(folder: Path) -> int:
    """sentence-transformers' max_seq_length where present, else the model's position limit."""
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        return int(json.loads(st_config.read_text()).get("max_seq_length", 512))
    config = folder / "config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_position_embeddings") or 2048)
    return 2048
