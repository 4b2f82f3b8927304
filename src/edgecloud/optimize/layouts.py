"""Where heads and FFN neurons live in the architectures we prune, and how to cut them out.

BERT (MiniLM): neurons are rows of intermediate.dense and columns of output.dense, and are removed
(config intermediate_size follows). Heads are column blocks of query/key/value and row blocks of the
attention output dense, but transformers 5 can no longer *store* a BERT with fewer heads: `prune_heads`
and the config's `pruned_heads` are gone, and BERT derives the head width as hidden_size /
num_attention_heads, so fewer heads of the same width do not load (DeBERTa-v2, whose config takes a
head width, still fixes its attention output projection at hidden x hidden). Pruned heads are therefore
zeroed in place: the model computes exactly what the physically pruned one would, in the original shape.

Llama-style decoders (Llama, Qwen2, SmolLM, Gemma): neurons are rows of gate_proj/up_proj and columns of
down_proj; only the FFN is pruned there."""

from __future__ import annotations

from typing import Any

import torch

from edgecloud.errors import InvalidRequest
from edgecloud.optimize.importance import Projection
from edgecloud.optimize.student import blocks


def bert_projections(model: Any) -> list[tuple[Projection | None, Projection]]:
    if getattr(model.config, "model_type", "") != "bert":
        raise InvalidRequest(
            f"structured pruning supports BERT encoders (MiniLM) and Llama-style decoders, "
            f"not {model.config.model_type!r}",
            param="model",
        )
    width = int(model.config.hidden_size // model.config.num_attention_heads)
    return [
        (Projection(layer.attention.output.dense, width), Projection(layer.output.dense, 1))
        for layer in blocks(model)
    ]


def decoder_projections(model: Any) -> list[tuple[Projection | None, Projection]]:
    decoder_blocks = blocks(model)
    if not all(hasattr(getattr(b, "mlp", None), "down_proj") for b in decoder_blocks):
        raise InvalidRequest("only decoders with gate/up/down FFN projections (Llama-style) can be pruned")
    return [(None, Projection(block.mlp.down_proj, 1)) for block in decoder_blocks]


def slice_linear(
    linear: torch.nn.Linear, rows: list[int] | None, columns: list[int] | None
) -> torch.nn.Linear:
    """A new Linear with only the given output rows and/or input columns of linear's weight."""
    weight = linear.weight.detach()
    bias = linear.bias.detach() if linear.bias is not None else None
    if rows is not None:
        weight, bias = weight[rows], (bias[rows] if bias is not None else None)
    if columns is not None:
        weight = weight[:, columns]
    result = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    with torch.no_grad():
        result.weight.copy_(weight)
        if bias is not None:
            result.bias.copy_(bias)
    return result


def set_linear(linear: torch.nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
    with torch.no_grad():
        linear.weight.copy_(weight)
        if bias is not None and linear.bias is not None:
            linear.bias.copy_(bias)


def head_columns(heads: list[int], width: int) -> list[int]:
    return [h * width + i for h in heads for i in range(width)]


def prune_bert_ffn(layer: Any, neurons: list[int]) -> None:
    """Keep only the given FFN neurons of one BERT layer (in place)."""
    layer.intermediate.dense = slice_linear(layer.intermediate.dense, neurons, None)
    layer.output.dense = slice_linear(layer.output.dense, None, neurons)


def zero_bert_heads(layer: Any, heads: list[int], width: int) -> None:
    """Zero every weight that reads from or writes to the heads not in `heads` (in place)."""
    attention = layer.attention
    total = attention.self.query.out_features // width
    dropped = head_columns([h for h in range(total) if h not in heads], width)
    with torch.no_grad():
        for name in ("query", "key", "value"):
            linear = getattr(attention.self, name)
            linear.weight[dropped] = 0.0
            linear.bias[dropped] = 0.0
        attention.output.dense.weight[:, dropped] = 0.0


def prune_decoder_ffn(block: Any, neurons: list[int]) -> None:
    mlp = block.mlp
    mlp.gate_proj = slice_linear(mlp.gate_proj, neurons, None)
    mlp.up_proj = slice_linear(mlp.up_proj, neurons, None)
    mlp.down_proj = slice_linear(mlp.down_proj, None, neurons)
    if hasattr(mlp, "intermediate_size"):
        mlp.intermediate_size = len(neurons)
