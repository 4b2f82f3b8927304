"""Log-probabilities from one row of raw logits: what OpenAI's `logprobs` report, computed in numpy from
the row an engine already holds (llama.cpp's own path needs logits at every position, ~5x slower)."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np


def log_softmax_pick(
    logits: np.ndarray, token: int, top_n: int
) -> tuple[float, tuple[tuple[int, float], ...]]:
    """log-softmax of one row of logits: the chosen token's logprob and the top_n alternatives."""
    shifted = logits - logits.max()
    log_norm = float(np.log(np.exp(shifted).sum()))
    logprob = float(shifted[token]) - log_norm
    if top_n <= 0:
        return logprob, ()
    best = np.argpartition(-shifted, top_n)[:top_n]
    best = best[np.argsort(-shifted[best])]
    return logprob, tuple((int(i), float(shifted[i]) - log_norm) for i in best)


def logits_row(ctx: Any, index: int, n_vocab: int) -> np.ndarray:
    """A view of one row of a llama.cpp context's logits (valid until its next decode: copy to keep)."""
    pointer = ctx.get_logits_ith(index)
    return np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(n_vocab,))
