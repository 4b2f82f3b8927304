"""The three quantization methods, each writing a servable folder and its manifest, and returning the
notes its report carries (what was done, and what it could not do)."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgecloud.errors import InvalidRequest
from edgecloud.optimize.artifact import Manifest, ModelKind, fresh_output, model_kind, write_manifest
from edgecloud.optimize.gguf import FULL_PRECISION, GGUF_FILE, requantize

METHODS = ("dynamic-int8", "onnx-int8", "gguf:TYPE")


def _load_fp32(src: Path, kind: ModelKind) -> tuple[object, object]:
    import torch
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    cls = {"embedding": AutoModel, "classifier": AutoModelForSequenceClassification}.get(
        kind, AutoModelForCausalLM
    )
    return cls.from_pretrained(src, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(src)


def _copy_hf_support(src: Path, out: Path) -> None:
    from edgecloud.optimize.folder import copy_support_files

    copy_support_files(src, out)
    shutil.copy2(src / "config.json", out / "config.json")


def dynamic_int8(src: Path, out: Path, *, source_name: str) -> list[str]:
    from edgecloud.optimize.int8 import quantize_linears, save_int8

    kind = model_kind(src)
    fresh_output(src, out)
    model, _ = _load_fp32(src, kind)
    swapped = quantize_linears(model)
    _copy_hf_support(src, out)
    save_int8(model, out)
    write_manifest(out, Manifest("dynamic-int8", "int8-safetensors", kind, source_name))
    return [
        f"{swapped} Linear layers to int8: per-channel symmetric weights, activations quantized per call to "
        "8 bits (reduce_range off); embeddings, LayerNorm and attention arithmetic stay fp32",
        "the folder holds model.int8.safetensors + config.json; the node rebuilds the model and applies "
        "the same int8 Linear modules on load (runtime transformers, quantization dynamic-int8)",
    ]


def onnx_int8(src: Path, out: Path, *, source_name: str, per_channel: bool = True) -> list[str]:
    from edgecloud.optimize.onnx_export import export_quantized

    kind = model_kind(src)
    if kind == "decoder":
        raise InvalidRequest(
            "onnx-int8 exports encoders and sequence classifiers; use gguf:TYPE or dynamic-int8"
        )
    fresh_output(src, out)
    model, tokenizer = _load_fp32(src, kind)
    _copy_hf_support(src, out)  # config.json too: informative, the manifest picks the engine
    export_quantized(model, tokenizer, kind, out, per_channel=per_channel)
    write_manifest(out, Manifest("onnx-int8", "onnx", kind, source_name))
    scheme = "per-channel" if per_channel else "per-tensor"
    return [
        f"torch.onnx.export (opset 17), then onnxruntime quantize_dynamic QInt8 {scheme} weights, "
        "uint8 dynamic activations",
        "the node serves model.onnx through the onnx runtime with the same pooling as transformers",
    ]


def gguf(
    src: Path,
    out: Path,
    type_name: str,
    *,
    source_name: str,
    source_type: str,
    served_as: str,
    via_f16: bool,
    threads: int,
) -> list[str]:
    if src.suffix != ".gguf":
        raise InvalidRequest(f"gguf:{type_name} needs a GGUF model; {src} is not one")
    fresh_output(src, out)
    notes: list[str] = []
    if source_type.upper() not in FULL_PRECISION:
        notes.append(
            f"requantized: the best available source is {source_type}, not full precision; llama.cpp "
            f"dequantizes each tensor to f32 and quantizes it again, so {type_name} cannot be more "
            f"accurate than the {source_type} source"
        )
    source = src
    if via_f16:
        source = requantize(src, out / "source-f16.gguf", "F16", threads=threads)
        notes.append(f"went through an F16 copy of the {source_type} source first (--via-f16)")
    requantize(source, out / GGUF_FILE, type_name, threads=threads)
    if via_f16:
        source.unlink()
    write_manifest(
        out, Manifest(f"gguf:{type_name.upper()}", "gguf", "decoder", source_name, served_as=served_as)
    )
    return notes
