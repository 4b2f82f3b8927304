"""The draft model's side of a round: k tokens, one at a time, from its own cached sequence.

Sampled drafts come from the draft's distribution cut to its `Q_TOP` most likely tokens (renormalised):
the rejection rule is exact for whatever q the draft samples from, and a cut q travels across a link as
a few hundred bytes instead of the whole vocabulary."""

from __future__ import annotations

import numpy as np

from edgecloud.runtimes.speculative.protocol import Draft, SparseRow
from edgecloud.runtimes.speculative.rule import probabilities, sample
from edgecloud.runtimes.speculative.sequence import CachedSequence

Q_TOP = 64


class LocalDrafter:
    def __init__(self, sequence: CachedSequence) -> None:
        self.sequence = sequence

    def propose(
        self, context: list[int], k: int, *, temperature: float, top_p: float, rng: np.random.Generator
    ) -> Draft:
        tokens: list[int] = []
        q_rows: list[SparseRow] = []
        room = self.sequence.context_length - len(context) - 1
        for _ in range(max(0, min(k, room))):
            row = self.sequence.forward(context + tokens, 1)[0]
            if temperature <= 0.0:
                tokens.append(int(np.argmax(row)))
                continue
            ids, probs = _cut(probabilities(row, temperature, top_p), Q_TOP)
            tokens.append(int(ids[sample(probs, rng)]))
            q_rows.append((tuple(int(i) for i in ids), tuple(float(p) for p in probs)))
        return Draft(tuple(tokens), tuple(q_rows) if temperature > 0.0 else None)

    def next_token(
        self, context: list[int], *, temperature: float, top_p: float, rng: np.random.Generator
    ) -> tuple[int, np.ndarray]:
        """The draft model decoding alone (the fallback when the target cannot be reached)."""
        row = self.sequence.forward(context, 1)[0]
        if temperature <= 0.0:
            return int(np.argmax(row)), row
        return sample(probabilities(row, temperature, top_p), rng), row


def _cut(probs: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    nonzero = int(np.count_nonzero(probs))
    keep = min(top, nonzero)
    ids = np.argpartition(-probs, keep - 1)[:keep]
    ids = ids[np.argsort(-probs[ids])]
    kept = probs[ids]
    return ids, kept / kept.sum()
