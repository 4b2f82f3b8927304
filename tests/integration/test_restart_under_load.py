"""SIGTERM under load: every request the server had accepted (streaming or not, running or queued)
is answered whole, new connections are refused, the process exits 0; and a gateway with two edge
nodes loses nothing when one of them is stopped in the middle of a steady load."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from edgecloud.serving.launcher import GatewayProcess, NodeProcess
from tests.conftest import CHAT
from tests.integration.test_drain import COUNT, PATIENT, Stream, _wait_for_queue, assert_refuses_connections

pytestmark = pytest.mark.slow
STREAMS = 4
WHOLE = 3


def test_sigterm_under_load_answers_everything_accepted() -> None:
    with NodeProcess([CHAT], args=["--threads", "1", "--max-queue", "16"], env=PATIENT) as node:
        node.wait_ready(timeout=120)
        streams = [
            Stream(node.url, {**COUNT, "max_tokens": 24, "stream": True}).start() for _ in range(STREAMS)
        ]
        answers: list[httpx.Response] = []
        threads = [
            threading.Thread(target=lambda: answers.append(_complete(node.url, 24)), daemon=True)
            for _ in range(WHOLE)
        ]
        for thread in threads:
            thread.start()
        _wait_for_queue(node.url, CHAT, STREAMS + WHOLE)  # all accepted: one decoding, the rest queued
        code = node.terminate(timeout=400)
        for stream in streams:
            assert stream.done.wait(60) and stream.error is None, (stream.error, node.log_tail())
            assert stream.lines[-1] == "data: [DONE]" and '"finish_reason":"length"' in stream.lines[-2]
        for thread in threads:
            thread.join(60)
        assert [r.status_code for r in answers] == [200] * WHOLE, node.log_tail()
        assert code == 0, node.log_tail()
        assert_refuses_connections(node.url)


def _complete(url: str, max_tokens: int) -> httpx.Response:
    return httpx.post(f"{url}/v1/completions", json={**COUNT, "max_tokens": max_tokens}, timeout=300)


def _topology(tmp_path: Path, edges: list[str]) -> str:
    path = tmp_path / "topology.yaml"
    upstreams = ", ".join(f'{{url: "{url}"}}' for url in edges)
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{upstreams}]}}
policies: [privacy, hint, task, offline]
probe_interval_s: 0.5
""")
    return str(path)


def test_stopping_one_of_two_edge_nodes_under_load_loses_nothing(tmp_path: Path) -> None:
    args = ["--threads", "1", "--max-queue", "32"]
    with NodeProcess([CHAT], args=args, env=PATIENT) as first, NodeProcess([CHAT], args=args) as second:
        first.wait_ready(timeout=120)
        second.wait_ready(timeout=120)
        with GatewayProcess(config=_topology(tmp_path, [first.url, second.url])) as gateway:
            gateway.wait_ready(60)
            statuses: Counter[int] = Counter()
            stop = threading.Event()

            def load() -> None:
                while not stop.is_set():
                    body = {"model": "auto", "prompt": "1, 2, 3,", "max_tokens": 4, "temperature": 0}
                    statuses[
                        httpx.post(f"{gateway.url}/v1/completions", json=body, timeout=120).status_code
                    ] += 1

            workers = [threading.Thread(target=load, daemon=True) for _ in range(4)]
            for worker in workers:
                worker.start()
            time.sleep(3)
            assert first.terminate(timeout=300) == 0, first.log_tail()
            time.sleep(3)  # the load goes on against the one node left
            stop.set()
            for worker in workers:
                worker.join(120)
            assert statuses[200] > 20 and set(statuses) == {200}, statuses
