"""The hybrid scenario's report: headline ratios, then one section per question a reader asks (how
fast, how fast as the link gets longer, how much load, where requests went, what it costs, how the
answers compare), each a table and a plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from edgecloud.bench import plots
from edgecloud.bench.report import Cell, Report, Section, table
from edgecloud.bench.scenario_analysis import (
    PLACEMENTS,
    Prices,
    agreement,
    by_placement,
    cloud_share,
    cost_per_1k,
    levels,
    paired_quality,
    quality,
    routing_curves,
    sweep_points,
    tier_split,
    ttft_ratio,
)
from edgecloud.bench.scenario_client import Answer


@dataclass(frozen=True)
class ScenarioResults:
    """Everything one run measured, and the settings it ran with."""

    settings: Mapping[str, Any]
    rtt_s: float
    answers: Sequence[Answer]  # the main phase, at rtt_s, every concurrency level
    walls: Mapping[tuple[str, int], float]  # (placement, concurrency) -> summed round wall time
    sweep: Sequence[Answer]  # the RTT sweep, concurrency 1
    prices: Prices
    router_scores: Mapping[int, float] = field(default_factory=dict)  # labeled item -> router's score


def _ms(summary: Mapping[str, Any], key: str, q: str) -> float | None:
    value = summary.get(key, {}).get(q)
    return None if value is None else value * 1000


def headline(results: ScenarioResults, summary: Mapping[str, Mapping[int, Any]]) -> dict[str, Cell]:
    rtt = f"{results.rtt_s * 1000:.0f} ms RTT"
    figures: dict[str, Cell] = {}
    for concurrency in sorted(summary.get("hybrid", {})):
        for q in ("p95", "p50"):
            figures[f"{q} TTFT hybrid / cloud-only, {rtt}, concurrency {concurrency}"] = ttft_ratio(
                summary, concurrency, q
            )
    figures["share of hybrid requests sent to the cloud"] = cloud_share(results.answers)
    measured = quality(results.answers)
    for placement in PLACEMENTS:
        if placement in measured:
            figures[f"quality on labeled items (gold), {placement}"] = measured[placement]["quality"]
    if "hybrid" in measured and measured.get("cloud-only", {}).get("quality"):
        figures["hybrid quality / cloud-only quality"] = (
            measured["hybrid"]["quality"] / measured["cloud-only"]["quality"]
        )
        figures["share of labeled hybrid requests sent to the cloud"] = measured["hybrid"]["cloud_share"]
    agree = agreement(results.answers)
    for placement in ("hybrid", "edge-only"):
        if placement in agree:
            figures[f"{placement}: exact match with cloud-only"] = agree[placement]["exact_match"]
            figures[f"{placement}: token F1 with cloud-only"] = agree[placement]["token_f1"]
    for placement, value in cost_per_1k(results.answers, results.prices).items():
        figures[f"cost per 1k requests, {placement}"] = value
    return figures


def latency_section(results: ScenarioResults, summary: Mapping[str, Mapping[int, Any]]) -> Section:
    rows = []
    for placement, per_level in summary.items():
        for concurrency, s in sorted(per_level.items()):
            rows.append(
                (
                    placement,
                    concurrency,
                    f"{s['succeeded']}/{s['requests']}",
                    _ms(s, "ttft_s", "p50"),
                    _ms(s, "ttft_s", "p95"),
                    _ms(s, "e2e_s", "p50"),
                    _ms(s, "e2e_s", "p95"),
                    ", ".join(f"{k}: {v}" for k, v in s["errors"].items()),
                )
            )
    columns = ("placement", "concurrency", "ok", "TTFT p50 ms", "TTFT p95 ms", "e2e p50 ms", "e2e p95 ms")
    grouped = by_placement(results.answers)
    ttft = {p: [a.ttft_s for a in grouped[p] if a.ok and a.ttft_s > 0] for p in PLACEMENTS}
    e2e = {p: [a.e2e_s for a in grouped[p] if a.ok] for p in PLACEMENTS}
    return Section(
        f"Latency per placement at {results.rtt_s * 1000:.0f} ms RTT",
        "The same workload against the edge node, the cloud node (through the link emulator) and the "
        "gateway, interleaved round by round. CDFs pool every concurrency level.",
        (table("", (*columns, "errors"), rows),),
        (
            plots.cdf(ttft, "Time to first token", "ms", scale=1000),
            plots.cdf(e2e, "End-to-end latency", "ms", scale=1000),
        ),
    )


def sweep_section(results: ScenarioResults) -> Section:
    p50, p95 = sweep_points(results.sweep, "p50"), sweep_points(results.sweep, "p95")
    rows = [
        (placement, rtt, value, dict(p95[placement]).get(rtt))
        for placement, points in p50.items()
        for rtt, value in points
    ]
    return Section(
        "Time to first token vs RTT",
        "A short sweep of the emulated link's RTT at concurrency 1 (the same mix of prompts at each RTT).",
        (table("", ("placement", "RTT ms", "TTFT p50 ms", "TTFT p95 ms"), rows),),
        (
            plots.lines(p50, "TTFT p50 vs RTT", "RTT (ms)", "TTFT p50 (ms)"),
            plots.lines(p95, "TTFT p95 vs RTT", "RTT (ms)", "TTFT p95 (ms)"),
        ),
    )


def throughput_section(summary: Mapping[str, Mapping[int, Any]]) -> Section:
    rps = {p: [(float(c), s["requests_per_s"]) for c, s in v.items()] for p, v in summary.items()}
    tps = {p: [(float(c), s["output_tokens_per_s"]) for c, s in v.items()] for p, v in summary.items()}
    rows = [
        (p, c, s["requests_per_s"], s["output_tokens_per_s"])
        for p, per_level in summary.items()
        for c, s in sorted(per_level.items())
    ]
    return Section(
        "Throughput vs concurrency",
        "Closed loop: each of C workers sends its next request when its last one is answered.",
        (table("", ("placement", "concurrency", "requests/s", "output tokens/s"), rows),),
        (
            plots.lines(rps, "Requests per second", "concurrency", "requests/s"),
            plots.lines(tps, "Output tokens per second", "concurrency", "tokens/s"),
        ),
    )


def split_section(results: ScenarioResults) -> Section:
    split = tier_split(results.answers)
    labels = sorted(split, key=lambda label: (not label.startswith(PLACEMENTS), label))
    tiers = sorted({tier for counts in split.values() for tier in counts})
    rows: list[tuple[Cell, ...]] = [(label, *(split[label].get(t, 0) for t in tiers)) for label in labels]
    series = {t: [float(split[label].get(t, 0)) for label in labels] for t in tiers}
    return Section(
        "Tier split per policy",
        "Where requests ran: per placement, and for the gateway per policy that decided "
        "(privacy keeps PII on the edge, task sends mining to the cloud, latency picks the faster tier).",
        (table("", ("placement / policy", *tiers), rows),),
        (plots.bars(labels, series, "Requests per tier", "requests", stacked=True),),
    )


def cost_section(results: ScenarioResults) -> Section:
    costs = cost_per_1k(results.answers, results.prices)
    prices = [(tier, p_in, p_out) for tier, (p_in, p_out) in sorted(results.prices.items())]
    return Section(
        "Cost per 1k requests",
        "Each answer priced with the topology's per-token prices of the tier it ran on (prompt and "
        "completion tokens as the node reported them).",
        (
            table("prices per 1k tokens", ("tier", "input", "output"), prices),
            table("", ("placement", "cost per 1k requests"), list(costs.items())),
        ),
        (plots.bars(list(costs), {"cost": list(costs.values())}, "Cost per 1k requests", "price units"),),
    )


def quality_section(results: ScenarioResults) -> Section | None:
    measured = quality(results.answers)
    if not measured:
        return None
    rows = [
        (key, v["items"], v["quality"], f"{v['ci_low']:.3f}-{v['ci_high']:.3f}", v["cloud_share"])
        for key, v in measured.items()
    ]
    overall = [p for p in PLACEMENTS if p in measured]
    difference = paired_quality(results.answers)
    paired = (
        f" Hybrid minus cloud-only, item by item: {difference.difference:+.3f} (95% CI "
        f"{difference.ci_low:+.3f} to {difference.ci_high:+.3f}, p={difference.p_value:.2g}, "
        f"n={difference.n})."
        if difference is not None
        else ""
    )
    return Section(
        "Quality against gold answers",
        "Held-out eval items (never seen by the router's training), asked as `edgecloud eval` asks them "
        "and scored against their gold answer: the right option, an exact answer, or chrF/100 for a "
        "translation. A failed request scores 0." + paired,
        (table("", ("placement / suite", "items", "quality", "95% CI", "answered by the cloud"), rows),),
        (plots.bars(overall, {"quality": [measured[k]["quality"] for k in overall]}, "Quality", "score"),),
    )


def routing_section(results: ScenarioResults) -> Section | None:
    """The quality/cloud-share curve of this run's labeled items, with the hybrid's measured point."""
    curves = routing_curves(results.answers, results.router_scores)
    if not curves:
        return None
    series = {c.name: [(s * 100, q) for s, q in zip(c.shares, c.quality, strict=True)] for c in curves}
    measured = quality(results.answers).get("hybrid")
    if measured is not None:
        series["hybrid (measured)"] = [(measured["cloud_share"] * 100, measured["quality"])]
    rows = [(c.name, c.apgr(), c.cpt(0.5), c.cpt(0.8), c.quality_at(0.5)) for c in curves]
    return Section(
        "Quality against cloud share",
        "Edge-only and cloud-only answers to the same labeled items, combined offline: sending the items "
        "a ranking puts first to the cloud, share by share. APGR is the area under the share of the "
        "edge-cloud gap recovered (random routing 0.5); CPT(x) the cloud share that recovers x of it. "
        "The measured hybrid point is the gateway's live placement of the same items.",
        (table("", ("ranking", "APGR", "CPT(50%)", "CPT(80%)", "quality at 50% cloud"), rows),),
        (plots.lines(series, "Quality vs share of cloud calls", "cloud calls (%)", "quality"),),
    )


def agreement_section(results: ScenarioResults) -> Section:
    agree = agreement(results.answers)
    rows = [(key, v["pairs"], v["exact_match"], v["token_f1"]) for key, v in agree.items()]
    overall = [key for key in agree if "/" not in key]
    return Section(
        "Answer agreement with cloud-only (quality proxy)",
        "Greedy answers to the same prompt compared with the cloud-only answer: exact match of the "
        "words, and bag-of-words F1. A proxy for quality, not a measure of correctness.",
        (table("", ("placement / kind", "pairs", "exact match", "token F1"), rows),),
        (
            plots.bars(
                overall,
                {
                    "exact match": [agree[k]["exact_match"] for k in overall],
                    "token F1": [agree[k]["token_f1"] for k in overall],
                },
                "Agreement with cloud-only",
                "share / F1",
            ),
        ),
    )


def build_report(results: ScenarioResults) -> Report:
    summary = levels(results.answers, results.walls)
    optional = (quality_section(results), routing_section(results))
    sections = (
        latency_section(results, summary),
        sweep_section(results),
        throughput_section(summary),
        split_section(results),
        cost_section(results),
        *(section for section in optional if section is not None),
        agreement_section(results),
    )
    data = {
        "settings": dict(results.settings),
        "rtt_s": results.rtt_s,
        "prices": {tier: list(p) for tier, p in results.prices.items()},
        "levels": summary,
        "quality": quality(results.answers),
        "agreement": agreement(results.answers),
        "tier_split": tier_split(results.answers),
        "router_scores": dict(results.router_scores),
        "answers": [asdict(a) for a in results.answers],
        "sweep": [asdict(a) for a in results.sweep],
    }
    return Report("edgecloud hybrid scenario", "scenario-hybrid", headline(results, summary), sections, data)


def results_from_json(saved: Mapping[str, Any]) -> ScenarioResults:
    """A run read back from its report.json (the report can be rebuilt without measuring again)."""
    data = saved["data"]
    walls = {
        (placement, int(concurrency)): summary["wall_s"]
        for placement, per_level in data["levels"].items()
        for concurrency, summary in per_level.items()
    }
    prices = {tier: (float(p[0]), float(p[1])) for tier, p in data["prices"].items()}
    return ScenarioResults(
        data["settings"],
        data["rtt_s"],
        [Answer(**a) for a in data["answers"]],
        walls,
        [Answer(**a) for a in data["sweep"]],
        prices,
        {int(k): float(v) for k, v in data.get("router_scores", {}).items()},
    )
