"""How much each attention head and FFN neuron contributes, measured on calibration text.

A head's importance is the mean norm of what it writes into the residual stream (its slice of the
attention output projection applied to its context vectors); an FFN neuron's is its mean absolute
activation times the norm of its output weights: the expected size of its contribution. One forward
pass gives both, and the same pass accumulates the Gram matrices of the projections' inputs, which
`refit` uses to re-solve the output projections over the units that survive (least squares), so what
the pruned units used to contribute on average is absorbed instead of simply lost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from edgecloud.optimize.pooling import batches, tokenize

RIDGE = 1e-2  # relative to the mean diagonal of the Gram matrix: keeps the refit well posed


@dataclass
class Calibration:
    """Per layer: head and neuron importances, and [x 1]^T [x 1] of the two output projections' inputs."""

    heads: list[torch.Tensor] = field(default_factory=list)  # [num_heads] per layer
    neurons: list[torch.Tensor] = field(default_factory=list)  # [intermediate] per layer
    attention_gram: list[torch.Tensor] = field(default_factory=list)  # [all_head + 1]^2 per layer
    ffn_gram: list[torch.Tensor] = field(default_factory=list)  # [intermediate + 1]^2 per layer
    tokens: int = 0


@dataclass(frozen=True)
class Projection:
    """Where a layer's units end: the Linear that reads them, and how many input columns one unit has."""

    linear: torch.nn.Linear
    unit_width: int


def calibrate(
    model: Any,
    layers: Sequence[tuple[Projection | None, Projection]],
    tokenizer: Any,
    texts: Sequence[str],
    *,
    max_length: int,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Run the model over texts with hooks on each layer's (attention, FFN) output projections."""
    count = len(layers)
    sums = Calibration(
        heads=[torch.zeros(0)] * count,
        neurons=[torch.zeros(0)] * count,
        attention_gram=[torch.zeros(0)] * count,
        ffn_gram=[torch.zeros(0)] * count,
    )
    mask_box: list[torch.Tensor] = []
    handles = []
    for index, (attention, ffn) in enumerate(layers):
        if attention is not None:
            handles.append(_hook(attention, mask_box, sums.heads, sums.attention_gram, index))
        handles.append(_hook(ffn, mask_box, sums.neurons, sums.ffn_gram, index))
    chunks = list(batches(texts, batch_size))
    try:
        with torch.inference_mode():
            for done, chunk in enumerate(chunks, start=1):
                encoded = tokenize(tokenizer, chunk, max_length)
                mask_box[:] = [encoded["attention_mask"].bool()]
                model(**encoded)
                sums.tokens += int(encoded["attention_mask"].sum())
                if progress:
                    progress(done, len(chunks))
    finally:
        for handle in handles:
            handle.remove()
    tokens = max(1, sums.tokens)
    sums.heads = [h / tokens for h in sums.heads]
    sums.neurons = [n / tokens for n in sums.neurons]
    return sums


def _hook(
    projection: Projection,
    mask_box: list[torch.Tensor],
    importance: list[torch.Tensor],
    gram: list[torch.Tensor],
    index: int,
) -> Any:
    linear, width = projection.linear, projection.unit_width

    def record(_module: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0][mask_box[0]].float()  # [real tokens, units * width]
        weight = linear.weight.float()  # [out, units * width]
        units = x.shape[1] // width
        if width == 1:  # FFN neuron: |a_j| * ||W[:, j]||
            score = x.abs().sum(0) * weight.norm(dim=0)
        else:  # head: || x_h W_h^T || per token
            per_head = torch.einsum("thd,ohd->tho", x.view(-1, units, width), weight.view(-1, units, width))
            score = per_head.norm(dim=-1).sum(0)
        augmented = torch.cat([x, torch.ones(x.shape[0], 1)], dim=1)
        importance[index] = importance[index] + score if importance[index].numel() else score
        product = augmented.T @ augmented
        gram[index] = gram[index] + product if gram[index].numel() else product

    return linear.register_forward_pre_hook(record)


def top_units(scores: torch.Tensor, keep: int) -> list[int]:
    """Indices of the `keep` highest-scoring units, in their original order."""
    return sorted(torch.topk(scores, keep).indices.tolist())


def refit(
    linear: torch.nn.Linear, gram: torch.Tensor, columns: list[int]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Weight [out, len(columns)] (and bias, where the Linear has one) that best reproduce linear's full
    output from the kept input columns alone, over the calibration inputs whose augmented Gram matrix
    is `gram`. The bias absorbs the mean of what the dropped columns contributed."""
    has_bias = linear.bias is not None
    keep = torch.tensor([*columns, gram.shape[0] - 1] if has_bias else columns)
    full = linear.weight.detach().double()
    if linear.bias is not None:
        full = torch.cat([full, linear.bias.detach().double().unsqueeze(1)], dim=1)
    lhs = gram[keep][:, keep].double()
    ridge = torch.full(
        (len(columns),), float(RIDGE * lhs.diagonal()[: len(columns)].mean()), dtype=torch.float64
    )
    lhs = lhs + torch.diag(torch.cat([ridge, torch.zeros(len(keep) - len(columns), dtype=torch.float64)]))
    source = gram.double() if has_bias else gram[:-1, :-1].double()
    rhs = source[keep] @ full.T  # [kept (+1), out]
    solution = torch.linalg.solve(lhs, rhs).T.float()  # [out, kept (+1)]
    weight = solution[:, : len(columns)].contiguous()
    return weight, solution[:, -1].contiguous() if has_bias else None
