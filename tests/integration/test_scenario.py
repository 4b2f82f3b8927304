"""The hybrid scenario end to end on loopback: real nodes, the link emulator and the gateway, a tiny
workload on every placement, a report with its plots, and nothing left running afterwards."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from rich.console import Console

from edgecloud.bench.report import write_report
from edgecloud.bench.scenario import ScenarioConfig, StackConfig, run_scenario
from edgecloud.bench.scenario_report import build_report
from edgecloud.serving.launcher import free_port


def port_is_closed(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket() as sock:
        return sock.connect_ex((parts.hostname or "127.0.0.1", parts.port or 80)) != 0


@pytest.mark.slow
def test_a_tiny_hybrid_scenario_compares_placements_and_stops_everything(tmp_path: Path) -> None:
    # Both nodes serve SmolLM2 here, so the test stays short; the command's default pair is
    # Qwen2.5-Coder-0.5B at the edge and Qwen2.5-Coder-1.5B in the cloud.
    tiny = "smollm2-135m-instruct"
    stack = StackConfig(edge_model=tiny, cloud_model=tiny, rtt_s=0.05, workdir=tmp_path)
    config = ScenarioConfig(
        stack=stack,
        requests=8,  # one full mix: 4 labeled, 2 dialogue, 1 private, 1 mining
        concurrency=(2,),
        max_tokens=4,
        warm_up_requests=1,
        sweep_rtts_s=(0.0, 0.1),
        sweep_requests=1,
        out=tmp_path,
    )
    seen: list[str] = []
    results = run_scenario(config, Console(quiet=True), on_stack=lambda s: seen.extend(s.urls()))

    assert all(a.ok for a in (*results.answers, *results.sweep)), [a.error for a in results.answers]
    hybrid = [a for a in results.answers if a.placement == "hybrid"]
    assert {a.tier for a in hybrid if a.kind == "private"} == {"edge"}  # PII never left the edge
    assert {(a.tier, a.policy) for a in hybrid if a.kind == "mining"} == {("cloud", "task")}
    assert {a.tier for a in results.answers if a.placement == "cloud-only"} == {"cloud"}
    assert {(a.placement, a.rtt_s) for a in results.sweep} == {
        (placement, rtt) for placement in ("edge-only", "cloud-only", "hybrid") for rtt in (0.0, 0.1)
    }

    # The gateway's decision log is kept beside the report: one line per request it placed (warm-up,
    # hybrid rounds, sweep), each with what placement read, so the run can be replayed.
    logged = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert len(logged) == 1 + len(hybrid) + len([a for a in results.sweep if a.placement == "hybrid"])
    assert all(line["placement"]["states"].keys() == {"edge", "cloud"} for line in logged)

    _, html = write_report(build_report(results), tmp_path / "report")
    page = html.read_text()
    # 9 plots, the quality bars and the quality/cloud-share curve (random and oracle: no router ships
    # for a SmolLM2/SmolLM2 pair)
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', page)) == 11
    labeled = [a for a in results.answers if a.kind == "labeled"]
    assert len(labeled) == 12 and all(a.score is not None and 0 <= a.score <= 1 for a in labeled)
    assert seen and all(port_is_closed(url) for url in seen)


def test_a_given_node_that_is_not_there_is_a_clear_error_with_exit_code_2(tmp_path: Path) -> None:
    dead = [f"http://127.0.0.1:{port}" for port in (free_port(), free_port())]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgecloud",
            "bench",
            "scenario",
            "hybrid",
            "--edge",
            dead[0],
            "--cloud",
            dead[1],
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "edge node" in done.stderr and "not healthy" in done.stderr and "Traceback" not in done.stderr
