"""Running an ASGI app under uvicorn with the node's shutdown rules: on SIGTERM stop accepting, let
in-flight streams finish within the timeout, end what is still open cleanly (serving.drain), then exit 0."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from edgecloud.serving.drain import OpenResponses, wait_then_expire

# After the drain deadline ended the open responses, how long uvicorn may still wait for their sockets
# to close before it cancels what is left (a handler that ignores cancellation).
_AFTER_DEADLINE_S = 5


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM after its graceful shutdown, so the process dies by the
    signal (exit -15). A node that drained cleanly should exit 0, so we keep the handlers only.

    Shutdown waits for in-flight responses itself (uvicorn would cut them at its timeout) and ends the
    ones still open at the deadline through the app's OpenResponses."""

    def __init__(
        self, config: uvicorn.Config, *, drain_s: float = 0.0, responses: OpenResponses | None = None
    ) -> None:
        super().__init__(config)
        self._drain_s = drain_s
        self._responses = responses

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting; uvicorn's own shutdown closes them again (a no-op)
        if self._responses is not None:
            self._responses.closing = True
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle keep-alive connections close, busy ones after their response
        await wait_then_expire(self.server_state.connections, self._responses, self._drain_s)
        await super().shutdown(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.handle_exit(sig, frame)


def run_server(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    shutdown_timeout: float,
    tls: tuple[str, str] | None = None,
    log_level: str = "warning",
) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=_AFTER_DEADLINE_S,
        ssl_certfile=tls[0] if tls else None,
        ssl_keyfile=tls[1] if tls else None,
        access_log=False,
        proxy_headers=False,  # not behind a proxy by default; parsing X-Forwarded-* costs every request
        server_header=False,
    )
    # Everything imported so far lives as long as the process: move it out of the collector's way so
    # collections during serving only walk request garbage (shorter, rarer pauses).
    gc.collect()
    gc.freeze()
    responses = getattr(getattr(app, "state", None), "open_responses", None)
    _Server(config, drain_s=shutdown_timeout, responses=responses).run()


class EmbeddedServer:
    """An app served on loopback inside the current event loop (e.g. an edge node inside the gateway's
    process): no signal handling of its own, stopped by the host's lifespan."""

    def __init__(self, app: ASGIApp, *, host: str, port: int) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            access_log=False,
            proxy_headers=False,
            server_header=False,
        )
        self._server = _EmbeddedUvicorn(config)
        self._task: asyncio.Task[None] | None = None
        self.url = f"http://{host}:{port}"

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task


class _EmbeddedUvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the host process owns the signals
