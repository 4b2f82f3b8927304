"""The acceptance rule of speculative decoding, as pure functions over logit rows.

Why it is exact: greedy keeps a drafted token only when it is the target's own argmax, so the output is
the target's greedy output. Sampling uses the rejection rule of Leviathan et al. (2023) and Chen et al.
(2023): keep draft token x with probability min(1, p(x)/q(x)); at the first rejection sample from the
normalised residual max(0, p - q). Each emitted token is then distributed exactly as the target's p,
whatever the draft's q is, as long as the verifier knows the q the draft really sampled from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Verdict:
    """How many drafted tokens the target kept, and the token it adds after them."""

    accepted: int
    next_token: int


def probabilities(logits: np.ndarray, temperature: float, top_p: float) -> np.ndarray:
    """The sampling distribution of each row: softmax(logits / T), cut to the top-p nucleus."""
    scaled = logits.astype(np.float64) / max(temperature, 1e-6)
    scaled -= scaled.max(axis=-1, keepdims=True)
    probs = np.exp(scaled)
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p >= 1.0:
        return probs
    order = np.argsort(-probs, axis=-1)
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(sorted_probs, axis=-1) - sorted_probs  # mass of the tokens ranked above
    keep_sorted = before < top_p
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    cut = np.where(keep, probs, 0.0)
    return cut / cut.sum(axis=-1, keepdims=True)


def greedy_accept(target_logits: np.ndarray, drafts: Sequence[int]) -> Verdict:
    """target_logits[i] predicts the token after drafts[:i]; k drafts need k + 1 rows."""
    choices = np.argmax(target_logits, axis=-1)
    for i, token in enumerate(drafts):
        if int(choices[i]) != token:
            return Verdict(i, int(choices[i]))
    return Verdict(len(drafts), int(choices[len(drafts)]))


def sampled_accept(
    p_rows: np.ndarray, q_rows: np.ndarray, drafts: Sequence[int], rng: np.random.Generator
) -> Verdict:
    """p_rows: the target's distributions (k + 1 rows); q_rows: the draft's (k rows), each drafted
    token sampled from its row of q."""
    for i, token in enumerate(drafts):
        p, q = p_rows[i], q_rows[i]
        if q[token] <= 0.0:
            raise ValueError(f"draft token {token} has probability 0 under the draft's own distribution")
        if rng.random() < min(1.0, p[token] / q[token]):
            continue
        residual = np.maximum(p - q, 0.0)
        total = residual.sum()
        if total <= 0.0:  # p == q: a rejection cannot happen, but rounding may get here
            residual, total = p, p.sum()
        return Verdict(i, sample(residual / total, rng))
    return Verdict(len(drafts), sample(p_rows[len(drafts)], rng))


def sample(probs: np.ndarray, rng: np.random.Generator) -> int:
    """One token from a distribution, by inverse CDF (one uniform draw per token, so seeded runs repeat)."""
    cumulative = np.cumsum(probs)
    index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
    return min(index, len(probs) - 1)
