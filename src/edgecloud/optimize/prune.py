"""Pruning: structured (whole attention heads and FFN neurons removed, giving a smaller dense model) and
unstructured (individual weights zeroed by magnitude, giving a sparse model of the same shape).

Structured: importances come from one calibration pass (`importance.calibrate`); each layer keeps its
top heads and neurons (the same count in every layer, since HF configs describe one shape for all
layers), and its two output projections are re-solved by least squares over the survivors
(`importance.refit`). BERT encoders lose heads and neurons, Llama-style decoders FFN neurons."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgecloud.errors import InvalidRequest
from edgecloud.optimize import layouts
from edgecloud.optimize.folder import is_decoder, load_decoder, load_encoder, parameter_count, write_model
from edgecloud.optimize.importance import Calibration, calibrate, refit, top_units
from edgecloud.optimize.pooling import MAX_LENGTH, pooling_of
from edgecloud.optimize.student import blocks


@dataclass(frozen=True)
class PruneSummary:
    method: str
    params_before: int
    params_after: int
    sparsity: float
    notes: tuple[str, ...]


def prune_structured(
    src: Path,
    out: Path,
    *,
    heads: float,
    ffn: float,
    calibration: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> PruneSummary:
    """Remove the `heads` share of attention heads and the `ffn` share of FFN neurons of every layer."""
    for name, share in (("heads", heads), ("ffn", ffn)):
        if not 0.0 <= share < 1.0:
            raise InvalidRequest(f"--{name} is the share to remove, in [0, 1); got {share}", param=name)
    texts = [t for t in calibration if t.strip()]
    if not texts:
        raise InvalidRequest("structured pruning needs calibration text", param="calibration")
    if is_decoder(src):
        if heads > 0:
            raise InvalidRequest("decoders support FFN pruning only: use --heads 0", param="heads")
        return _prune_decoder(src, out, ffn, texts, progress)
    return _prune_encoder(src, out, heads, ffn, texts, progress)


def _prune_encoder(
    src: Path,
    out: Path,
    heads: float,
    ffn: float,
    texts: list[str],
    progress: Callable[[int, int], None] | None,
) -> PruneSummary:
    model, tokenizer = load_encoder(src)
    projections = layouts.bert_projections(model)
    before = parameter_count(model)
    config = model.config
    width = int(config.hidden_size // config.num_attention_heads)
    total_heads = int(config.num_attention_heads)
    keep_heads = _head_count(model, heads)
    keep_neurons = max(1, round(int(config.intermediate_size) * (1 - ffn)))
    max_length = pooling_of(src).max_length
    stats = calibrate(model, projections, tokenizer, texts, max_length=max_length, progress=progress)
    for index, layer in enumerate(blocks(model)):
        chosen_heads = top_units(stats.heads[index], keep_heads)
        chosen_neurons = top_units(stats.neurons[index], keep_neurons)
        columns = layouts.head_columns(chosen_heads, width)
        attention_fit = _refit(layer.attention.output.dense, stats.attention_gram[index], columns)
        ffn_fit = _refit(layer.output.dense, stats.ffn_gram[index], chosen_neurons)
        layouts.prune_bert_ffn(layer, chosen_neurons)
        layouts.set_linear(layer.output.dense, *ffn_fit)
        _set_columns(layer.attention.output.dense, columns, *attention_fit)
        layouts.zero_bert_heads(layer, chosen_heads, width)
    config.intermediate_size = keep_neurons
    notes = [
        f"kept {keep_heads}/{total_heads} heads and {keep_neurons}/{_original(stats, 'ffn')} FFN neurons in "
        f"every layer, ranked by their output norm on {len(texts)} calibration texts ({stats.tokens} tokens)",
        "output projections re-solved by least squares over the kept heads and neurons",
    ]
    notes.extend(_calibration_warning(stats, _original(stats, "ffn")))
    if keep_heads < total_heads:
        notes.append(
            f"the {total_heads - keep_heads} pruned heads per layer are zeroed, not removed: transformers 5 "
            "cannot load a BERT with fewer heads than hidden_size / head width, so attention keeps its shape "
            "and its cost; only the FFN cut makes the model smaller and faster"
        )
    write_model(model, src, out)
    after = parameter_count(model)
    return PruneSummary("structured", before, after, 1 - after / before, tuple(notes))


def _prune_decoder(
    src: Path, out: Path, ffn: float, texts: list[str], progress: Callable[[int, int], None] | None
) -> PruneSummary:
    model, tokenizer = load_decoder(src)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    projections = layouts.decoder_projections(model)
    before = parameter_count(model)
    width = int(model.config.intermediate_size)
    keep = max(1, round(width * (1 - ffn)))
    stats = calibrate(model, projections, tokenizer, texts, max_length=MAX_LENGTH, progress=progress)
    for index, block in enumerate(blocks(model)):
        chosen = top_units(stats.neurons[index], keep)
        fit = _refit(block.mlp.down_proj, stats.ffn_gram[index], chosen)
        layouts.prune_decoder_ffn(block, chosen)
        layouts.set_linear(block.mlp.down_proj, *fit)
    model.config.intermediate_size = keep
    write_model(model, src, out)
    after = parameter_count(model)
    notes = (
        f"kept {keep}/{width} FFN neurons in every layer, ranked by |activation| x output-weight norm on "
        f"{len(texts)} calibration texts ({stats.tokens} tokens); down_proj re-solved by least squares",
        "attention heads untouched (decoders: FFN pruning only)",
        *_calibration_warning(stats, width),
    )
    return PruneSummary("structured", before, after, 1 - after / before, notes)


def _calibration_warning(stats: Calibration, width: int) -> list[str]:
    """The refit solves for `width` columns per output; with fewer tokens than that the ridge term, not
    the data, decides them."""
    if stats.tokens >= 2 * width:
        return []
    return [
        f"only {stats.tokens} calibration tokens for {width} FFN neurons: "
        "the refit is mostly ridge; pass more text"
    ]


def _head_count(model: Any, share: float) -> int:
    return max(1, round(int(model.config.num_attention_heads) * (1 - share)))


def _original(stats: Calibration, kind: str) -> int:
    return int(stats.neurons[0].numel()) if kind == "ffn" else int(stats.heads[0].numel())


def _set_columns(
    linear: torch.nn.Linear, columns: list[int], weight: torch.Tensor, bias: torch.Tensor | None
) -> None:
    """Write a refit over `columns` back into the full-width Linear; the other columns are zeroed."""
    with torch.no_grad():
        linear.weight.zero_()
        linear.weight[:, columns] = weight
        if bias is not None and linear.bias is not None:
            linear.bias.copy_(bias)


def _refit(
    linear: torch.nn.Linear, gram: torch.Tensor, columns: list[int]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The kept columns' least-squares weights, computed from the still unpruned Linear."""
    if len(columns) == linear.in_features:  # nothing removed: the original weights are the exact solution
        bias = linear.bias.detach().clone() if linear.bias is not None else None
        return linear.weight.detach().clone(), bias
    return refit(linear, gram, columns)


def prune_magnitude(src: Path, out: Path, *, sparsity: float) -> PruneSummary:
    """Zero the smallest-magnitude `sparsity` share of every Linear weight matrix (lm_head excepted)."""
    if not 0.0 <= sparsity < 1.0:
        raise InvalidRequest(f"--sparsity must be in [0, 1); got {sparsity}", param="sparsity")
    model, _ = (load_decoder if is_decoder(src) else load_encoder)(src)
    before = parameter_count(model)
    zeroed = targeted = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            if not isinstance(module, torch.nn.Linear) or name.endswith("lm_head"):
                continue
            weight = module.weight
            count = int(weight.numel() * sparsity)
            if count:
                threshold = weight.abs().flatten().kthvalue(count).values
                weight.masked_fill_(weight.abs() <= threshold, 0.0)
            zeroed += int((weight == 0).sum())
            targeted += weight.numel()
    write_model(model, src, out)
    achieved = zeroed / max(1, targeted)
    nonzero = int(sum(int((p != 0).sum()) for p in model.parameters()))
    notes = (
        f"{achieved:.1%} of the Linear weights ({targeted:,} values, each matrix pruned to its own "
        f"magnitude threshold) are zero; {1 - nonzero / before:.1%} of all parameters",
        "the weights are stored dense: same file size, same shapes, and no CPU speed-up, since PyTorch's and "
        "ONNX Runtime's dense kernels multiply zeros like any other value",
        _compressed_note(src, out),
        "it pays off only through sparse storage or compression, or sparse kernels "
        "(and at high sparsity as a starting point for structured pruning)",
    )
    return PruneSummary("magnitude", before, nonzero, achieved, notes)


def _compressed_note(src: Path, out: Path) -> str:
    """What zeros buy on disk: zlib level 1 of the weights file, before and after."""
    sizes = [_compressed_size(folder / "model.safetensors") for folder in (src, out)]
    if not all(sizes):
        return "compressed size not measured (no single model.safetensors file)"
    before, after = sizes[0] / 1e6, sizes[1] / 1e6
    return f"compressed (zlib level 1) the weights file shrinks from {before:.1f} MB to {after:.1f} MB"


def _compressed_size(path: Path) -> int:
    if not path.is_file():
        return 0
    compressor = zlib.compressobj(1)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 22):
            size += len(compressor.compress(chunk))
    return size + len(compressor.flush())
