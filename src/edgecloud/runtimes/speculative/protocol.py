"""What a drafter hands a verifier and what comes back: the seam between the edge's draft loop and a
target that may sit in the same process or behind a network link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

SparseRow = tuple[tuple[int, ...], tuple[float, ...]]  # token ids and the draft's probabilities


@dataclass(frozen=True)
class Draft:
    """k proposed tokens; `q` holds the distribution each was sampled from (None when greedy)."""

    tokens: tuple[int, ...]
    q: tuple[SparseRow, ...] | None = None


@dataclass(frozen=True)
class VerifyRequest:
    session: str
    context: tuple[int, ...]  # every token so far: prompt plus accepted output
    draft: Draft
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None  # seeds this round's acceptance draws
    logprobs: bool = False
    top_logprobs: int = 0


@dataclass(frozen=True)
class Verification:
    """The drafted tokens the target kept, then its own next token: `tokens` has accepted + 1 entries."""

    accepted: int
    tokens: tuple[int, ...]
    logprobs: tuple[tuple[float, tuple[tuple[int, float], ...]], ...] = ()
    prefilled: int = 0  # context tokens the target had to evaluate (not cached) this round


class Verifier(Protocol):
    """The target side of one round; raises Unavailable when it cannot be reached."""

    def verify(self, request: VerifyRequest) -> Verification: ...


def dense(rows: tuple[SparseRow, ...], n_vocab: int) -> np.ndarray:
    out = np.zeros((len(rows), n_vocab), dtype=np.float64)
    for i, (ids, probs) in enumerate(rows):
        out[i, list(ids)] = probs
    return out
