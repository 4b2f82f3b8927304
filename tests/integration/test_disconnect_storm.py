"""A disconnect storm: 200 streaming clients that leave after half a second. The node must stop every
one of them (running or queued) at once, leak no task, socket or file descriptor, and answer the next
request normally."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from edgecloud.serving.launcher import NodeProcess
from tests.conftest import CHAT, metric_value

pytestmark = pytest.mark.slow
CLIENTS = 200
LEAVE_AFTER_S = 0.5
BODY = {
    "model": CHAT,
    "messages": [{"role": "user", "content": "Count from 1 to 300, one number per line."}],
    "max_tokens": 400,
    "stream": True,
}


@pytest.fixture(scope="module")
def roomy_node() -> Iterator[NodeProcess]:
    with NodeProcess([CHAT], args=["--max-queue", str(CLIENTS + 8), "--threads", "1"]) as node:
        node.wait_ready(timeout=300)
        yield node


async def _leave_early(
    client: httpx.AsyncClient, leave_after: float = LEAVE_AFTER_S, chunks_wanted: int = 0
) -> int:
    """Streams (or waits in the node's queue) for `leave_after` seconds, or until `chunks_wanted` chunks
    arrived, then hangs up; returns the chunks seen."""
    chunks = [0]

    async def consume() -> None:
        async with client.stream("POST", "/v1/chat/completions", json=BODY) as response:
            assert response.status_code == 200
            async for _ in response.aiter_raw():
                chunks[0] += 1
                if chunks[0] == chunks_wanted:
                    return

    with contextlib.suppress(TimeoutError):  # leaving: the cancelled request closes its connection
        await asyncio.wait_for(consume(), leave_after)
    return chunks[0]


async def _storm(url: str) -> list[int]:
    """CLIENTS streams at once; all but one leave after LEAVE_AFTER_S. The first stays for a few tokens
    (at most 60 s), so the engine surely worked during the storm even when opening 200 connections on a
    busy machine takes longer than half a second."""
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        first = _leave_early(client, leave_after=60, chunks_wanted=4)
        rest = (_leave_early(client) for _ in range(CLIENTS - 1))
        return list(await asyncio.gather(first, *rest))


def _established(process: psutil.Process, port: int) -> int:
    return sum(
        1 for c in process.net_connections("tcp") if c.status == "ESTABLISHED" and c.laddr.port == port
    )


def test_200_clients_that_leave_stop_their_work_and_leak_nothing(roomy_node: NodeProcess) -> None:
    assert roomy_node.process is not None
    process = psutil.Process(roomy_node.process.pid)
    port = int(roomy_node.url.rsplit(":", 1)[1])
    httpx.post(f"{roomy_node.url}/v1/chat/completions", json={**BODY, "stream": False, "max_tokens": 2})
    tasks_before = metric_value(roomy_node.url, "edgecloud_event_loop_tasks")
    generated_before = metric_value(roomy_node.url, "edgecloud_generated_tokens_total")
    fds_before = process.num_fds()

    seen = asyncio.run(_storm(roomy_node.url))
    left = time.perf_counter()
    assert len(seen) == CLIENTS

    idle_after = None
    while time.perf_counter() - left < 10:
        depth = metric_value(roomy_node.url, "edgecloud_queue_depth", {"model": CHAT})
        if depth == 0 and metric_value(roomy_node.url, "edgecloud_open_responses") == 0:
            idle_after = time.perf_counter() - left
            break
        time.sleep(0.05)
    assert idle_after is not None and idle_after <= 1.0, f"engine idle only after {idle_after} s"
    assert metric_value(roomy_node.url, "edgecloud_generated_tokens_total") > generated_before  # it was busy
    print(f"idle {idle_after:.2f} s after the last client left; fds {fds_before} -> {process.num_fds()}")
    time.sleep(0.5)  # sockets in the kernel's close handshake
    assert metric_value(roomy_node.url, "edgecloud_event_loop_tasks") <= tasks_before
    assert _established(process, port) <= 1  # at most the scrape that is counting
    assert process.num_fds() <= fds_before + 4

    after = httpx.post(
        f"{roomy_node.url}/v1/chat/completions", json={**BODY, "stream": False, "max_tokens": 8}
    )
    assert after.status_code == 200 and after.json()["choices"][0]["message"]["content"]
