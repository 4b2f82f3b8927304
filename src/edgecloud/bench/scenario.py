"""`edgecloud bench scenario hybrid`: edge-only, cloud-only and the gateway's hybrid placement on the
same workload, side by side in one run, with the cloud behind an emulated link.

Phases, all in one run so the machine's noise falls on every placement alike:
1. warm-up: one request of each kind per placement (weights paged in, the gateway's EWMAs seeded);
2. main: at the given RTT, per concurrency level, the workload in rounds; each round runs on every
   placement in turn, the order rotating from round to round;
3. sweep: a few requests per RTT at concurrency 1, placements alternating per request.
Then DIR/report.json and DIR/report.html (bench.scenario_report)."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgecloud.bench.report import cell_text, write_report
from edgecloud.bench.scenario_analysis import PLACEMENTS
from edgecloud.bench.scenario_client import Answer, run_items
from edgecloud.bench.scenario_report import ScenarioResults, build_report
from edgecloud.bench.scenario_stack import SETTLE_S, Stack, StackConfig, start_stack
from edgecloud.bench.scenario_workload import DEFAULT_CYCLE, Item, body_for, build_workload
from edgecloud.serving.launcher import ServiceProcess


@dataclass(frozen=True)
class ScenarioConfig:
    stack: StackConfig = field(default_factory=StackConfig)
    requests: int = 32  # per placement and concurrency level
    concurrency: tuple[int, ...] = (1, 4)
    max_tokens: int = 16
    sweep_rtts_s: tuple[float, ...] = (0.0, 0.04, 0.08, 0.16)
    sweep_requests: int = 4  # per placement and RTT
    out: Path = Path("bench-results/hybrid")
    timeout_s: float = 120.0
    warm_up_requests: int = 4  # per placement: the first mix of dialogue, private and mining
    cycle: tuple[str, ...] = DEFAULT_CYCLE  # the workload's kinds, repeated (scenario_workload.parse_mix)


@dataclass(frozen=True)
class Target:
    placement: str
    url: str
    model: str
    tier: str
    gateway: bool


def targets(stack: Stack, config: ScenarioConfig) -> list[Target]:
    chat = "/v1/chat/completions"
    return [
        Target("edge-only", stack.edge_url + chat, config.stack.edge_model, "edge", False),
        Target("cloud-only", stack.cloud_url + chat, config.stack.cloud_model, "cloud", False),
        Target("hybrid", stack.gateway_url + chat, "auto", "", True),
    ]


async def _run(
    target: Target,
    items: Sequence[Item],
    config: ScenarioConfig,
    concurrency: int,
    rtt_s: float,
    advance: Callable[[], None],
) -> tuple[list[Answer], float]:
    bodies = [body_for(item, target.model, config.max_tokens, gateway=target.gateway) for item in items]
    return await run_items(
        target.url,
        items,
        bodies,
        placement=target.placement,
        tier=target.tier,
        concurrency=concurrency,
        rtt_s=rtt_s,
        timeout=config.timeout_s,
        on_done=advance,
    )


def round_size(requests: int, concurrency: int) -> int:
    """Requests per round: each placement runs one round in turn, from idle, so the machine's drift
    falls on all of them alike (the simulator's bench fit replays rounds of the same size)."""
    return min(requests, max(4 * concurrency, 8))


async def main_phase(
    chosen: Sequence[Target], config: ScenarioConfig, advance: Callable[[], None]
) -> tuple[list[Answer], dict[tuple[str, int], float]]:
    items = build_workload(config.requests, config.cycle)
    answers: list[Answer] = []
    walls: dict[tuple[str, int], float] = defaultdict(float)
    rtt = config.stack.rtt_s
    for concurrency in config.concurrency:
        size = round_size(len(items), concurrency)
        for number, start in enumerate(range(0, len(items), size)):
            shift = number % len(chosen)
            for target in [*chosen[shift:], *chosen[:shift]]:
                await asyncio.sleep(SETTLE_S)  # every round from idle, as the gateway sees it too
                got, wall = await _run(target, items[start : start + size], config, concurrency, rtt, advance)
                answers += got
                walls[(target.placement, concurrency)] += wall
    return answers, dict(walls)


async def sweep_phase(
    chosen: Sequence[Target], stack: Stack, config: ScenarioConfig, advance: Callable[[], None]
) -> list[Answer]:
    items = build_workload(config.sweep_requests, config.cycle)
    answers: list[Answer] = []
    for rtt in config.sweep_rtts_s:
        stack.link.set_rtt(rtt)
        await asyncio.sleep(1.5)  # the gateway's probe (every 0.5 s) sees the new link
        for number, item in enumerate(items):
            shift = number % len(chosen)
            for target in [*chosen[shift:], *chosen[:shift]]:
                got, _ = await _run(target, [item], config, 1, rtt, advance)
                answers += got
    stack.link.set_rtt(config.stack.rtt_s)
    return answers


async def warm_up(chosen: Sequence[Target], config: ScenarioConfig) -> None:
    items = build_workload(config.warm_up_requests)  # 4: dialogue, private, dialogue, mining
    for target in chosen:
        await _run(target, items, config, 1, config.stack.rtt_s, lambda: None)


def run_scenario(
    config: ScenarioConfig, console: Console, on_stack: Callable[[Stack], None] | None = None
) -> ScenarioResults:
    """Starts what it needs, measures, stops everything it started; returns the raw results."""
    with ExitStack() as stack_of_processes:
        stack = start_stack(config.stack, stack_of_processes, _waiter(console))
        if on_stack is not None:
            on_stack(stack)
        chosen = targets(stack, config)
        main_total = len(chosen) * config.requests * len(config.concurrency)
        sweep_total = len(chosen) * config.sweep_requests * len(config.sweep_rtts_s)
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task("hybrid scenario", total=main_total + sweep_total)
            advance = lambda: bar.advance(task)  # noqa: E731
            bar.update(task, description="warming up")
            console.print("warming up")
            asyncio.run(warm_up(chosen, config))
            bar.update(task, description=f"main phase, RTT {config.stack.rtt_s * 1000:.0f} ms")
            console.print(f"main phase, RTT {config.stack.rtt_s * 1000:.0f} ms")
            answers, walls = asyncio.run(main_phase(chosen, config, advance))
            bar.update(task, description="RTT sweep")
            console.print("RTT sweep")
            sweep = asyncio.run(sweep_phase(chosen, stack, config, advance))
        prices = {
            name: (tier.price.input_per_1k, tier.price.output_per_1k)
            for name, tier in stack.topology.tiers.items()
        }
    settings = asdict(config)
    settings["stack"]["workdir"] = str(config.stack.workdir)
    settings["out"] = str(config.out)
    scores = router_scores(build_workload(config.requests, config.cycle), config.stack)
    return ScenarioResults(settings, config.stack.rtt_s, answers, walls, sweep, prices, scores)


def router_scores(items: Sequence[Item], stack: StackConfig) -> dict[int, float]:
    """The score the gateway's router policy gives each labeled item (the same policy, bound to the
    pair), for the report's quality/cloud-share curve; empty when no router ships for the pair."""
    from edgecloud.gateway.policies.router import RouterPolicy

    policy = RouterPolicy()
    policy.bind(stack.edge_model, stack.cloud_model)
    if policy.router is None:
        return {}
    return {item.index: policy.score(item.prompt) for item in items if item.labeled is not None}


def _waiter(console: Console) -> Callable[[str, ServiceProcess], None]:
    def wait(what: str, process: ServiceProcess) -> None:
        with console.status(f"starting {what} ..."):
            process.wait_ready(timeout=300)

    return wait


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds the ExitStack: every started process is stopped


def run_hybrid_command(config: ScenarioConfig, console: Console) -> int:
    started = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        results = run_scenario(config, console)
    finally:
        signal.signal(signal.SIGTERM, previous)
    report = build_report(results)
    json_path, html_path = write_report(report, config.out)
    summary = Table("figure", "value", title=f"hybrid scenario ({time.perf_counter() - started:.0f} s)")
    for key, value in report.headline.items():
        summary.add_row(key, cell_text(value))
    Console(width=max(console.width, 110)).print(summary)
    console.print(f"report: {html_path}\nresults: {json_path}")
    failed = sum(not a.ok for a in results.answers)
    if failed:
        console.print(f"[yellow]warning:[/] {failed} requests failed; see the report's latency table")
    return 0


__all__ = ["PLACEMENTS", "ScenarioConfig", "StackConfig", "run_hybrid_command", "run_scenario"]
