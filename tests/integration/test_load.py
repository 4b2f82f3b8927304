"""The load generator against the instant echo upstream: closed and open loop, streaming metrics,
errors counted by kind, nothing lost."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

from edgecloud.bench.load import run_load, summarize
from edgecloud.serving.launcher import EchoProcess

BODY = {
    "model": "echo-1",
    "messages": [{"role": "user", "content": "one two three four"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def test_closed_loop_streaming_measures_ttft_and_inter_token_latency() -> None:
    with EchoProcess() as echo:
        echo.wait_ready(30)
        samples, wall = asyncio.run(run_load(f"{echo.url}/v1/chat/completions", [BODY] * 40, concurrency=4))
    result = summarize(samples, wall, "c4")
    assert result["succeeded"] == 40 and result["errors"] == {}
    assert {"p50", "p90", "p95", "p99"} <= set(result["ttft_s"]) and result["inter_token_s"]["p50"] >= 0
    assert all(s["output_tokens"] == 4 for s in result["samples"])


def test_open_loop_keeps_its_arrival_rate() -> None:
    with EchoProcess() as echo:
        echo.wait_ready(30)
        started = time.perf_counter()
        samples, _ = asyncio.run(
            run_load(f"{echo.url}/v1/chat/completions", [{**BODY, "stream": False}] * 60, rate=100.0, seed=1)
        )
        elapsed = time.perf_counter() - started
    assert len(samples) == 60
    assert 0.3 < elapsed < 1.5  # 60 arrivals at 100/s take ~0.6 s


def test_errors_are_counted_by_kind_and_none_is_lost(tmp_path: Path) -> None:
    with EchoProcess(error_rate=0.5, seed=2) as echo:
        echo.wait_ready(30)
        out = tmp_path / "load.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "edgecloud",
                "bench",
                "load",
                echo.url,
                "--model",
                "echo-1",
                "--concurrency",
                "1,8",
                "--requests",
                "40",
                "--out",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr
    levels = json.loads(out.read_text())["levels"]
    assert [level["label"] for level in levels] == ["concurrency=1", "concurrency=8"]
    for level in levels:
        errors = level["errors"]
        assert set(errors) <= {"http_500", "http_503"} and sum(errors.values()) > 5
        assert level["succeeded"] + sum(errors.values()) == 40
