"""`edgecloud bench gateway`: what the gateway adds over calling a fast upstream directly.

One run, every path side by side with its requests interleaved, so each sees the same machine noise:
the instant echo upstream (edgecloud.bench.echo) called directly; through the floor (a bare aiohttp
proxy: the least a Python proxy can add, edgecloud.bench.floor_proxy); through a gateway with the edge
tier only; through a gateway with both tiers (the full policy chain, the cascade included); and, with
--dashboards N, through the same full gateway while N dashboard feeds are open. Measured per path:
whole-answer latency and stream first-token latency (sequential, one keep-alive connection each), and
throughput with --concurrency clients at once (rounds alternating between paths)."""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from edgecloud.bench.gateway_paths import BenchPath, throughput
from edgecloud.bench.load import percentile
from edgecloud.bench.plots import cdf
from edgecloud.bench.report import Cell, Report, Section, table, write_output
from edgecloud.serving.launcher import EchoProcess, GatewayProcess, ServiceProcess, free_port

ROUNDS = 3  # throughput rounds per path


class FloorProcess(ServiceProcess):
    def __init__(self, upstream: str) -> None:
        port = free_port()
        command = [sys.executable, "-m", "edgecloud.bench.floor_proxy", "--upstream", upstream]
        super().__init__([*command, "--port", str(port)], port=port)


def run_gateway_bench(
    requests: int, out: Path | None, console: Console, dashboards: int = 0, concurrency: int = 64
) -> int:
    with EchoProcess() as echo, EchoProcess() as echo_cloud, contextlib.ExitStack() as stack:
        paths = _start_paths(stack, echo, echo_cloud, dashboards)
        for path in paths:  # warm-up: connections, caches, the first probe
            for _ in range(50):
                path.call()
                path.stream()
            path.clear()
        with console.status(f"{requests} requests and {requests} streams per path ..."):
            for i in range(requests):
                turn = i % len(paths)
                for path in paths[turn:] + paths[:turn]:  # rotate who goes first
                    path.call()
                    path.stream()
        with console.status(f"throughput with {concurrency} clients, {ROUNDS} rounds per path ..."):
            for r in range(ROUNDS):
                for path in paths[r % len(paths) :] + paths[: r % len(paths)]:
                    path.throughput.append(asyncio.run(throughput(path.port, requests, concurrency)))
    report = _report(paths, requests, concurrency)
    _print(report)
    samples = {path.name: path.samples for path in paths}
    html = write_output(out, report, lambda: gateway_report(report, samples))
    if html:
        console.print(f"report: {html}")
    return 0


def _start_paths(
    stack: contextlib.ExitStack, echo: EchoProcess, echo_cloud: EchoProcess, dashboards: int
) -> list[BenchPath]:
    floor = stack.enter_context(FloorProcess(echo.url))
    edge_only = stack.enter_context(GatewayProcess(edge=echo.url))
    full = stack.enter_context(GatewayProcess(edge=echo.url, cloud=echo_cloud.url))
    watched = stack.enter_context(GatewayProcess(edge=echo.url, cloud=echo_cloud.url)) if dashboards else None
    for process in (echo, echo_cloud, floor, edge_only, full, watched):
        if process is not None:
            process.wait_ready(30)
    paths = [
        BenchPath("direct", echo.port),
        BenchPath("floor (bare aiohttp proxy)", floor.port),
        BenchPath("gateway (edge only)", edge_only.port),
        BenchPath("gateway (edge+cloud, full chain)", full.port),
    ]
    if watched is not None:
        stack.enter_context(_watchers(watched.url, dashboards))
        paths.append(BenchPath(f"gateway (full chain, {dashboards} dashboards open)", watched.port))
    return paths


@contextlib.contextmanager
def _watchers(url: str, count: int) -> Iterator[None]:
    command = [sys.executable, "-m", "edgecloud.bench.dashboard_watchers", url, str(count)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("watching"):
            raise RuntimeError(f"the dashboard watchers did not start (exit {process.poll()})")
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def gateway_report(results: dict[str, Any], samples: dict[str, list[float]]) -> Report:
    """The gateway benchmark in the common report format: added latency first, then a CDF per path."""
    headline: dict[str, Cell] = {}
    for name, s in results["paths"].items():
        if "added_p50" in s:
            headline[f"added p50 / p95 ms, {name}"] = f"{s['added_p50']:.3f} / {s['added_p95']:.3f}"
            headline[f"throughput vs direct, {name}"] = f"{s['throughput_ratio']:.2f}x"
    section = Section(
        f"Latency, {results['requests']} sequential requests and streams per path, interleaved; "
        f"throughput at {results['concurrency']} clients",
        "The instant echo upstream called directly, through the floor (a bare aiohttp proxy) and through "
        "gateways; the difference to direct is what each adds.",
        (table("", COLUMNS, _rows(results)),),
        (cdf(samples, "Request latency per path", "ms", scale=1000),),
    )
    data = {**results, "samples_s": samples}
    return Report("edgecloud bench gateway", "gateway", headline, (section,), data)


COLUMNS = (
    "path", "p50 ms", "p95 ms", "added p50 ms", "added p95 ms", "stream first token p50 ms",
    "added first token p50 / p95 ms", "req/s", "x direct",
)  # fmt: skip


def _rows(results: dict[str, Any]) -> list[tuple[Cell, ...]]:
    rows: list[tuple[Cell, ...]] = []
    for name, s in results["paths"].items():
        added = "added_p50" in s
        rows.append(
            (
                name,
                f"{s['p50']:.3f}",
                f"{s['p95']:.3f}",
                f"{s['added_p50']:.3f}" if added else "",
                f"{s['added_p95']:.3f}" if added else "",
                f"{s['first_token_p50']:.3f}",
                f"{s['added_first_token_p50']:.3f} / {s['added_first_token_p95']:.3f}" if added else "",
                f"{s['requests_per_s']:.0f}",
                f"{s['throughput_ratio']:.2f}",
            )
        )
    return rows


def _report(paths: list[BenchPath], requests: int, concurrency: int) -> dict[str, Any]:
    """Percentiles per path and the differences to direct; throughput is the median of the rounds."""
    direct = paths[0]
    direct_rate = statistics.median(direct.throughput)
    result: dict[str, Any] = {"requests": requests, "concurrency": concurrency, "paths": {}}
    for path in paths:
        stats: dict[str, Any] = {f"p{q}": percentile(path.samples, q) * 1000 for q in (50, 95, 99)}
        stats["mean"] = statistics.fmean(path.samples) * 1000
        for q in (50, 95):
            stats[f"first_token_p{q}"] = percentile(path.first_token, q) * 1000
        stats["requests_per_s"] = statistics.median(path.throughput)
        stats["throughput_rounds"] = path.throughput
        stats["throughput_ratio"] = stats["requests_per_s"] / direct_rate
        if path is not direct:
            for q in (50, 95):
                stats[f"added_p{q}"] = stats[f"p{q}"] - percentile(direct.samples, q) * 1000
                stats[f"added_first_token_p{q}"] = (
                    stats[f"first_token_p{q}"] - percentile(direct.first_token, q) * 1000
                )
        result["paths"][path.name] = stats
    return result


def _print(report: dict[str, Any]) -> None:
    table = Table(
        title=f"ms; {report['requests']} sequential requests and streams per path, interleaved; "
        f"req/s at {report['concurrency']} clients (median of {ROUNDS} rounds)"
    )
    for column in COLUMNS:
        table.add_column(column, justify="right" if column != "path" else "left")
    for row in _rows(report):
        table.add_row(*(str(cell) for cell in row))
    Console(width=200).print(table)
