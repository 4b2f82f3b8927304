"""The demo's last screen: edge-only, cloud-only and hybrid side by side on the same requests (quality on
held-out labeled items, TTFT, cloud calls, cost), then whether hybrid did what it is for: near-cloud
quality with far fewer cloud calls, and answers sooner than cloud-only. Figures, not adjectives; a goal
that was missed is said plainly."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from edgecloud.bench.load import percentiles
from edgecloud.bench.scenario_analysis import PLACEMENTS, by_placement, cost_per_1k, paired_quality, quality
from edgecloud.bench.scenario_client import Answer
from edgecloud.bench.scenario_report import ScenarioResults

QUALITY_GOAL = 0.95  # of cloud-only's quality
CLOUD_CALLS_GOAL = 0.5  # of the requests


def _ttft(answers: Sequence[Answer]) -> dict[str, float]:
    return percentiles([a.ttft_s for a in answers if a.ok and a.ttft_s > 0])


def story_table(results: ScenarioResults) -> Table:
    measured = quality(results.answers)
    costs = cost_per_1k(results.answers, results.prices)
    table = Table(
        "placement",
        "quality (gold)",
        "95% CI",
        "TTFT p50",
        "TTFT p95",
        "cloud calls",
        "cost / 1k requests",
        title=f"the same {len(results.answers) // 3} requests on each placement, "
        f"cloud {results.rtt_s * 1000:.0f} ms away",
    )
    for placement, answers in by_placement(results.answers).items():
        if placement not in PLACEMENTS or not answers:
            continue
        q = measured.get(placement, {})
        ttft = _ttft(answers)
        calls = sum(a.ok and a.tier == "cloud" for a in answers) / len(answers)
        table.add_row(
            placement,
            f"{q['quality']:.1%}" if q else "–",
            f"{q['ci_low']:.1%}–{q['ci_high']:.1%}" if q else "–",
            f"{ttft.get('p50', 0) * 1000:.0f} ms",
            f"{ttft.get('p95', 0) * 1000:.0f} ms",
            f"{calls:.0%}",
            f"{costs.get(placement, 0.0):.4f}",
        )
    return table


def verdicts(results: ScenarioResults) -> list[str]:
    measured = quality(results.answers)
    grouped = by_placement(results.answers)
    if not {"hybrid", "cloud-only"} <= measured.keys():
        return ["no labeled items were answered: quality not measured"]
    hybrid, cloud = measured["hybrid"], measured["cloud-only"]
    share = hybrid["quality"] / cloud["quality"] if cloud["quality"] else float("nan")
    calls = sum(a.ok and a.tier == "cloud" for a in grouped["hybrid"]) / max(len(grouped["hybrid"]), 1)
    p95 = {p: _ttft(grouped[p]).get("p95", float("nan")) for p in ("hybrid", "cloud-only")}
    edge = measured.get("edge-only", {}).get("quality", float("nan"))
    difference = paired_quality(results.answers)
    paired = (
        f"; item by item {difference.difference:+.3f} (95% CI {difference.ci_low:+.3f} to "
        f"{difference.ci_high:+.3f})"
        if difference is not None
        else ""
    )
    return [
        _line(share >= QUALITY_GOAL, f"hybrid quality is {share:.1%} of cloud-only's (goal >= 95%){paired}"),
        _line(calls <= CLOUD_CALLS_GOAL, f"hybrid sent {calls:.0%} of requests to the cloud (goal <= 50%)"),
        _line(
            p95["hybrid"] < p95["cloud-only"],
            f"hybrid p95 TTFT {p95['hybrid'] * 1000:.0f} ms vs cloud-only {p95['cloud-only'] * 1000:.0f} ms "
            f"({p95['hybrid'] / p95['cloud-only']:.2f}x; goal < 1)",
        ),
        _line(hybrid["quality"] > edge, f"hybrid quality {hybrid['quality']:.1%} vs edge-only {edge:.1%}"),
    ]


def _line(met: bool, text: str) -> str:
    return f"[green]met[/]     {text}" if met else f"[yellow]missed[/]  {text}"


def print_story(results: ScenarioResults, console: Console) -> None:
    console.print()
    console.print(story_table(results))
    for line in verdicts(results):
        console.print(line)


def router_line(edge_model: str, cloud_model: str) -> str:
    """The shipped router's held-out figures: a few dozen live items make a noisy quality figure, so the
    screen also says what the router did on hundreds of items it never trained on."""
    from edgecloud.routing.router.artifact import load, shipped_for

    folder = shipped_for(edge_model, cloud_model)
    if folder is None:
        return f"no router ships for edge {edge_model} and cloud {cloud_model}: other policies placed chat"
    test = load(folder).meta.get("test", {})
    point = test.get("operating_point", {})
    if not point:
        return f"router: {folder}"
    return (
        f"the router on {test['items']} held-out eval items (`edgecloud router eval`): "
        f"APGR {test['apgr']:.2f} (random 0.50); at its threshold {point['cloud_share']:.0%} of them go to "
        f"the cloud and reach "
        f"{point['of_cloud_quality']:.1%} of cloud-only quality (edge alone "
        f"{point['edge_quality'] / point['cloud_quality']:.0%})"
    )
