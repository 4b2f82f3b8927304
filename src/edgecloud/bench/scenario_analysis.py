"""The hybrid scenario's figures from its raw answers, as pure functions (the report and the tests
use them on recorded or synthetic answers alike): latency percentiles and throughput per placement
and concurrency, the tier split per deciding policy, cost per 1k requests from the topology's prices,
quality against the labeled items' gold answers (with 95% intervals, and hybrid vs cloud-only paired item
by item), and agreement with cloud-only answers as an extra column."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from edgecloud.bench.load import percentiles
from edgecloud.bench.scenario_client import Answer
from edgecloud.bench.scenario_workload import exact_match, token_f1
from edgecloud.eval.scoring import PairedDifference, paired_difference
from edgecloud.routing.metrics import Curve, curve, oracle_curve, random_curve
from edgecloud.routing.pairs import Pair

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


def _labeled_score(answer: Answer) -> float:
    """A labeled request that failed scores 0: an answer the user never got is not a right one."""
    return answer.score if answer.ok and answer.score is not None else 0.0


def quality(answers: Sequence[Answer]) -> dict[str, dict[str, Any]]:
    """Per placement (and placement/suite): the labeled answers' mean gold score with a 95% bootstrap
    interval, and the share of them answered by the cloud."""
    import numpy as np

    groups: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        if a.kind == "labeled":
            groups[a.placement].append(a)
            groups[f"{a.placement}/{a.suite or 'failed'}"].append(a)
    out = {}
    rng = np.random.default_rng(0)
    for key, chosen in sorted(groups.items()):
        scores = np.array([_labeled_score(a) for a in chosen])
        boot = scores[rng.integers(0, len(scores), size=(2000, len(scores)))].mean(axis=1)
        low, high = np.quantile(boot, [0.025, 0.975])
        out[key] = {
            "items": len(chosen),
            "quality": float(scores.mean()),
            "ci_low": float(low),
            "ci_high": float(high),
            "cloud_share": sum(a.ok and a.tier == "cloud" for a in chosen) / len(chosen),
        }
    return out


def paired_quality(
    answers: Sequence[Answer], a: str = "cloud-only", b: str = "hybrid"
) -> PairedDifference | None:
    """Placement b minus placement a on the same labeled items at the same concurrency."""
    first = {(x.concurrency, x.index): x for x in answers if x.placement == a and x.kind == "labeled"}
    pairs = [
        (_labeled_score(first[(x.concurrency, x.index)]), _labeled_score(x))
        for x in answers
        if x.placement == b and x.kind == "labeled" and (x.concurrency, x.index) in first
    ]
    return paired_difference(pairs) if pairs else None


def labeled_pairs(answers: Sequence[Answer]) -> list[Pair]:
    """Edge-only and cloud-only answers to the same labeled item at the same concurrency, as routing
    pairs (id "concurrency:index"), so the routing curves are drawn from what this run measured."""
    labeled = [a for a in answers if a.kind == "labeled"]
    cloud = {(a.concurrency, a.index): a for a in labeled if a.placement == "cloud-only"}
    return [
        Pair(a.suite, f"{a.concurrency}:{a.index}", "", _labeled_score(a), _labeled_score(cloud[key]))
        for a in labeled
        if a.placement == "edge-only" and (key := (a.concurrency, a.index)) in cloud
    ]


def routing_curves(answers: Sequence[Answer], router_scores: Mapping[int, float]) -> list[Curve]:
    """Quality against cloud share on this run's labeled items: the router's ranking (when its scores
    were recorded), random routing and the oracle."""
    pairs = labeled_pairs(answers)
    if not pairs:
        return []
    found = [random_curve(pairs), oracle_curve(pairs)]
    indexes = [int(p.id.split(":")[1]) for p in pairs]
    if all(i in router_scores for i in indexes):
        found.insert(0, curve("router", pairs, [-router_scores[i] for i in indexes]))
    return found
