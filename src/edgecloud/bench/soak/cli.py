"""`edgecloud bench soak`: option parsing and the screen; the stack, load and sampling are beside it."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edgecloud.bench.soak.runner import SoakConfig, SoakResult, run_soak


def soak(
    minutes: Annotated[float, typer.Option(min=0.5, help="how long the load runs")] = 30.0,
    rate: Annotated[float, typer.Option(min=0.1, help="requests a second (chat, streams, embeddings)")] = 2.0,
    sample_every: Annotated[float, typer.Option(min=1, help="seconds between RSS/fd samples")] = 60.0,
    warm_up: Annotated[float, typer.Option(min=0, help="seconds before growth is judged")] = 60.0,
    out: Annotated[Path, typer.Option(help="soak.json and the gateway's decision log go here")] = Path(
        "bench-results/soak"
    ),
) -> None:
    """Gateway + edge node + cloud node behind an emulated 20 ms link that resets 2% of connections and
    goes down for 3 s every 30 s, under a steady mixed load. Prints RSS and open files per process at
    every sample; exits 1 on any lost request, on RSS growing more than 10% after warm-up, or on open
    files growing by more than 10% (and more than 8)."""
    console = Console()
    config = SoakConfig(minutes=minutes, rate=rate, sample_s=sample_every, warm_up_s=warm_up, workdir=out)
    console.print(
        f"soak: {minutes:g} min at {rate:g} requests/s; starting the edge, the cloud and the gateway ..."
    )

    def on_sample(name: str, at_s: float, rss_mb: float, fds: int) -> None:
        console.print(f"  {at_s:7.0f} s  {name:8s} RSS {rss_mb:7.1f} MB  open files {fds}")

    result = run_soak(config, on_sample)
    console.print(_table(result))
    problems = result.problems()
    (out / "soak.json").write_text(json.dumps(_summary(result), indent=2))
    for line in problems:
        console.print(f"[red]x[/] {line}")
    tally = result.tally
    verdict = "[green]passed[/]" if not problems else "[red]failed[/]"
    lost = len(tally.lost)
    console.print(
        f"{tally.total_sent} sent, {tally.total_sent - lost} answered "
        f"({len(tally.retried)} streams asked again after an error event), {lost} lost, "
        f"{result.flaps} link flaps: {verdict}"
    )
    if problems:
        raise typer.Exit(1)


def _table(result: SoakResult) -> Table:
    table = Table(title=f"per process, growth after {result.config.warm_up_s:g} s of warm-up")
    for column in ("process", "RSS first", "RSS last", "RSS growth", "files first", "files last"):
        table.add_column(column, justify="right")
    for series in result.series:
        if not series.samples:
            continue
        first, last = series.samples[0], series.samples[-1]
        rss = series.growth(result.config.warm_up_s)
        table.add_row(
            series.name,
            f"{first.rss_mb:.0f} MB",
            f"{last.rss_mb:.0f} MB",
            f"{rss:+.1%}",
            str(first.fds),
            str(last.fds),
        )
    return table


def _summary(result: SoakResult) -> dict[str, object]:
    tally = result.tally
    return {
        "config": {k: str(v) for k, v in asdict(result.config).items()},
        "sent": dict(tally.sent),
        "answered": dict(tally.answered),
        "lost": tally.lost,
        "retried": tally.retried,
        "flaps": result.flaps,
        "processes": {
            s.name: {
                "rss_growth": s.growth(result.config.warm_up_s),
                "fd_growth": s.fd_growth(result.config.warm_up_s)[0],
                "samples": [asdict(x) for x in s.samples],
            }
            for s in result.series
        },
        "problems": result.problems(),
    }
