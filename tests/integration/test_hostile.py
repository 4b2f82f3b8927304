"""Thousands of seeded malformed and hostile requests against a live node and a live gateway: no 5xx,
every error OpenAI-shaped, nothing hangs, a normal request is served afterwards, RSS reported. The
bounded form of `make fuzz` (10,000 per server there)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from edgecloud.bench.hostile.cases import Target, cases
from edgecloud.bench.hostile.runner import run, summary
from edgecloud.serving.launcher import GatewayProcess, NodeProcess
from tests.conftest import CHAT, EMBED

pytestmark = pytest.mark.slow
REQUESTS = 1_000
NORMAL = {"model": CHAT, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}


def test_the_node_survives_hostile_requests(node: NodeProcess) -> None:
    assert node.process is not None
    batch = list(cases(REQUESTS, Target(CHAT, EMBED), seed=1))
    assert {case.family for case in batch} >= {"deep nesting", "invalid utf-8", "multipart", "slow body"}
    outcome = asyncio.run(run(node.url, batch, NORMAL, pid=node.process.pid))
    assert outcome.failures == [], summary(outcome)
    assert outcome.after_ok and outcome.sent == REQUESTS
    assert outcome.statuses[400] > REQUESTS // 2  # most of them are refused, as they should be
    assert outcome.peak_rss_mb is not None and outcome.peak_rss_mb > 0


def test_the_gateway_survives_hostile_requests_through_the_cli(node: NodeProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with GatewayProcess(edge=node.url) as gateway:
        gateway.wait_ready(60)
        assert gateway.process is not None
        out = tmp_path / "hostile.json"
        command = [sys.executable, "-m", "edgecloud", "bench", "hostile", "--url", gateway.url]
        command += ["--requests", str(REQUESTS), "--seed", "2", "--no-verify"]
        command += ["--pid", str(gateway.process.pid), "--out", str(out)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        result = json.loads(out.read_text())
        assert result["passed"] and result["failure_count"] == 0
        assert result["sent"] == REQUESTS and result["peak_rss_mb"] > 0
        assert "requests in" in done.stdout and "passed" in done.stdout
