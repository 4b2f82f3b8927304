"""Export an HF encoder (or sequence classifier) to ONNX with `torch.onnx.export`, then quantize it with
ONNX Runtime's dynamic int8 (per-channel QInt8 weights: per-tensor costs MiniLM 0.963 mean cosine,
per-channel 0.994, measured in DEPENDENCIES.md). Not optimum: it downgrades transformers.

The folder gets `model.onnx` (inputs input_ids, attention_mask and token_type_ids where the model has
it; first output last_hidden_state, or logits for a classifier) plus the tokenizer and pooling files;
`runtimes/onnx.py` serves it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

from edgecloud.optimize.artifact import ModelKind

MODEL_FILE = "model.onnx"
OPSET = 17


class _KeywordForward(torch.nn.Module):
    """transformers 5 models take keywords only reliably; the exporter passes positionals."""

    def __init__(self, model: Any, names: tuple[str, ...]) -> None:
        super().__init__()
        self.model = model
        self.names = names

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        out = self.model(**dict(zip(self.names, tensors, strict=True)), return_dict=True)
        return out.logits if hasattr(out, "logits") else out.last_hidden_state


def input_names(model: Any) -> tuple[str, ...]:
    names: tuple[str, ...] = ("input_ids", "attention_mask")
    if int(getattr(model.config, "type_vocab_size", 0) or 0) > 0:
        names += ("token_type_ids",)
    return names


def export_onnx(model: Any, tokenizer: Any, kind: ModelKind, target: Path) -> Path:
    """fp32 ONNX graph with dynamic batch and sequence axes."""
    names = input_names(model)
    sample = tokenizer(
        ["an example sentence", "another, longer example sentence"], padding=True, return_tensors="pt"
    )
    args = tuple(sample[name] if name in sample else torch.zeros_like(sample["input_ids"]) for name in names)
    output = "logits" if kind == "classifier" else "last_hidden_state"
    axes: dict[str, dict[int, str]] = {name: {0: "batch", 1: "sequence"} for name in names}
    axes[output] = {0: "batch"} if kind == "classifier" else {0: "batch", 1: "sequence"}
    with torch.inference_mode():
        torch.onnx.export(
            _KeywordForward(model.eval(), names),
            args,
            str(target),
            input_names=list(names),
            output_names=[output],
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    return target


def quantize_onnx(fp32: Path, target: Path, *, per_channel: bool = True) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(target), weight_type=QuantType.QInt8, per_channel=per_channel)
    return target


def export_quantized(
    model: Any, tokenizer: Any, kind: ModelKind, out: Path, *, per_channel: bool = True
) -> Path:
    with tempfile.TemporaryDirectory() as scratch:
        fp32 = export_onnx(model, tokenizer, kind, Path(scratch) / "fp32.onnx")
        return quantize_onnx(fp32, out / MODEL_FILE, per_channel=per_channel)
