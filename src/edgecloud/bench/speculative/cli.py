"""`edgecloud bench speculative`: option parsing and the screen; the work is in runner, roofline, report."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edgecloud.bench.speculative.report import Row
from edgecloud.bench.speculative.roofline import Costs
from edgecloud.catalogue import hybrid_pair


def speculative(
    prompts: Annotated[
        int, typer.Option(min=2, help="prompts: held-out eval items and dialogue, alternating")
    ] = 16,
    max_tokens: Annotated[int, typer.Option(min=8, help="tokens per answer (greedy)")] = 128,
    rtt: Annotated[str, typer.Option(help="round trips of the emulated link, in ms")] = "0,20,80",
    fixed_k: Annotated[
        int, typer.Option(min=1, max=16, help="the fixed draft length measured beside adaptive")
    ] = 4,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads per engine")] = 2,
    explain: Annotated[
        bool, typer.Option(help="ask each prompt for a detailed explanation: answers run to --max-tokens")
    ] = False,
    out: Annotated[Path, typer.Option(help="results.json, table.md and speedup.png go here")] = Path(
        "bench-results/speculative"
    ),
) -> None:
    """Speculative decoding (the edge model drafts, the cloud model verifies) against the cloud model alone:
    in one node, then across an emulated link at each RTT. Greedy, so every output is compared token by
    token with the target's own; prints decode tok/s, TTFT, time per 128 tokens, acceptance, cloud
    forward passes per token, and the roofline (what verifying k tokens costs against one) that explains
    them. Takes about a minute per prompt on a 2-core machine (64 prompts: an hour)."""
    from edgecloud.bench.speculative import report, roofline
    from edgecloud.bench.speculative.runner import Config, run_all
    from edgecloud.catalogue import Catalogue
    from edgecloud.config import NodeSettings

    console = Console(width=max(Console().width, 150))
    edge, cloud = hybrid_pair()
    config = Config(
        target=cloud.name,
        draft=edge.name,
        prompts=prompts,
        max_tokens=max_tokens,
        rtts_ms=tuple(float(part) for part in rtt.split(",") if part.strip()),
        fixed_k=fixed_k,
        threads=threads,
        explain=explain,
    )
    catalogue = Catalogue(NodeSettings().cache_dir)
    console.print("roofline: forward pass over k tokens, target and draft ...")
    costs = roofline.measure(catalogue.materialize(cloud), catalogue.materialize(edge), threads=threads)
    with console.status("") as status:
        results = run_all(config, lambda text: status.update(text))
    results = replace(results, roofline=costs)
    table = report.rows(results)
    report.write(results, table, out)
    console.print(_roofline_table(costs))
    console.print(_table(table))
    console.print(f"wrote {out}/results.json, table.md, speedup.png")


def _roofline_table(costs: Costs) -> Table:
    table = Table(title="roofline: one forward pass over k tokens (ms, median of 5)")
    table.add_column("k")
    table.add_column("target")
    table.add_column("x one token")
    table.add_column("draft")
    for k, ms in costs.target_ms.items():
        table.add_row(str(k), f"{ms:.1f}", f"{ms / costs.target_ms[1]:.2f}", f"{costs.draft_ms[k]:.1f}")
    return table


def _table(rows: list[Row]) -> Table:
    table = Table(title="speculative decoding vs the target alone (greedy)")
    for column in (
        "configuration",
        "decode tok/s",
        "TTFT ms",
        "s/128 tok",
        "accept",
        "acc/round",
        "passes/tok",
        "identical",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.name,
            "-" if row.decode_tps is None else f"{row.decode_tps:.1f}",
            f"{row.ttft_ms:.0f}",
            "-" if row.s_per_128 is None else f"{row.s_per_128:.2f}",
            "-" if row.acceptance is None else f"{row.acceptance:.2f}",
            "-" if row.mean_accepted is None else f"{row.mean_accepted:.2f}",
            "-" if row.passes_per_token is None else f"{row.passes_per_token:.2f}",
            f"{row.identical}/{row.prompts}" + (f" ({row.near_ties} near-tie)" if row.divergences else ""),
        )
    return table
