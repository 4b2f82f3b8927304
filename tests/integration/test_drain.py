"""SIGTERM on a real node and a real gateway: in-flight streams finish, the process exits 0 and stops
accepting; what is still open at the drain deadline is ended as a stream (an error event and [DONE]) or
answered 503, never cut mid-body."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from edgecloud.serving.launcher import GatewayProcess, NodeProcess, ServiceProcess
from tests.conftest import CHAT

pytestmark = pytest.mark.slow

COUNT = {
    "model": CHAT,
    "prompt": "List the numbers from 1 to 500, separated by commas: 1, 2,",
    "temperature": 0,
}
# A wide margin: the drain promise is tested, not the machine's speed (80 tokens take ~2 s when quiet).
PATIENT = {"EDGECLOUD_SHUTDOWN_TIMEOUT": "300"}


@dataclass
class Stream:
    """A streaming completion read on its own thread, so the test can signal the server meanwhile."""

    url: str
    body: dict[str, object]
    lines: list[str] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stream:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def wait_for_chunks(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and not self.done.is_set():
            assert time.monotonic() < deadline, f"no {count} chunks within {timeout}s"
            time.sleep(0.01)
        assert len(self.lines) >= count, (self.lines, self.error)

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=300) as client,
                client.stream("POST", f"{self.url}/v1/completions", json=self.body) as response,
            ):
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        self.lines.append(line)
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()


def terminate_during(service: ServiceProcess, stream: Stream) -> int:
    stream.wait_for_chunks(3)
    code = service.terminate(timeout=400)
    assert stream.done.wait(60)
    assert stream.error is None, f"{stream.error!r}\nserver log:\n{service.log_tail()}"
    return code


def assert_refuses_connections(url: str) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health", timeout=2)


def test_sigterm_lets_the_inflight_stream_finish_and_exits_zero() -> None:
    with NodeProcess([CHAT], args=["--threads", "1"], env=PATIENT) as node:
        node.wait_ready(timeout=120)
        stream = Stream(node.url, {**COUNT, "max_tokens": 80, "stream": True}).start()
        code = terminate_during(node, stream)
        assert stream.lines[-1] == "data: [DONE]"
        assert '"finish_reason":"length"' in stream.lines[-2], node.log_tail()
        assert code == 0, node.log_tail()
        assert_refuses_connections(node.url)


def test_at_the_drain_deadline_a_stream_ends_with_an_error_event_and_a_waiting_request_gets_503() -> None:
    env = {"EDGECLOUD_SHUTDOWN_TIMEOUT": "1"}
    with NodeProcess([CHAT], args=["--threads", "1"], env=env) as node:
        node.wait_ready(timeout=120)
        stream = Stream(node.url, {**COUNT, "max_tokens": 2000, "stream": True}).start()
        stream.wait_for_chunks(3)
        whole: list[httpx.Response] = []
        waiting = _in_thread(lambda: whole.append(_post(node.url, {**COUNT, "max_tokens": 2000})))
        _wait_for_queue(node.url, CHAT, 2)  # the second request waits behind the stream
        code = terminate_during(node, stream)
        waiting.join(60)
        assert stream.lines[-1] == "data: [DONE]"
        assert '"code":"shutting_down"' in stream.lines[-2]
        assert len(stream.lines) < 1000  # ended at the deadline, not after 2,000 tokens
        assert whole and whole[0].status_code == 503, node.log_tail()
        assert whole[0].json()["error"]["code"] == "shutting_down"
        assert whole[0].headers["retry-after"] == "1"
        assert code == 0, node.log_tail()


def test_gateway_sigterm_lets_the_relayed_stream_finish_and_exits_zero() -> None:
    with NodeProcess([CHAT], args=["--threads", "1"]) as node:
        node.wait_ready(timeout=120)
        with GatewayProcess(edge=node.url, args=["--shutdown-timeout", "300"]) as gateway:
            gateway.wait_ready(60)
            stream = Stream(gateway.url, {**COUNT, "max_tokens": 80, "stream": True}).start()
            code = terminate_during(gateway, stream)
            assert stream.lines[-1] == "data: [DONE]"
            assert '"finish_reason":"length"' in stream.lines[-2], gateway.log_tail()
            assert code == 0, gateway.log_tail()
            assert_refuses_connections(gateway.url)
        assert httpx.get(f"{node.url}/health", timeout=5).status_code == 200  # the node is untouched


def test_gateway_drain_deadline_ends_the_relayed_stream_cleanly() -> None:
    with NodeProcess([CHAT], args=["--threads", "1"]) as node:
        node.wait_ready(timeout=120)
        with GatewayProcess(edge=node.url, args=["--shutdown-timeout", "1"]) as gateway:
            gateway.wait_ready(60)
            stream = Stream(gateway.url, {**COUNT, "max_tokens": 2000, "stream": True}).start()
            code = terminate_during(gateway, stream)
            assert stream.lines[-1] == "data: [DONE]"
            assert '"code":"shutting_down"' in stream.lines[-2]
            assert code == 0, gateway.log_tail()


def _post(url: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{url}/v1/completions", json=body, timeout=300)


def _wait_for_queue(url: str, model: str, depth: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/health", timeout=5).json()["models"][model]["queue_depth"] < depth:
        assert time.monotonic() < deadline, f"queue of {model} never reached {depth}"
        time.sleep(0.05)


def _in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread
