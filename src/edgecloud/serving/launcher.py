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
from typing import Self

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServiceProcess:
    """A server of ours in a child process on loopback; a context manager that always stops it."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        port: int,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        tls_ca: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.tls_ca = tls_ca  # the child serves HTTPS with a certificate this CA signed
        self.url = f"{'https' if tls_ca else 'http'}://{'localhost' if tls_ca else host}:{self.port}"
        self._command = list(command)
        self._env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: a chatty child must never block on a full pipe nobody reads.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the node process
            prefix="edgecloud-node-", suffix=".log", delete=False
        )

    def start(self) -> Self:
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
                response = httpx.get(f"{self.url}/health", timeout=2.0, verify=self.tls_ca or True)
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.terminate()
        self.log.close()
        os.unlink(self.log.name)


class NodeProcess(ServiceProcess):
    """`edgecloud serve` with the given models."""

    def __init__(
        self,
        models: Sequence[str],
        *,
        port: int | None = None,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        tls_ca: str | None = None,
    ) -> None:
        port = port or free_port(host)
        command = [sys.executable, "-m", "edgecloud", "serve", "--host", host, "--port", str(port)]
        for model in models:
            command += ["--model", model]
        super().__init__([*command, *args], port=port, env=env, host=host, tls_ca=tls_ca)


class GatewayProcess(ServiceProcess):
    """`edgecloud gateway` in front of the given tiers (or a topology file)."""

    def __init__(
        self,
        *,
        edge: str | None = None,
        cloud: str | None = None,
        config: str | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
        env: dict[str, str] | None = None,
        tls_ca: str | None = None,
    ) -> None:
        port = port or free_port()
        command = [sys.executable, "-m", "edgecloud", "gateway", "--port", str(port)]
        for flag, value in (("--edge", edge), ("--cloud", cloud), ("--config", config)):
            if value:
                command += [flag, value]
        super().__init__([*command, *args], port=port, env=env, tls_ca=tls_ca)


class EchoProcess(ServiceProcess):
    """The instant OpenAI-compatible upstream of edgecloud.bench.echo, optionally faulty."""

    def __init__(
        self,
        *,
        error_rate: float = 0.0,
        reset_rate: float = 0.0,
        seed: int | None = None,
        port: int | None = None,
    ) -> None:
        port = port or free_port()
        command = [
            sys.executable,
            "-m",
            "edgecloud.bench.echo",
            "--port",
            str(port),
            "--error-rate",
            str(error_rate),
            "--reset-rate",
            str(reset_rate),
        ]
        if seed is not None:
            command += ["--seed", str(seed)]
        super().__init__(command, port=port)
