"""What `edgecloud simulate` and `edgecloud plan` do; cli.py holds only their thin typer signatures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgecloud.cli_errors import print_error
from edgecloud.errors import EdgecloudError
from edgecloud.sim.scenario import load_scenario


def _bar(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def run_mmc_command(
    servers: int,
    arrival_rate: float,
    service_rate: float,
    requests: int,
    seed: int,
    as_json: bool,
    console: Console,
) -> int:
    from edgecloud.sim.mmc import simulate_mmc

    if arrival_rate <= 0 or service_rate <= 0:
        print_error(console, "--arrival-rate and --service-rate must be positive")
        return 2
    if arrival_rate >= servers * service_rate:
        print_error(console, f"unstable queue: arrival rate {arrival_rate:g} >= servers x service rate")
        return 2
    started = time.perf_counter()
    result: dict[str, Any] = simulate_mmc(servers, arrival_rate, service_rate, requests, seed)
    result["wall_s"] = round(time.perf_counter() - started, 3)
    if as_json:
        print(json.dumps(result))
        return 0
    table = Table("figure", "simulated", "Erlang C", title=f"M/M/{servers}, {requests:,} requests")
    table.add_row("mean wait (s)", f"{result['mean_wait']:.5f}", f"{result['erlang_c_mean_wait']:.5f}")
    table.add_row("P(wait)", f"{result['p_wait']:.5f}", f"{result['erlang_c_p_wait']:.5f}")
    console.print(table)
    return 0


def run_simulate_command(
    scenario_path: Path, out: Path | None, requests: int | None, console: Console
) -> int:
    from edgecloud.sim.report import write_report
    from edgecloud.sim.run import simulate

    try:
        scenario = load_scenario(scenario_path)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        return 2
    total = requests or scenario.requests
    with _bar(console) as progress:
        task = progress.add_task(f"simulating {scenario.name}", total=total)
        result = simulate(
            scenario, requests=requests, progress=lambda done: progress.update(task, completed=done)
        )
    _print_summary(result.summary, console)
    if out is not None:
        json_path, html_path = write_report(result, out)
        console.print(f"wrote {json_path} and {html_path}")
    return 0


def _print_summary(summary: dict[str, Any], console: Console) -> None:
    run = summary["run"]
    table = Table(
        "tier", "share", "p50 TTFT", "p95 TTFT", "p99 TTFT", "p50 e2e", "p95 e2e", title=summary["scenario"]
    )
    for name, figures in (("all", summary["all"]), *summary["tiers"].items()):
        ttft, e2e = figures["ttft"], figures["e2e"]
        share = "1" if name == "all" else f"{figures['share']:.1%}"
        table.add_row(
            name,
            share,
            *(_ms(ttft[k]) for k in ("p50_ms", "p95_ms", "p99_ms")),
            _ms(e2e["p50_ms"]),
            _ms(e2e["p95_ms"]),
        )
    console.print(table)
    slo, cloud, cost = summary["slo"], summary["cloud"], summary["cost"]
    console.print(
        f"TTFT <= {slo['ttft_ms']:g} ms: {slo['ttft_attainment']:.1%}; failed {summary['failed']:,}; "
        f"escalated {summary['escalated']:,}; cloud busy {cloud['utilisation']:.1%} "
        f"(batch occupancy {cloud['batch_occupancy']:.1%}), "
        f"queue wait p95 {_ms(cloud['queue_wait']['p95_ms'])}, 429s {cloud['rejected_429']:,}; "
        f"cost {cost['total']:.2f}"
    )
    console.print(
        f"{run['requests']:,} requests, {run['events']:,} events in {run['wall_s']:.1f} s "
        f"({run['events_per_s']:,} events/s; chain evaluated {run['chain_evaluations']:,} times)"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def run_plan_command(
    scenario_path: Path,
    slo_text: str,
    minimize: str,
    requests: int,
    max_replicas: int | None,
    out: Path | None,
    console: Console,
) -> int:
    from edgecloud.sim.planner import OBJECTIVES, parse_slo, plan_space, ranked, search

    try:
        scenario = load_scenario(scenario_path)
        slo = parse_slo(slo_text)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        return 2
    if minimize not in OBJECTIVES:
        print_error(console, f"--minimize must be one of {', '.join(OBJECTIVES)}")
        return 2
    requests = min(requests, scenario.requests)
    with _bar(console) as progress:
        task = progress.add_task("planning", total=None)
        space = plan_space(scenario, requests, max_replicas)
        advance: Callable[[Any], None] = lambda _: progress.advance(task)  # noqa: E731
        runs = search(scenario, slo, requests=requests, space=space, on_run=advance)
    best = ranked(runs, minimize)
    _print_plan(best, runs, slo_text, minimize, requests, console)
    if out is not None:
        out.write_text(json.dumps([_row(c) | {"summary": c.summary} for c in best], indent=2) + "\n")
    return 0 if best else 1


def _row(candidate: Any) -> dict[str, Any]:
    s = candidate.summary
    return {
        "replicas": candidate.replicas,
        "policies": list(candidate.policies),
        "cloud_budget": candidate.budget,
        "p95_ttft_ms": s["all"]["ttft"]["p95_ms"],
        "p99_ttft_ms": s["all"]["ttft"]["p99_ms"],
        "ttft_attainment": s["slo"]["ttft_attainment"],
        "cloud_share": s["tiers"]["cloud"]["share"],
        "batch_occupancy": s["cloud"]["batch_occupancy"],
        "cost": s["cost"]["total"],
        "meets": candidate.meets,
    }


def _distinct(candidates: list[Any]) -> list[Any]:
    """One row per distinct outcome: configurations that simulate identically show once (the first,
    i.e. the best ranked or the simplest)."""
    seen: set[tuple[Any, ...]] = set()
    kept = []
    for candidate in candidates:
        row = _row(candidate)
        key = (row["replicas"], row["p95_ttft_ms"], row["cost"], row["cloud_share"])
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


def _print_plan(
    best: list[Any], runs: list[Any], slo: str, minimize: str, requests: int, console: Console
) -> None:
    shown = best if best else sorted(runs, key=lambda c: c.summary["all"]["ttft"]["p95_ms"] or 1e18)
    shown = _distinct(shown)[:6]
    title = f"plan for {slo}, minimizing {minimize} ({len(runs)} runs of {requests:,} requests)"
    table = Table(
        "",
        "replicas",
        "policies",
        "cloud budget",
        "p95 TTFT",
        "attainment",
        "cloud share",
        "batch occ.",
        "cost",
        title=title,
    )
    for rank, candidate in enumerate(shown):
        row = _row(candidate)
        table.add_row(
            "plan" if rank == 0 and best else ("runner-up" if best else "closest"),
            str(row["replicas"]),
            ",".join(row["policies"]),
            "-" if row["cloud_budget"] is None else f"{row['cloud_budget']:.3g}",
            _ms(row["p95_ttft_ms"]),
            f"{row['ttft_attainment']:.1%}",
            f"{row['cloud_share']:.1%}",
            f"{row['batch_occupancy']:.0%}",
            f"{row['cost']:.2f}",
        )
    Console(width=max(console.width, 150), stderr=True).print(table)
    if not best:
        console.print(f"[yellow]no configuration met {slo}[/]; the closest runs are shown")
