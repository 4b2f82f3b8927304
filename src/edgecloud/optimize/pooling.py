"""Sentence embeddings the way a sentence-transformers folder says to pool them (its 1_Pooling config
and Normalize module), so pruning, distillation and their checks measure what the node serves."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

MAX_LENGTH = 128  # CPU-friendly: the snippets we calibrate and train on are far shorter


@dataclass(frozen=True)
class Pooling:
    mode: str  # "mean", "cls" or "max"
    normalize: bool
    max_length: int


def pooling_of(folder: Path, *, max_length: int = MAX_LENGTH) -> Pooling:
    """The folder's pooling; a plain HF encoder gets mean pooling + L2 norm, as the node serves it."""
    mode, normalize = "mean", True
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        modules = json.loads(modules_file.read_text())
        types = [str(m.get("type", "")) for m in modules]
        normalize = any(t.endswith("Normalize") for t in types)
        for module in modules:
            config = folder / str(module.get("path", "")) / "config.json"
            if str(module.get("type", "")).endswith("Pooling") and config.is_file():
                mode = _pooling_mode(json.loads(config.read_text()))
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_length = min(max_length, int(json.loads(st_config.read_text()).get("max_seq_length", max_length)))
    return Pooling(mode=mode, normalize=normalize, max_length=max_length)


def _pooling_mode(config: dict[str, Any]) -> str:
    if config.get("pooling_mode_cls_token"):
        return "cls"
    if config.get("pooling_mode_max_tokens"):
        return "max"
    return "mean"


def pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: Pooling) -> torch.Tensor:
    """[batch, tokens, dim] hidden states to [batch, dim] sentence vectors, padding ignored."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    if pooling.mode == "cls":
        pooled = hidden[:, 0]
    elif pooling.mode == "max":
        pooled = hidden.masked_fill(weights == 0, torch.finfo(hidden.dtype).min).amax(dim=1)
    else:
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1) if pooling.normalize else pooled


def batches(texts: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(texts), size):
        yield list(texts[start : start + size])


def embed(
    model: Any, tokenizer: Any, texts: Sequence[str], pooling: Pooling, *, batch_size: int = 64
) -> torch.Tensor:
    """Pooled embeddings of texts, in order, without gradients. Batches are formed in order of length
    (then put back), so short texts do not pad to a long neighbour's length."""
    order = length_order(texts)
    out: list[torch.Tensor] = []
    with torch.inference_mode():
        for chunk in batches([texts[i] for i in order], batch_size):
            encoded = tokenize(tokenizer, chunk, pooling.max_length)
            hidden = model(**encoded).last_hidden_state
            out.append(pool(hidden, encoded["attention_mask"], pooling))
    return in_original_order(torch.cat(out), order) if out else torch.empty(0)


def length_order(texts: Sequence[str]) -> list[int]:
    """Indices of texts from shortest to longest: batches of neighbours pad to similar lengths."""
    return sorted(range(len(texts)), key=lambda i: len(texts[i]))


def in_original_order(rows: torch.Tensor, order: Sequence[int]) -> torch.Tensor:
    """Rows computed in `order` (length_order), put back where their texts were."""
    result = torch.empty_like(rows)
    result[torch.tensor(list(order))] = rows
    return result


def tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    encoded = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    return dict(encoded)
