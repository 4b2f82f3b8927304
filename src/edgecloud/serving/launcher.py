"""Start a real node in a child process and wait until it is healthy: used by the demo, the benchmarks
and the integration tests, so all three exercise the same `edgecloud serve` a user runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from types import TracebackType

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class NodeProcess:
    """`edgecloud serve` on loopback; a context manager that always stops the child."""

    def __init__(
        self,
        models: Sequence[str],
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.url = f"http://{host}:{self.port}"
        command = [sys.executable, "-m", "edgecloud", "serve", "--host", host, "--port", str(self.port)]
        for model in models:
            command += ["--model", model]
        self._command = command + list(args)
        self._env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a chatty child must never block on a full pipe nobody reads.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the node process
            prefix="edgecloud-node-", suffix=".log", delete=False
        )

    def start(self) -> NodeProcess:
        self.process = subprocess.Popen(self._command, env=self._env, stdout=self.log, stderr=self.log)
        return self

    def log_tail(self, chars: int = 3000) -> str:
        with open(self.log.name, errors="replace") as handle:
            return handle.read()[-chars:]

    def wait_ready(
        self, timeout: float = 180.0, on_poll: Callable[[dict[str, object]], None] | None = None
    ) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=2.0)
                body: dict[str, object] = response.json()
                if on_poll:
                    on_poll(body)
                if response.status_code == 200:
                    return body
                if body.get("status") == "failed":
                    raise RuntimeError(f"node failed to load models: {body}")
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"node on {self.url} not healthy after {timeout:.0f}s")

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then wait; SIGKILL only if the node ignores the deadline."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self) -> NodeProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.terminate()
        self.log.close()
        os.unlink(self.log.name)
