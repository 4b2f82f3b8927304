"""The hybrid scenario's figures from its raw answers, as pure functions (the report and the tests
use them on recorded or synthetic answers alike): latency percentiles and throughput per placement
and concurrency, the tier split per deciding policy, cost per 1k requests from the topology's prices,
and agreement with cloud-only answers."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgecloud.bench.load import percentiles
from edgecloud.bench.scenario_client import Answer
from edgecloud.bench.scenario_workload import exact_match, token_f1

PLACEMENTS = ("edge-only", "cloud-only", "hybrid")
Prices = Mapping[str, tuple[float, float]]  # tier -> (input, output) per 1k tokens


def by_placement(answers: Iterable[Answer]) -> dict[str, list[Answer]]:
    grouped: dict[str, list[Answer]] = {p: [] for p in PLACEMENTS}
    for answer in answers:
        grouped.setdefault(answer.placement, []).append(answer)
    return grouped


def level_summary(answers: Sequence[Answer], wall_s: float) -> dict[str, Any]:
    good = [a for a in answers if a.ok]
    return {
        "requests": len(answers),
        "succeeded": len(good),
        "wall_s": wall_s,
        "requests_per_s": len(answers) / wall_s if wall_s else 0.0,
        "output_tokens_per_s": sum(a.completion_tokens for a in good) / wall_s if wall_s else 0.0,
        "ttft_s": percentiles([a.ttft_s for a in good if a.ttft_s > 0]),
        "e2e_s": percentiles([a.e2e_s for a in good]),
        "errors": dict(Counter(a.error for a in answers if not a.ok)),
    }


def levels(answers: Sequence[Answer], walls: Mapping[tuple[str, int], float]) -> dict[str, dict[int, Any]]:
    """placement -> concurrency -> summary; `walls` sums each placement's round wall times per level."""
    out: dict[str, dict[int, Any]] = defaultdict(dict)
    order = {placement: rank for rank, placement in enumerate(PLACEMENTS)}
    for (placement, concurrency), wall in sorted(
        walls.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0])
    ):
        chosen = [a for a in answers if a.placement == placement and a.concurrency == concurrency]
        out[placement][concurrency] = level_summary(chosen, wall)
    return dict(out)


def ttft_ratio(summary: Mapping[str, Mapping[int, Any]], concurrency: int, q: str = "p95") -> float | None:
    """Hybrid's TTFT percentile over cloud-only's at one concurrency (the goal: <= 0.5)."""
    try:
        hybrid = summary["hybrid"][concurrency]["ttft_s"][q]
        cloud = summary["cloud-only"][concurrency]["ttft_s"][q]
    except KeyError:
        return None
    return hybrid / cloud if cloud else None


def tier_split(answers: Iterable[Answer]) -> dict[str, dict[str, int]]:
    """Row label -> tier -> requests: one row per placement, and per deciding policy for the gateway."""
    split: dict[str, Counter[str]] = defaultdict(Counter)
    for a in answers:
        if not a.ok:
            continue
        split[a.placement][a.tier] += 1
        if a.placement == "hybrid":
            split[f"hybrid: {a.policy or 'unknown'}"][a.tier] += 1
    return {label: dict(counts) for label, counts in split.items()}


def cloud_share(answers: Iterable[Answer]) -> float:
    hybrid = [a for a in answers if a.placement == "hybrid" and a.ok]
    return sum(a.tier == "cloud" for a in hybrid) / len(hybrid) if hybrid else 0.0


def cost(answer: Answer, prices: Prices) -> float:
    price_in, price_out = prices.get(answer.tier, (0.0, 0.0))
    return answer.prompt_tokens / 1000 * price_in + answer.completion_tokens / 1000 * price_out


def cost_per_1k(answers: Iterable[Answer], prices: Prices) -> dict[str, float]:
    """Placement -> price units per 1000 requests, each answer priced on the tier it ran on."""
    out = {}
    for placement, chosen in by_placement(answers).items():
        good = [a for a in chosen if a.ok]
        if good:
            out[placement] = 1000 * sum(cost(a, prices) for a in good) / len(good)
    return out


def agreement(answers: Sequence[Answer]) -> dict[str, dict[str, Any]]:
    """Per placement (and kind): exact-match rate and mean token F1 against cloud-only's answer to the
    same item at the same concurrency. Cloud-only agrees with itself by definition, so it is left out."""
    reference = {(a.concurrency, a.index): a.text for a in answers if a.placement == "cloud-only" and a.ok}
    pairs: dict[str, list[tuple[bool, float]]] = defaultdict(list)
    for a in answers:
        ref = reference.get((a.concurrency, a.index))
        if a.placement == "cloud-only" or not a.ok or ref is None:
            continue
        scored = (exact_match(a.text, ref), token_f1(a.text, ref))
        pairs[a.placement].append(scored)
        pairs[f"{a.placement}/{a.kind}"].append(scored)
    return {
        key: {
            "pairs": len(values),
            "exact_match": statistics.fmean(float(e) for e, _ in values),
            "token_f1": statistics.fmean(f for _, f in values),
        }
        for key, values in sorted(pairs.items())
    }


def sweep_points(answers: Iterable[Answer], q: str) -> dict[str, list[tuple[float, float]]]:
    """Placement -> (RTT ms, TTFT percentile ms) points."""
    grouped: dict[tuple[str, float], list[float]] = defaultdict(list)
    for a in answers:
        if a.ok and a.ttft_s > 0:
            grouped[(a.placement, a.rtt_s)].append(a.ttft_s)
    points: dict[str, list[tuple[float, float]]] = {p: [] for p in PLACEMENTS}
    for (placement, rtt), values in sorted(grouped.items()):
        points.setdefault(placement, []).append((rtt * 1000, percentiles(values)[q] * 1000))
    return points
