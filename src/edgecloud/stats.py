"""The percentile rule every latency figure uses (benchmarks, the dashboard), in one place low in the
import graph so that serving code and benchmarks read the same numbers."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100), the one rule every benchmark figure uses."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]
