"""Speed and quality of an optimized model against its original, measured in one process and one run.

Speed: each repeat times every subject in turn (the order alternates each repeat, so the noise of a
shared machine falls on both sides alike): batch 1 latency over single sentences and batch 32
throughput, model forward only (tokenization is identical on both sides and done beforehand).
Quality, on held-out sentences: embeddings by mean cosine and nearest-neighbour agreement, classifiers
by label agreement, decoders by perplexity and greedy next-token agreement."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgecloud.optimize.subjects import Feeds, Subject
from edgecloud.runtimes.onnx import mean_pool

Tick = Callable[[], None]


@dataclass(frozen=True)
class Speed:
    latency_ms_b1: float  # median over single-sentence forwards
    throughput_b1: float  # sentences/s at batch 1
    throughput_b32: float  # sentences/s at batch 32, median over repeats
    latency_ms_b32: float  # median per batch of 32


def measure_speed(
    subjects: Sequence[Subject], texts: Sequence[str], *, repeats: int, single: int, tick: Tick
) -> dict[str, Speed]:
    batches = [list(texts[i : i + 32]) for i in range(0, len(texts) - 31, 32)] or [list(texts)]
    feeds = {
        s.label: ([s.encode([t]) for t in texts[:single]], [s.encode(b) for b in batches]) for s in subjects
    }
    for subject in subjects:  # warm-up: first calls allocate and pack
        subject.forward(feeds[subject.label][1][0])
    singles: dict[str, list[float]] = {s.label: [] for s in subjects}
    rates: dict[str, list[float]] = {s.label: [] for s in subjects}
    per_batch: dict[str, list[float]] = {s.label: [] for s in subjects}
    for round_ in range(repeats):
        for subject in subjects if round_ % 2 == 0 else list(reversed(subjects)):
            ones, many = feeds[subject.label]
            singles[subject.label] += [_timed(subject, f) for f in ones]
            seconds = [_timed(subject, f) for f in many]
            per_batch[subject.label] += seconds
            rates[subject.label].append(sum(len(b) for b in batches) / sum(seconds))
            tick()
    return {
        label: Speed(
            latency_ms_b1=1000 * statistics.median(singles[label]),
            throughput_b1=len(singles[label]) / sum(singles[label]),
            throughput_b32=statistics.median(rates[label]),
            latency_ms_b32=1000 * statistics.median(per_batch[label]),
        )
        for label in rates
    }


def _timed(subject: Subject, feeds: Feeds) -> float:
    started = time.perf_counter()
    subject.forward(feeds)
    return time.perf_counter() - started


def outputs(subject: Subject, texts: Sequence[str], batch_size: int = 32) -> list[tuple[Feeds, np.ndarray]]:
    return [
        (feeds, subject.forward(feeds))
        for feeds in (
            subject.encode(list(texts[i : i + batch_size])) for i in range(0, len(texts), batch_size)
        )
    ]


def embeddings(subject: Subject, texts: Sequence[str]) -> np.ndarray:
    """Sentence vectors exactly as the node computes them (mean pooling over real tokens, L2 norm)."""
    return np.concatenate([mean_pool(out, feeds["attention_mask"]) for feeds, out in outputs(subject, texts)])


def embedding_quality(original: Subject, candidate: Subject, texts: Sequence[str]) -> dict[str, float]:
    a, b = embeddings(original, texts), embeddings(candidate, texts)
    cosines = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return {
        "mean_cosine": float(cosines.mean()),
        "min_cosine": float(cosines.min()),
        "nn_agreement": nearest_neighbour_agreement(a, b),
        "sentences": float(len(texts)),
    }


def nearest_neighbour_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of sentences whose nearest other sentence is the same under both embeddings."""

    def neighbours(x: np.ndarray) -> np.ndarray:
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        sims = unit @ unit.T
        np.fill_diagonal(sims, -np.inf)
        return np.asarray(sims.argmax(axis=1))

    return float((neighbours(a) == neighbours(b)).mean())


def classifier_quality(original: Subject, candidate: Subject, texts: Sequence[str]) -> dict[str, float]:
    a = np.concatenate([out.argmax(axis=-1) for _, out in outputs(original, texts)])
    b = np.concatenate([out.argmax(axis=-1) for _, out in outputs(candidate, texts)])
    return {"label_agreement": float((a == b).mean()), "sentences": float(len(texts))}


def _token_stats(subject: Subject, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per real next-token position: the true token's log-probability and the argmax token."""
    logprobs: list[np.ndarray] = []
    argmax: list[np.ndarray] = []
    for feeds, logits in outputs(subject, texts, batch_size=8):
        ids, mask = feeds["input_ids"][:, 1:], feeds["attention_mask"][:, 1:].astype(bool)
        shifted = logits[:, :-1].astype(np.float64)
        shifted = shifted - shifted.max(axis=-1, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=-1))
        true = np.take_along_axis(shifted, ids[..., None], axis=-1)[..., 0] - log_norm
        logprobs.append(true[mask])
        argmax.append(shifted.argmax(axis=-1)[mask])
    return np.concatenate(logprobs), np.concatenate(argmax)


def decoder_quality(original: Subject, candidate: Subject, texts: Sequence[str]) -> dict[str, float]:
    a_lp, a_top = _token_stats(original, texts)
    b_lp, b_top = _token_stats(candidate, texts)
    return {
        "perplexity_original": float(np.exp(-a_lp.mean())),
        "perplexity": float(np.exp(-b_lp.mean())),
        "greedy_agreement": float((a_top == b_top).mean()),
        "tokens": float(len(a_lp)),
    }


def quality(original: Subject, candidate: Subject, texts: Sequence[str]) -> dict[str, float]:
    measure: dict[str, Any] = {
        "embedding": embedding_quality,
        "classifier": classifier_quality,
        "decoder": decoder_quality,
    }
    result: dict[str, float] = measure[candidate.kind](original, candidate, texts)
    return result
