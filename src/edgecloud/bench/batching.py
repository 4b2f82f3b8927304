"""`edgecloud bench batching`: what continuous batching buys a transformers decoder node.

One node (`edgecloud serve --runtime transformers`, continuous batching on) answers the same greedy chat
requests two ways, interleaved in one run because this machine is noisy:
- one after another (each request alone in the batch): sequential tokens/s = tokens / summed latency;
- all C at once (they share decode steps): concurrent tokens/s = tokens / wall time of the burst.
Level C uses the first C prompts, so both ways answer exactly the same requests. Greedy answers must not
depend on who else is in the batch, so the report also counts answers that differ between the two."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgecloud.cli_errors import print_error
from edgecloud.serving.launcher import NodeProcess

TOPICS = (
    "a lighthouse keeper", "a lost cat", "the first train to the coast", "a baker who cannot sleep",
    "a robot learning to paint", "a storm at sea", "two rival chess players", "a forgotten library",
    "a mountain village", "a detective in the rain", "a garden on the moon", "a clockmaker's apprentice",
    "a dragon who hates fire", "a summer fair", "an old violin", "the last day of school",
    "a map with no names", "a river that runs uphill", "a shy astronaut", "a market at dawn",
    "a broken compass", "a city under snow", "a letter never sent", "a kite festival",
    "a ship in a bottle", "a night train", "a painter and a crow", "a door in the forest",
    "the oldest tree in town", "a choir of frogs", "a postman's last round", "a bridge made of glass",
)  # fmt: skip


@dataclass(frozen=True)
class Answer:
    text: str
    tokens: int
    seconds: float


def parse_levels(text: str) -> list[int]:
    """ "1,4,16,32" -> [1, 4, 16, 32]; each level a positive integer."""
    try:
        levels = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ValueError(f"expected comma-separated integers, got {text!r}") from None
    if not levels or levels[0] < 1:
        raise ValueError(f"concurrency levels must be positive integers, got {text!r}")
    return levels


def prompts(count: int) -> list[str]:
    """Distinct prompts of slightly different lengths (several topics share nothing but the frame)."""
    return [
        f"Write a short story about {TOPICS[i % len(TOPICS)]}"
        + (f" (version {i // len(TOPICS)})." if i >= len(TOPICS) else ".")
        for i in range(count)
    ]


async def ask(client: httpx.AsyncClient, model: str, prompt: str, max_tokens: int) -> Answer:
    started = time.perf_counter()
    response = await client.post(
        "/v1/chat/completions",
        json={
            "model": model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
        },
    )
    response.raise_for_status()
    body = response.json()
    return Answer(
        body["choices"][0]["message"]["content"],
        int(body["usage"]["completion_tokens"]),
        time.perf_counter() - started,
    )


async def measure(
    url: str, model: str, levels: list[int], max_tokens: int, progress: Progress
) -> list[dict[str, Any]]:
    """Per level: the new prompts one after another, then all of the level's prompts at once."""
    texts = prompts(max(levels))
    task = progress.add_task("requests", total=max(levels) + sum(levels))
    alone: list[Answer] = []
    rows = []
    limits = httpx.Limits(max_connections=max(levels) + 4, max_keepalive_connections=max(levels) + 4)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as client:
        await ask(client, model, "Hello", 4)  # warm-up: first-call allocations
        for level in sorted(levels):
            for prompt in texts[len(alone) : level]:
                progress.update(task, description=f"C={level}: one after another")
                alone.append(await ask(client, model, prompt, max_tokens))
                progress.advance(task)
            progress.update(task, description=f"C={level}: all at once")
            started = time.perf_counter()
            together = await asyncio.gather(*(ask(client, model, p, max_tokens) for p in texts[:level]))
            wall = time.perf_counter() - started
            progress.advance(task, level)
            rows.append(_row(level, alone[:level], together, wall))
            progress.console.print(_describe(rows[-1]))  # partial results survive an interrupted run
    return rows


def _row(level: int, alone: list[Answer], together: list[Answer], wall: float) -> dict[str, Any]:
    sequential = sum(a.tokens for a in alone) / sum(a.seconds for a in alone)
    concurrent = sum(a.tokens for a in together) / wall
    return {
        "concurrency": level,
        "tokens": sum(a.tokens for a in together),
        "sequential_tok_s": sequential,
        "concurrent_tok_s": concurrent,
        "speedup": concurrent / sequential,
        "answers_differing": sum(a.text != b.text for a, b in zip(alone, together, strict=True)),
    }


def _describe(row: dict[str, Any]) -> str:
    return (
        f"C={row['concurrency']}: one after another {row['sequential_tok_s']:.1f} tok/s, all at once "
        f"{row['concurrent_tok_s']:.1f} tok/s ({row['speedup']:.2f}x), "
        f"answers differing: {row['answers_differing']}"
    )


def run_batching_bench(
    model: str,
    levels: list[int],
    max_tokens: int,
    threads: int,
    out: Path | None,
    console: Console,
    versus_llamacpp: bool = False,
) -> int:
    """The transformers node (continuous batching) and, with `versus_llamacpp`, the same GGUF model on a
    llama.cpp node (one sequence at a time) after it in the same run, never both at once."""
    args = ["--runtime", "transformers", "--threads", str(threads), "--tier", "cloud"]
    args += ["--max-batch", str(max(levels)), "--max-queue", str(max(levels)), "--n-ctx", "2048"]
    rows = _measure_node(model, args, levels, max_tokens, console, "transformers")
    if rows is None:
        return 2
    if versus_llamacpp:
        llama_args = ["--runtime", "llamacpp", "--threads", str(threads), "--tier", "cloud"]
        llama_rows = _measure_node(
            model, [*llama_args, "--max-queue", str(max(levels))], levels, max_tokens, console, "llama.cpp"
        )
        if llama_rows is None:
            return 2
        for row, other in zip(rows, llama_rows, strict=True):
            row["llamacpp_tok_s"] = other["concurrent_tok_s"]
            row["vs_llamacpp"] = row["concurrent_tok_s"] / other["concurrent_tok_s"]
    report = {"model": model, "max_tokens": max_tokens, "threads": threads, "levels": rows}
    _print(report)
    if out:
        out.write_text(json.dumps(report, indent=2))
    return 0


def _measure_node(
    model: str, args: list[str], levels: list[int], max_tokens: int, console: Console, engine: str
) -> list[dict[str, Any]] | None:
    with NodeProcess([model], args=args) as node:
        try:
            with console.status(f"loading {model} on {engine} ..."):
                node.wait_ready(timeout=900)
        except (RuntimeError, TimeoutError) as exc:
            print_error(console, f"the {engine} node did not start: {exc}")
            return None
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            progress.console.print(f"[bold]{engine}[/]")
            return asyncio.run(measure(node.url, model, levels, max_tokens, progress))


def _print(report: dict[str, Any]) -> None:
    table = Table(
        title=f"continuous batching, {report['model']} (transformers fp32), up to {report['max_tokens']} "
        f"tokens each, {report['threads']} threads: aggregate output tokens/s"
    )
    for column in (
        "concurrent",
        "tokens",
        "one after another",
        "all at once",
        "speed-up",
        "answers differing",
    ):
        table.add_column(column, justify="right")
    versus = any("llamacpp_tok_s" in row for row in report["levels"])
    if versus:
        table.add_column("llama.cpp all at once", justify="right")
        table.add_column("transformers / llama.cpp", justify="right")
    for row in report["levels"]:
        cells = [
            str(row["concurrency"]),
            str(row["tokens"]),
            f"{row['sequential_tok_s']:.1f}",
            f"{row['concurrent_tok_s']:.1f}",
            f"{row['speedup']:.2f}x",
            str(row["answers_differing"]),
        ]
        if versus:
            cells += [f"{row['llamacpp_tok_s']:.1f}", f"{row['vs_llamacpp']:.2f}x"]
        table.add_row(*cells)
    Console(width=max(Console().width, 150)).print(table)
