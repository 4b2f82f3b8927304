"""`edgecloud bench engine`: what the node costs over the engine it wraps, and what logprobs cost.

Variants run alternately in one process and one run (this machine is noisy), all greedy, same prompt,
same max_tokens, same thread count:
- raw: llama-cpp-python's own streaming completion, in process;
- node: `edgecloud serve` over HTTP + SSE (a separate process, idle while the others run);
- node+logprobs: the same with per-token logprobs (our last-row log-softmax);
- raw+logits_all: llama-cpp-python's own logprobs, which need logits_all=True (the slow baseline).
Decode rate = (tokens - 1) / (time of last token - time of first token): prefill is excluded."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from edgecloud.bench.report import Cell, Report, Section, figure, new_figure, table, write_output
from edgecloud.catalogue import Catalogue, LocalPath
from edgecloud.config import NodeSettings
from edgecloud.serving.launcher import NodeProcess

PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle.\n\nOnce upon a time,"


def decode_rate(tokens: int, first: float | None, last: float | None) -> float:
    """Tokens per second after the first one: prefill is excluded (0.0 when fewer than two tokens)."""
    if first is None or last is None or tokens < 2 or last <= first:
        return 0.0
    return (tokens - 1) / (last - first)


def raw_decode_rate(llm: Any, max_tokens: int, logprobs: bool = False) -> float:
    first = last = None
    tokens = 0
    stream = llm.create_completion(
        PROMPT, max_tokens=max_tokens, temperature=0.0, stream=True, logprobs=1 if logprobs else None, seed=0
    )
    for _chunk in stream:
        last = time.perf_counter()
        first = first or last
        tokens += 1
    return decode_rate(tokens, first, last)


def node_decode_rate(url: str, model: str, max_tokens: int, logprobs: bool = False) -> float:
    body: dict[str, Any] = {
        "model": model,
        "prompt": PROMPT,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if logprobs:
        body["logprobs"] = 1
    first = last = None
    tokens = 0
    with httpx.Client(timeout=300) as client, client.stream("POST", f"{url}/v1/completions", json=body) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            elif chunk["choices"]:
                last = time.perf_counter()
                first = first or last
    return decode_rate(tokens, first, last)


def run_engine_bench(
    model: str, max_tokens: int, runs: int, threads: int, out: Path | None, console: Console
) -> int:
    from llama_cpp import Llama

    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(model)
    path = str(catalogue.materialize(spec))
    spec = replace(spec, source=LocalPath(Path(path)))
    common: dict[str, Any] = {
        "model_path": path,
        "n_ctx": 4096,
        "n_threads": threads,
        "n_threads_batch": threads,
        "verbose": False,
    }
    raw = Llama(**common, logits_all=False)
    raw_all = Llama(**common, logits_all=True)
    samples: dict[str, list[float]] = {"raw": [], "node": [], "node+logprobs": [], "raw+logits_all": []}
    with NodeProcess([model], args=["--threads", str(threads)]) as node:
        node.wait_ready(timeout=300)
        variants: dict[str, Callable[[], float]] = {
            "raw": lambda: raw_decode_rate(raw, max_tokens),
            "node": lambda: node_decode_rate(node.url, model, max_tokens),
            "node+logprobs": lambda: node_decode_rate(node.url, model, max_tokens, logprobs=True),
            "raw+logits_all": lambda: raw_decode_rate(raw_all, max_tokens, logprobs=True),
        }
        for measure in variants.values():  # warm-up: page in weights, build caches
            measure()
        with console.status("measuring ...") as status:
            for run in range(runs):
                for name, measure in variants.items():
                    status.update(f"run {run + 1}/{runs}: {name}")
                    samples[name].append(measure())
    report = _report(samples, model, max_tokens, threads)
    _print(report, console)
    html = write_output(out, report, lambda: engine_report(report))
    if html:
        console.print(f"report: {html}")
    return 0


def engine_report(results: dict[str, Any]) -> Report:
    """The engine benchmark in the common report format: ratios first, then tok/s per variant."""
    median = results["median_tok_s"]
    rows = [
        (name, value, ", ".join(f"{v:.1f}" for v in results["samples_tok_s"][name]))
        for name, value in median.items()
    ]
    fig = new_figure()
    ax = fig.add_subplot()
    names = list(median)
    ax.bar(names, [median[n] for n in names], color="#2a9d8f", label="median")
    for i, name in enumerate(names):
        runs = results["samples_tok_s"][name]
        ax.scatter([i] * len(runs), runs, color="#264653", zorder=3, s=14, label="runs" if i == 0 else None)
    ax.set(ylabel="decode tokens/s", title="Decode rate per variant")
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    section = Section(
        f"Decode tokens/s, {results['model']}, {results['max_tokens']} tokens, {results['threads']} threads",
        "Variants alternate in one run; the decode rate excludes prefill.",
        (table("", ("variant", "median tok/s", "runs"), rows),),
        (figure(fig, "Decode rate per variant"),),
    )
    headline: dict[str, Cell] = {name: ratio for name, ratio in results["ratios"].items()}
    return Report("edgecloud bench engine", "engine", headline, (section,), results)


def _report(samples: dict[str, list[float]], model: str, max_tokens: int, threads: int) -> dict[str, Any]:
    median = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "model": model,
        "max_tokens": max_tokens,
        "threads": threads,
        "samples_tok_s": samples,
        "median_tok_s": median,
        "ratios": {
            "node_vs_raw": median["node"] / median["raw"],
            "node_logprobs_vs_node": median["node+logprobs"] / median["node"],
            "raw_logits_all_vs_raw": median["raw+logits_all"] / median["raw"],
        },
    }


def _print(report: dict[str, Any], console: Console) -> None:
    table = Table(
        title=f"decode tokens/s, {report['model']}, {report['max_tokens']} tokens, "
        f"{report['threads']} threads (median of runs)"
    )
    table.add_column("variant")
    table.add_column("tok/s", justify="right")
    table.add_column("runs", justify="right")
    for name, value in report["median_tok_s"].items():
        runs = ", ".join(f"{v:.1f}" for v in report["samples_tok_s"][name])
        table.add_row(name, f"{value:.1f}", runs)
    Console().print(table)
    for name, ratio in report["ratios"].items():
        Console().print(f"{name}: {ratio:.3f}x")
