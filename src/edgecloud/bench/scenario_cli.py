"""`edgecloud bench scenario ...`: the typer sub-app; option parsing only, the work is in bench.scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgecloud.bench.scenario_workload import DEFAULT_MIX
from edgecloud.catalogue import hybrid_pair
from edgecloud.cli_errors import print_error

scenario_app = typer.Typer(
    help="End-to-end scenarios: placements compared side by side.", no_args_is_help=True
)


def _durations(text: str) -> tuple[float, ...]:
    from edgecloud.bench.netem import parse_duration

    return tuple(
        parse_duration(part if part.strip().rstrip("0123456789.") else f"{part}ms")
        for part in text.split(",")
        if part.strip()
    )


def _ints(text: str) -> tuple[int, ...]:
    values = tuple(int(part) for part in text.split(",") if part.strip())
    if not values or min(values) < 1:
        raise ValueError("give positive integers, e.g. 1,4")
    return values


@scenario_app.command("hybrid")
def hybrid(
    rtt: Annotated[str, typer.Option(help="RTT of the emulated link to the cloud, e.g. 80ms")] = "80ms",
    out: Annotated[
        Path, typer.Option(help="folder for the report, the topology and the decision log")
    ] = Path("bench-results/hybrid"),
    requests: Annotated[int, typer.Option(min=1, help="requests per placement and concurrency level")] = 32,
    concurrency: Annotated[str, typer.Option(help="closed-loop concurrency levels, e.g. 1,4")] = "1,4",
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length (greedy)")] = 16,
    sweep: Annotated[str, typer.Option(help="RTTs for the TTFT-vs-RTT sweep (ms), e.g. 0,40,80,160")] = (
        "0,40,80,160"
    ),
    sweep_requests: Annotated[int, typer.Option(min=1, help="requests per placement and sweep RTT")] = 4,
    edge: Annotated[str | None, typer.Option(help="use this edge node instead of starting one")] = None,
    cloud: Annotated[str | None, typer.Option(help="use this cloud node instead of starting one")] = None,
    edge_model: Annotated[str, typer.Option(help="the edge tier's chat model")] = hybrid_pair()[0].name,
    cloud_model: Annotated[str, typer.Option(help="the cloud tier's chat model")] = hybrid_pair()[1].name,
    cloud_runtime: Annotated[
        str | None, typer.Option(help="engine of a started cloud node: llamacpp or transformers")
    ] = None,
    threads: Annotated[int, typer.Option(min=1, help="engine threads of each started node")] = 1,
    mix: Annotated[
        str,
        typer.Option(help="kinds and weights (labeled: held-out eval items, scored against gold answers)"),
    ] = DEFAULT_MIX,
) -> None:
    """Edge-only vs cloud-only vs the gateway's hybrid placement on one mixed workload, cloud behind an
    emulated link; writes OUT/report.html and OUT/report.json."""
    from edgecloud.bench.scenario import ScenarioConfig, StackConfig, run_hybrid_command
    from edgecloud.bench.scenario_workload import DEFAULT_CYCLE, parse_mix
    from edgecloud.errors import EdgecloudError

    console = Console(stderr=True)
    try:
        stack = StackConfig(
            edge_model=edge_model,
            cloud_model=cloud_model,
            cloud_runtime=cloud_runtime,
            threads=threads,
            edge_url=edge,
            cloud_url=cloud,
            rtt_s=_durations(rtt)[0],
            workdir=out,
        )
        config = ScenarioConfig(
            stack=stack,
            requests=requests,
            concurrency=_ints(concurrency),
            max_tokens=max_tokens,
            sweep_rtts_s=_durations(sweep),
            sweep_requests=sweep_requests,
            out=out,
            cycle=DEFAULT_CYCLE if mix == DEFAULT_MIX else parse_mix(mix),
        )
    except (ValueError, IndexError) as exc:
        raise typer.BadParameter(str(exc) or "empty value") from None
    try:
        code = run_hybrid_command(config, console)
    except (EdgecloudError, RuntimeError, TimeoutError) as exc:
        print_error(console, str(getattr(exc, "message", None) or exc))
        raise typer.Exit(2) from None
    raise typer.Exit(code)
