"""`edgecloud bench ladder`: what each chat model on the catalogue's ladder costs to serve here.

Each model is served by a real node (`edgecloud serve`, llama.cpp, the same thread count), one node at a
time so they never share the cores; the rounds alternate models so that drift in the machine's load hits
all of them alike. Per model: load time, time to first token of a short chat (median over rounds), decode
tokens/s (median; prefill excluded) and the node's resident memory after the runs."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from edgecloud.bench.engine import decode_rate
from edgecloud.catalogue import BUNDLED, ModelSpec
from edgecloud.serving.launcher import NodeProcess

QUESTION = "Explain in three sentences why the sky is blue."


@dataclass
class Rung:
    spec: ModelSpec
    load_s: float = 0.0
    ttft_s: list[float] = field(default_factory=list)
    decode_tps: list[float] = field(default_factory=list)
    rss_mb: float = 0.0


def chat_ladder() -> list[ModelSpec]:
    """Every chat model the catalogue places on a tier: edge rungs first, then cloud."""
    order = {"edge": 0, "cloud": 1}
    chats = [s for s in BUNDLED if s.kind == "chat" and s.tier is not None]
    return sorted(chats, key=lambda s: (order[s.tier or "edge"], s.rung))


def measure_once(url: str, model: str, max_tokens: int) -> tuple[float, float]:
    """(TTFT, decode tokens/s) of one greedy streamed chat answer."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    start = time.perf_counter()
    stamps: list[float] = []
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line.startswith("data: {") and '"content":"' in line:
                stamps.append(time.perf_counter())
    if not stamps:
        return float("nan"), float("nan")
    return stamps[0] - start, decode_rate(len(stamps), stamps[0], stamps[-1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_ladder_bench(rounds: int, max_tokens: int, threads: int, console: Console) -> list[Rung]:
    rungs = [Rung(spec) for spec in chat_ladder()]
    for round_index in range(rounds):
        for rung in rungs:
            started = time.perf_counter()
            with NodeProcess([rung.spec.name], args=["--threads", str(threads)]) as node:
                node.wait_ready(timeout=600)
                if round_index == 0:
                    rung.load_s = time.perf_counter() - started
                measure_once(node.url, rung.spec.name, 4)  # warm-up: first-call costs are not the model's
                ttft, rate = measure_once(node.url, rung.spec.name, max_tokens)
                rung.ttft_s.append(ttft)
                rung.decode_tps.append(rate)
                assert node.process is not None
                rung.rss_mb = max(rung.rss_mb, _rss_mb(node.process.pid))
            console.print(f"round {round_index + 1}/{rounds}: {rung.spec.name} {rate:.1f} tok/s")
    console.print(ladder_table(rungs, threads))
    return rungs


def ladder_table(rungs: list[Rung], threads: int) -> Table:
    table = Table(title=f"chat models on the ladder, llama.cpp, {threads} thread(s), medians")
    for column in ("model", "tier", "size", "load s", "TTFT ms", "decode tok/s", "RSS MB"):
        table.add_column(column)
    for rung in rungs:
        size = f"{(rung.spec.size_bytes or 0) / 1e6:,.0f} MB"
        table.add_row(
            rung.spec.name,
            f"{rung.spec.tier} (rung {rung.spec.rung})",
            size,
            f"{rung.load_s:.1f}",
            f"{statistics.median(rung.ttft_s) * 1000:.0f}",
            f"{statistics.median(rung.decode_tps):.1f}",
            f"{rung.rss_mb:,.0f}",
        )
    return table
