"""`edgecloud bench gateway`: the latency the gateway adds over calling a fast upstream directly.

One run, requests interleaved so both paths see the same machine noise: the instant echo upstream
(edgecloud.bench.echo) called directly, through a gateway with the edge tier only, and through a
gateway with both tiers (the full policy chain, the cascade included). A keep-alive http.client
connection per path keeps client overhead small and equal."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from edgecloud.bench.load import percentile
from edgecloud.bench.plots import cdf
from edgecloud.bench.report import Cell, Report, Section, table, write_output
from edgecloud.serving.launcher import EchoProcess, GatewayProcess

BODY = json.dumps(
    {"model": "echo-1", "messages": [{"role": "user", "content": "hello from the bench"}], "max_tokens": 8}
).encode()


class Path_:
    """One keep-alive connection and its latency samples."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.samples: list[float] = []

    def call(self) -> None:
        started = time.perf_counter()
        self.connection.request(
            "POST", "/v1/chat/completions", body=BODY, headers={"Content-Type": "application/json"}
        )
        response = self.connection.getresponse()
        response.read()
        self.samples.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status}")


def run_gateway_bench(requests: int, out: Path | None, console: Console, dashboards: int = 0) -> int:
    """`dashboards`: a fourth path, a full-chain gateway with that many dashboard feeds open, beside
    the same gateway unwatched: what watching costs, measured side by side."""
    with EchoProcess() as echo, EchoProcess() as echo_cloud, contextlib.ExitStack() as stack:
        echo.wait_ready(30)
        echo_cloud.wait_ready(30)
        edge_only = stack.enter_context(GatewayProcess(edge=echo.url))
        full = stack.enter_context(GatewayProcess(edge=echo.url, cloud=echo_cloud.url))
        gateways = [edge_only, full]
        if dashboards:
            gateways.append(stack.enter_context(GatewayProcess(edge=echo.url, cloud=echo_cloud.url)))
        for gateway in gateways:
            gateway.wait_ready(30)
        paths = [
            Path_("direct", echo.port),
            Path_("gateway (edge only)", edge_only.port),
            Path_("gateway (edge+cloud, full chain)", full.port),
        ]
        if dashboards:
            stack.enter_context(_watchers(gateways[2].url, dashboards))
            paths.append(Path_(f"gateway (full chain, {dashboards} dashboards open)", gateways[2].port))
        for path in paths:  # warm-up: connections, caches, the first probe
            for _ in range(50):
                path.call()
            path.samples.clear()
        with console.status(f"{requests} requests per path ..."):
            for i in range(requests):
                turn = i % len(paths)
                for path in paths[turn:] + paths[:turn]:  # rotate who goes first
                    path.call()
    report = _report(paths, requests)
    _print(report)
    samples = {path.name: path.samples for path in paths}
    html = write_output(out, report, lambda: gateway_report(report, samples))
    if html:
        console.print(f"report: {html}")
    return 0


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
    rows = [
        (name, s["p50"], s["p95"], s["p99"], s["mean"], s.get("added_p50"), s.get("added_p95"))
        for name, s in results["paths"].items()
    ]
    headline: dict[str, Cell] = {}
    for name, s in results["paths"].items():
        if "added_p50" in s:
            headline[f"added p50 / p95 ms, {name}"] = f"{s['added_p50']:.3f} / {s['added_p95']:.3f}"
    columns = ("path", "p50 ms", "p95 ms", "p99 ms", "mean ms", "added p50 ms", "added p95 ms")
    section = Section(
        f"Latency, {results['requests']} sequential requests per path, interleaved",
        "The instant echo upstream called directly and through two gateways; the difference is what "
        "the gateway adds.",
        (table("", columns, rows),),
        (cdf(samples, "Request latency per path", "ms", scale=1000),),
    )
    data = {**results, "samples_s": samples}
    return Report("edgecloud bench gateway", "gateway", headline, (section,), data)


def _report(paths: list[Path_], requests: int) -> dict[str, Any]:
    direct = paths[0].samples
    result: dict[str, Any] = {"requests": requests, "paths": {}}
    for path in paths:
        stats = {f"p{q}": percentile(path.samples, q) * 1000 for q in (50, 95, 99)}
        stats["mean"] = statistics.fmean(path.samples) * 1000
        if path is not paths[0]:
            stats["added_p50"] = stats["p50"] - percentile(direct, 50) * 1000
            stats["added_p95"] = stats["p95"] - percentile(direct, 95) * 1000
        result["paths"][path.name] = stats
    return result


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"latency in ms, {report['requests']} sequential requests per path, interleaved")
    for column in ("path", "p50", "p95", "p99", "mean", "added p50", "added p95"):
        table.add_column(column, justify="right" if column != "path" else "left")
    for name, s in report["paths"].items():
        added = [f"{s['added_p50']:.3f}", f"{s['added_p95']:.3f}"] if "added_p50" in s else ["", ""]
        table.add_row(
            name, f"{s['p50']:.3f}", f"{s['p95']:.3f}", f"{s['p99']:.3f}", f"{s['mean']:.3f}", *added
        )
    Console().print(table)
