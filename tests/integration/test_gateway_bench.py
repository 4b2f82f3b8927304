"""`edgecloud bench gateway` end to end on loopback, with tiny counts: every path (direct, the bare
aiohttp floor, the gateways, one with dashboards open) answers whole requests and streams, and the
report carries latency, first-token and throughput figures for each. The figures themselves are
measured with the command (README, "Benchmarks"), not asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_the_gateway_bench_measures_every_path_side_by_side(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "edgecloud", "bench", "gateway", "--requests", "20"]
    command += ["--concurrency", "8", "--dashboards", "3", "--out", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    paths = report["data"]["paths"]
    assert list(paths) == [
        "direct",
        "floor (bare aiohttp proxy)",
        "gateway (edge only)",
        "gateway (edge+cloud, full chain)",
        "gateway (full chain, 3 dashboards open)",
    ]
    for name, figures in paths.items():
        assert figures["p50"] > 0 and figures["first_token_p50"] > 0, name
        assert len(figures["throughput_rounds"]) == 3 and figures["requests_per_s"] > 0, name
        assert ("added_p50" in figures) == (name != "direct")
    assert paths["direct"]["throughput_ratio"] == 1.0
    assert (tmp_path / "report.html").read_text().count("<img") >= 1
