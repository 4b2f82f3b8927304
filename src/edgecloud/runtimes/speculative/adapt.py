"""How many tokens to draft per round, from what rounds have cost so far.

A round drafting k tokens emits E(k) = (1 - a^(k+1)) / (1 - a) tokens on average when each drafted token
is accepted with probability a, and costs k draft steps plus one verification (the target's forward pass
over k + 1 tokens plus, across a link, a round trip). The policy keeps moving averages of the acceptance
rate, the draft step time and the verification time as a line in k (fixed part: round trip and the
target's one-token cost; slope: what each extra verified token adds), and picks the k with the most
tokens per second. A slow link makes the fixed part large, so k grows; a target whose cost grows with
every verified token (a CPU) keeps k small, down to k = 0 (the target decoding alone) when no draft
length pays. At k = 0 every `PROBE_EVERY`-th round still drafts `k_probe` tokens, so a change in the
acceptance rate or the link is noticed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Average:
    value: float
    alpha: float = 0.2
    seen: int = 0

    def add(self, sample: float) -> None:
        self.value = sample if self.seen == 0 else self.value + self.alpha * (sample - self.value)
        self.seen += 1


PROBE_EVERY = 32  # a probe costs the draft's catch-up on every token since the last one


class DraftLength:
    """`fixed` pins k (benchmarks measure acceptance at a known k); otherwise k adapts in 0..k_max."""

    def __init__(self, *, k_max: int = 8, k_start: int = 4, fixed: int | None = None) -> None:
        self.k_max = k_max
        self.fixed = fixed
        self._k = fixed if fixed is not None else k_start
        self._rounds = 0
        # acceptance as a geometric rate: accepted tokens over accepted tokens plus rejections
        self._kept = _Average(2.0)
        self._missed = _Average(1.0)
        self._draft_step = _Average(0.03)
        # verification time ~ fixed + slope * (k + 1), fitted from rounds at different k
        self._points: dict[int, _Average] = {}

    @property
    def acceptance(self) -> float:
        kept, missed = self._kept.value, self._missed.value
        return min(kept / max(kept + missed, 1e-9), 0.98)

    def next(self) -> int:
        self._rounds += 1
        if self._k == 0 and self._rounds % PROBE_EVERY == 0:
            return 2
        return self._k

    def observe(self, *, drafted: int, accepted: int, draft_seconds: float, verify_seconds: float) -> None:
        if drafted > 0:
            self._kept.add(accepted)
            self._missed.add(1.0 if accepted < drafted else 0.0)
            self._draft_step.add(draft_seconds / drafted)
        self._points.setdefault(drafted, _Average(verify_seconds)).add(verify_seconds)
        if self.fixed is None:
            self._k = self._best()

    def expected_tokens(self, k: int) -> float:
        a = self.acceptance
        return (1 - a ** (k + 1)) / (1 - a)

    def _best(self) -> int:
        fixed, slope = self._verify_line()
        best, best_rate = self._k, 0.0
        for k in range(0, self.k_max + 1):
            seconds = k * self._draft_step.value + fixed + slope * (k + 1)
            rate = self.expected_tokens(k) / max(seconds, 1e-6)
            if rate > best_rate:
                best, best_rate = k, rate
        return best

    def _verify_line(self) -> tuple[float, float]:
        """Least squares over the mean verification time seen at each k (one k seen: no slope known yet,
        so assume each verified token costs as much as a draft step)."""
        points = [(k + 1, avg.value) for k, avg in self._points.items()]
        if len(points) < 2:
            x, y = points[0] if points else (1, 0.0)
            slope = self._draft_step.value
            return max(y - slope * x, 0.0), slope
        mean_x = sum(x for x, _ in points) / len(points)
        mean_y = sum(y for _, y in points) / len(points)
        var = sum((x - mean_x) ** 2 for x, _ in points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var
        slope = max(slope, 0.0)
        return max(mean_y - slope * mean_x, 0.0), slope
