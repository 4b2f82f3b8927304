"""What a forward pass over k tokens costs against one, for the target and the draft, measured in this
process; and the model that turns those costs, an acceptance rate and a round trip into a speed-up.

A round drafting k tokens takes k draft steps, one verification (the target over k + 1 tokens) and one
round trip, and emits E = (1 - a^(k+1)) / (1 - a) tokens; the target alone takes one step per token
(streamed: the round trip is paid once per request, not per token)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

SIZES = (1, 2, 3, 4, 6, 8)


@dataclass(frozen=True)
class Costs:
    target_ms: dict[int, float]  # tokens in one forward pass -> median milliseconds
    draft_ms: dict[int, float]

    def line(self) -> tuple[float, float]:
        """The target's verification cost as fixed + slope * extra tokens (least squares)."""
        xs = [k - 1 for k in self.target_ms]
        ys = list(self.target_ms.values())
        mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mean_x) ** 2 for x in xs
        )
        return mean_y - slope * mean_x, slope


def measure(target: Path, draft: Path, *, threads: int = 2, reps: int = 5, context: int = 200) -> Costs:
    return Costs(
        _forward_costs(target, threads, reps, context), _forward_costs(draft, threads, reps, context)
    )


def _forward_costs(path: Path, threads: int, reps: int, context: int) -> dict[int, float]:
    from llama_cpp import Llama

    from edgecloud.runtimes.speculative.sequence import CachedSequence

    llm = Llama(model_path=str(path), n_ctx=1024, n_threads=threads, n_threads_batch=threads, verbose=False)
    sequence = CachedSequence(llm)
    prefix = [1000 + i for i in range(context)]
    sequence.forward(prefix, 1)
    costs: dict[int, float] = {}
    for size in SIZES:
        times = []
        for _ in range(reps):
            sequence.truncate(context)
            started = time.perf_counter()
            sequence.forward(prefix + [5000 + i for i in range(size)], size)
            times.append(time.perf_counter() - started)
        costs[size] = 1000 * statistics.median(times)
    sequence.close()
    llm.close()
    return costs


def expected_tokens(acceptance: float, k: int) -> float:
    a = min(acceptance, 0.999)
    return (1 - a ** (k + 1)) / (1 - a)


def speedup(
    acceptance: float, rtt_ms: float, costs: Costs, *, flat_verify: bool = False
) -> tuple[int, float]:
    """The best draft length k >= 1 and its decode speed-up over the target alone (long answers: per-token
    rates; below 1 where no k pays). `flat_verify`: as if verifying k + 1 tokens cost what one does (a
    memory-bound accelerator)."""
    fixed, slope = costs.line()
    if flat_verify:
        slope = 0.0
    one = costs.target_ms[1]
    draft_step = costs.draft_ms[1]
    gains = {
        k: expected_tokens(acceptance, k) * one / (k * draft_step + rtt_ms + fixed + slope * k)
        for k in range(1, 17)
    }
    best = max(gains, key=lambda k: gains[k])
    return best, gains[best]
