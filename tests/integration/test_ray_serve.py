"""`edgecloud cloud serve` on a local Ray: the node's OpenAI app as a Ray Serve deployment with two
SmolLM2 replicas (llama.cpp, one thread each), called with real clients over Serve's HTTP proxy."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
from openai import OpenAI

from edgecloud.serving.launcher import GatewayProcess, NodeProcess, ServiceProcess, free_port

pytestmark = pytest.mark.slow
CHAT = "smollm2-135m-instruct"
PROMPT = [{"role": "user", "content": "Write three sentences about the sea."}]


class CloudServeProcess(ServiceProcess):
    """`edgecloud cloud serve` in a child process; ready once Serve's proxy answers /health with 200."""

    def __init__(self, args: list[str]) -> None:
        port = free_port()
        command = [
            sys.executable,
            "-m",
            "edgecloud",
            "cloud",
            "serve",
            "-m",
            CHAT,
            "--port",
            str(port),
            *args,
        ]
        super().__init__(command, port=port)

    def wait_healthy(self, timeout: float = 150.0) -> None:
        """Until the command says ready (every replica passed its first health check: /health alone
        answers 200 as soon as one replica is up) and the proxy answers."""
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"cloud serve exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                ready = "ready in" in self.log_tail(100_000)
                if ready and httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"cloud serve not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def descendants(self) -> list[psutil.Process]:
        assert self.process is not None
        return psutil.Process(self.process.pid).children(recursive=True)

    def replica_pids(self) -> list[int]:
        found = []
        for proc in self.descendants():
            try:
                if "ServeReplica" in " ".join(proc.cmdline()):
                    found.append(proc.pid)
            except psutil.Error:
                continue
        return sorted(found)


@pytest.fixture(scope="module")
def cloud() -> Iterator[CloudServeProcess]:
    with CloudServeProcess(["--replicas", "2", "--threads", "1"]) as process:
        process.wait_healthy()
        yield process


def _chat(url: str, max_tokens: int = 24) -> httpx.Response:
    body = {"model": CHAT, "messages": PROMPT, "max_tokens": max_tokens, "temperature": 0}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=120)


def test_two_replicas_share_concurrent_requests(cloud: CloudServeProcess) -> None:
    assert len(cloud.replica_pids()) == 2
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: _chat(cloud.url), range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert all(r.json()["choices"][0]["message"]["content"] for r in responses)
    assert len({r.headers["x-edgecloud-replica"] for r in responses}) == 2


def test_the_openai_client_streams_sse_through_the_serve_proxy(cloud: CloudServeProcess) -> None:
    client = OpenAI(base_url=f"{cloud.url}/v1", api_key="unused", max_retries=0, timeout=60)
    stream = client.chat.completions.create(
        model=CHAT, messages=PROMPT, max_tokens=16, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) >= 3  # token by token, not one buffered answer
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 16


def test_errors_keep_the_openai_shape_through_serve(cloud: CloudServeProcess) -> None:
    response = httpx.post(
        f"{cloud.url}/v1/chat/completions", json={"model": "nope", "messages": PROMPT}, timeout=30
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert "x-edgecloud-serve-retries" not in response.headers  # the app's own errors are not retried


def _kill_one_replica_under_load(cloud: CloudServeProcess, delay: float) -> tuple[list[httpx.Response], int]:
    victim = cloud.replica_pids()[0]
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(_chat, cloud.url, 48) for _ in range(8)]
        time.sleep(delay)
        os.kill(victim, signal.SIGKILL)
        responses = [f.result() for f in futures]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # Serve's controller replaces the dead replica
        pids = cloud.replica_pids()
        if len(pids) == 2 and victim not in pids:
            break
        time.sleep(0.5)
    return responses, victim


def test_a_replica_killed_mid_run_loses_no_request(cloud: CloudServeProcess) -> None:
    """Serve answers the killed replica's in-flight requests with a bare 500; RetryLostReplica in the
    proxy replays them on the other replica, so every request gets exactly one 200 answer. Short
    answers can all finish before the kill on a quiet machine, so the kill comes sooner each round
    until it catches requests in flight (every round must lose nothing)."""
    retried: list[httpx.Response] = []
    for delay in (1.0, 0.4, 0.15):
        responses, victim = _kill_one_replica_under_load(cloud, delay)
        assert [r.status_code for r in responses] == [200] * 8
        assert all(r.json()["choices"][0]["message"]["content"] for r in responses)
        assert len(cloud.replica_pids()) == 2 and victim not in cloud.replica_pids()
        retried = [r for r in responses if int(r.headers.get("x-edgecloud-serve-retries", "0")) > 0]
        if retried:
            break
    assert retried, "no kill caught requests in flight"
    assert all(r.headers["x-edgecloud-replica"] != "" for r in retried)


def test_the_gateway_uses_ray_serve_as_its_cloud_tier(cloud: CloudServeProcess) -> None:
    with NodeProcess([CHAT], args=["--tier", "edge"]) as edge:
        edge.wait_ready(timeout=120)
        with GatewayProcess(edge=edge.url, cloud=cloud.url) as gateway:
            gateway.wait_ready(timeout=60)
            client = OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0, timeout=60)
            mining = client.chat.completions.with_raw_response.create(
                model="edgecloud-mining", messages=PROMPT, max_tokens=8
            )
            chat = client.chat.completions.with_raw_response.create(
                model="edgecloud-dialogue", messages=PROMPT, max_tokens=8
            )
    assert mining.headers["x-edgecloud-tier"] == "cloud"
    assert mining.parse().choices[0].message.content
    assert chat.headers["x-edgecloud-tier"] == "edge"


def test_sigterm_removes_the_deployment_and_stops_ray(cloud: CloudServeProcess) -> None:
    ray_processes = cloud.descendants()
    assert any("raylet" in " ".join(p.cmdline()) for p in ray_processes)
    assert cloud.terminate(timeout=60) == 0
    time.sleep(1.0)
    alive = [p.pid for p in ray_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == []
