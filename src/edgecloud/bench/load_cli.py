"""The `edgecloud bench load` command: levels of concurrency or rate, one table, one JSON file."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgecloud.bench.load import load_prompts, run_load, summarize
from edgecloud.cli_errors import print_error


def run_load_command(
    url: str,
    model: str,
    concurrency: str | None,
    rate: str | None,
    requests: int,
    prompts: str,
    max_tokens: int,
    stream: bool,
    out: Path | None,
    console: Console,
) -> int:
    if (concurrency is None) == (rate is None):
        print_error(console, "give exactly one of --concurrency 1,4,16 or --rate 2,5,10")
        return 2
    texts = load_prompts(prompts)
    bodies: list[dict[str, Any]] = [
        {
            "model": model,
            "messages": [{"role": "user", "content": texts[i % len(texts)]}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": stream,
            **({"stream_options": {"include_usage": True}} if stream else {}),
        }
        for i in range(requests)
    ]
    target = url.rstrip("/") + "/v1/chat/completions"
    results = []
    levels = [("concurrency", float(v)) for v in (concurrency or "").split(",") if v] + [
        ("rate", float(v)) for v in (rate or "").split(",") if v
    ]
    for kind, value in levels:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"{kind} {value:g}", total=requests)
            samples, wall = asyncio.run(
                run_load(
                    target,
                    bodies,
                    concurrency=int(value) if kind == "concurrency" else None,
                    rate=value if kind == "rate" else None,
                    on_done=partial(bar.advance, task),
                )
            )
        results.append(summarize(samples, wall, f"{kind}={value:g}"))
    _print(results)
    if out is not None:
        out.write_text(
            json.dumps({"url": url, "model": model, "stream": stream, "levels": results}, indent=2)
        )
    return 0


def _print(results: list[dict[str, Any]]) -> None:
    table = Table(
        "level", "ok", "req/s", "out tok/s", "TTFT p50/p95 ms", "ITL p50 ms", "e2e p50/p99 ms", "errors"
    )
    for r in results:
        ms = lambda d, k: f"{d[k] * 1000:.0f}" if k in d else "-"  # noqa: E731
        table.add_row(
            r["label"],
            f"{r['succeeded']}/{r['requests']}",
            f"{r['requests_per_s']:.1f}",
            f"{r['output_tokens_per_s']:.1f}",
            f"{ms(r['ttft_s'], 'p50')}/{ms(r['ttft_s'], 'p95')}",
            ms(r["inter_token_s"], "p50"),
            f"{ms(r['e2e_s'], 'p50')}/{ms(r['e2e_s'], 'p99')}",
            json.dumps(r["errors"]) if r["errors"] else "",
        )
    Console(width=160).print(table)
