"""Sentence embeddings per second at a fixed batch size, and how close a device's vectors are to the
CPU's fp32 ones (mean cosine: bf16 moves a MiniLM vector by well under a percent)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgecloud.runtimes.transformers import TransformersEncoder


@dataclass(frozen=True)
class EmbedRate:
    device: str
    texts: int
    batch: int
    seconds: float
    texts_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def sentences(count: int) -> list[str]:
    """Varied short sentences (lengths differ, as real traffic's do)."""
    subjects = ("The cloud tier", "A small model", "The gateway", "An edge device", "The router")
    verbs = ("answers", "routes", "embeds", "summarises", "checks")
    objects = ("a question about the weather", "private notes", "a long legal contract in three parts",
               "code", "a short message")  # fmt: skip
    return [
        f"{subjects[i % 5]} {verbs[(i // 5) % 5]} {objects[(i // 25) % 5]} (#{i})." + " And more." * (i % 7)
        for i in range(count)
    ]


def rate(encoder: TransformersEncoder, texts: list[str], batch: int) -> tuple[EmbedRate, np.ndarray]:
    encoder.embed(texts[:batch])  # warm-up: first-call allocations and kernel choice
    began = time.perf_counter()
    vectors = [encoder.embed(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    seconds = time.perf_counter() - began
    result = EmbedRate(encoder.device.label, len(texts), batch, seconds, len(texts) / seconds)
    return result, np.concatenate(vectors)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Both sets are L2-normalised by the encoder, so the row-wise dot product is the cosine."""
    return float(np.mean(np.sum(a * b, axis=1)))
