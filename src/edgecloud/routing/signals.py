"""The edge's own confidence in an answer it generated, as the cascade reads it online and calibration
reads it offline (one definition, so the threshold calibrated offline means the same thing live)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def confidence(logprobs: Sequence[float], score: str = "mean") -> float:
    """Mean or minimum token log-probability; -inf for an empty answer (nothing to trust)."""
    if not logprobs:
        return -math.inf
    return min(logprobs) if score == "min" else sum(logprobs) / len(logprobs)
