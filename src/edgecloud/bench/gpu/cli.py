"""`edgecloud bench gpu` (also `python -m edgecloud.bench.gpu`, which imports nothing else of the CLI,
for a bare GPU machine): option parsing and the summary table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from edgecloud.bench.batching import parse_levels
from edgecloud.bench.gpu.runner import GpuBenchConfig, run_gpu_bench
from edgecloud.cli_errors import print_error
from edgecloud.cli_options import DeviceOption, PrecisionOption
from edgecloud.errors import EdgecloudError


def gpu(
    model: Annotated[str, typer.Option(help="decoder: catalogue name, GGUF file or HF folder")] = (
        "smollm2-135m-instruct"
    ),
    embed_model: Annotated[str, typer.Option(help="sentence encoder: catalogue name or folder")] = (
        "all-minilm-l6-v2"
    ),
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    levels: Annotated[str, typer.Option(help="concurrency levels, comma-separated")] = "1,16,64,256",
    max_tokens: Annotated[int, typer.Option(min=1, help="tokens per answer")] = 128,
    sequential: Annotated[int, typer.Option(min=1, help="requests run one after another (baseline)")] = 16,
    parity_prompts: Annotated[int, typer.Option(min=1, help="prompts decoded on both devices")] = 16,
    parity_tokens: Annotated[int, typer.Option(min=1, help="greedy tokens compared per prompt")] = 64,
    embed_texts: Annotated[int, typer.Option(min=1, help="texts embedded on the device")] = 2048,
    embed_batch: Annotated[int, typer.Option(min=1, help="texts per forward pass")] = 32,
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads of the CPU baselines")] = None,
    budget: Annotated[float, typer.Option(min=1, help="seconds after which sections are skipped")] = 420.0,
    sections: Annotated[
        str, typer.Option(help="which sections to run, comma-separated")
    ] = "decode,forward_step_ms,profile,parity,embeddings",
    out: Annotated[Path | None, typer.Option(help="write the report as JSON here")] = None,
) -> None:
    """The transformers runtime on a GPU against the CPU path: decode tokens/s and TTFT through the
    node's continuous batching at each concurrency vs one request at a time, the bare forward step,
    greedy parity with the CPU, and MiniLM embeddings/s. With --device cpu it is a dry run of the same
    code. bench/gpu.sh runs it on a bare GPU machine."""
    console = Console()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")  # engine errors
    try:
        config = GpuBenchConfig(
            model=model, embed_model=embed_model, device=device or "auto", precision=precision or "auto",
            levels=tuple(parse_levels(levels)),
            max_tokens=max_tokens, sequential=sequential, parity_prompts=parity_prompts,
            parity_tokens=parity_tokens, embed_texts=embed_texts, embed_batch=embed_batch, threads=threads,
            budget_s=budget, out=out, sections=tuple(s.strip() for s in sections.split(",") if s.strip()),
        )  # fmt: skip
        report = run_gpu_bench(config, console.print)
    except (EdgecloudError, ValueError) as exc:
        print_error(console, getattr(exc, "message", str(exc)))
        raise typer.Exit(2) from None
    console.print(summary(report))
    if report["errors"]:
        console.print(f"[yellow]sections not measured[/]: {report['errors']}")
        raise typer.Exit(1)


def summary(report: dict[str, Any]) -> Table:
    decode = report.get("decode") or {}
    sequential = decode.get("sequential_tok_s", 0.0)
    title = f"bench gpu: {report['environment']['device']}, sequential {sequential:.1f} tok/s"
    table = Table("concurrency", "tok/s", "x sequential", "TTFT p50 ms", "TTFT p95 ms", "ms/step",
                  "bare forward ms", title=title)  # fmt: skip
    forward = report.get("forward_step_ms") or {}
    for row in decode.get("levels", []):
        bare = forward.get(str(row["concurrency"]))
        table.add_row(
            str(row["concurrency"]),
            f"{row['tok_s']:.0f}",
            f"{row['speedup']:.1f}",
            f"{row['ttft_p50_s'] * 1000:.0f}",
            f"{row['ttft_p95_s'] * 1000:.0f}",
            f"{row['step_ms']:.1f}",
            f"{bare:.2f}" if bare is not None else "-",
        )
    return table
