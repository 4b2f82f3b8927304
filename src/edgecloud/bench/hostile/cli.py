"""`edgecloud bench hostile`: option parsing and the screen; the cases and the judging are beside it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgecloud.bench.hostile.cases import Target, cases
from edgecloud.bench.hostile.runner import Outcome, dumps, run


def hostile(
    url: Annotated[
        str | None,
        typer.Option(help="the node or gateway to send them to; without it, a node and a gateway start here"),
    ] = None,
    requests: Annotated[int, typer.Option(min=1, help="how many malformed or hostile requests")] = 10_000,
    seed: Annotated[int, typer.Option(help="the same seed sends the same requests")] = 0,
    chat_model: Annotated[str, typer.Option(help="a chat model the server serves")] = "smollm2-135m-instruct",
    embed_model: Annotated[
        str, typer.Option(help="an embedding model the server serves")
    ] = "all-minilm-l6-v2",
    audio: Annotated[bool, typer.Option(help="include the audio routes")] = True,
    verify: Annotated[bool, typer.Option(help="include /v1/speculative/verify (a node has it)")] = True,
    concurrency: Annotated[int, typer.Option(min=1, help="requests in flight at once")] = 8,
    pid: Annotated[int | None, typer.Option(help="the server's process id, to report its peak RSS")] = None,
    out: Annotated[Path | None, typer.Option(help="write the outcome as JSON here")] = None,
) -> None:
    """Send seeded malformed and hostile requests (broken JSON, invalid UTF-8, deep nesting, 50 MB
    strings, NaN and out-of-range numbers, wrong types, 10,000 messages, wrong content types, multipart
    garbage, slow bodies, wrong routes) and check every answer: no 5xx, OpenAI-shaped errors, no hang,
    a normal request served afterwards. Exits 1 if any rule broke. About 45 s per 2,000 on 2 cores."""
    target = Target(chat_model, embed_model, audio=audio, verify=verify)
    console = Console()
    if url is not None:
        passed = _attack(console, url, target, requests, seed, concurrency, pid, out)
    else:
        passed = _attack_own_stack(console, target, requests, seed, concurrency, out)
    if not passed:
        raise typer.Exit(1)


def _attack_own_stack(
    console: Console, target: Target, requests: int, seed: int, concurrency: int, out: Path | None
) -> bool:
    """A node serving the two models, then a gateway in front of it, each attacked in turn."""
    from edgecloud.serving.launcher import GatewayProcess, NodeProcess

    with NodeProcess([target.chat_model, target.embed_model]) as node:
        console.print("starting a node ...")
        node.wait_ready(timeout=300)
        assert node.process is not None
        console.print(f"[bold]node[/] {node.url}")
        ok = _attack(
            console, node.url, target, requests, seed, concurrency, node.process.pid, _named(out, "node")
        )
        with GatewayProcess(edge=node.url) as gateway:
            gateway.wait_ready(timeout=60)
            assert gateway.process is not None
            console.print(f"[bold]gateway[/] {gateway.url} (in front of the node)")
            front = Target(target.chat_model, target.embed_model, audio=target.audio, verify=False)
            pid = gateway.process.pid
            ok &= _attack(
                console, gateway.url, front, requests, seed + 1, concurrency, pid, _named(out, "gateway")
            )
    return ok


def _named(out: Path | None, server: str) -> Path | None:
    return None if out is None else out.with_name(f"{out.stem}-{server}{out.suffix}")


def _attack(
    console: Console,
    url: str,
    target: Target,
    requests: int,
    seed: int,
    concurrency: int,
    pid: int | None,
    out: Path | None,
) -> bool:
    normal = {"model": target.chat_model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{requests} hostile requests", total=requests)
        outcome = asyncio.run(
            run(
                url,
                list(cases(requests, target, seed)),
                normal,
                concurrency=concurrency,
                pid=pid,
                on_progress=lambda done: progress.update(task, completed=done),
            )
        )
    console.print(_table(outcome))
    for line in outcome.failures[:20]:
        console.print(f"[red]x[/] {line}")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dumps(outcome))
    verdict = "[green]passed[/]" if outcome.passed else f"[red]failed[/] ({len(outcome.failures)} problems)"
    rss = ""
    if outcome.peak_rss_mb is not None and outcome.start_rss_mb is not None:
        rss = f", server RSS {outcome.start_rss_mb:.0f} MB at the start, peak {outcome.peak_rss_mb:.0f} MB"
    console.print(f"{outcome.sent} requests in {outcome.seconds:.1f} s{rss}: {verdict}")
    return outcome.passed


def _table(outcome: Outcome) -> Table:
    statuses = sorted({status for counts in outcome.by_family.values() for status in counts})
    table = Table(title="answers by kind of request (0: hung, -1: connection closed)")
    table.add_column("kind")
    for status in statuses:
        table.add_column(str(status), justify="right")
    for family, counts in sorted(outcome.by_family.items()):
        table.add_row(family, *(str(counts.get(status, "")) for status in statuses))
    return table
