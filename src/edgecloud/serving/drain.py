"""Graceful shutdown that never truncates a response.

On SIGTERM a server stops accepting and lets in-flight responses finish. uvicorn, when its graceful
timeout runs out, cancels the request tasks and closes their sockets: a client then reads half a chunked
body ("incomplete chunked read") and cannot tell a crash from a shutdown. Here the server waits the full
drain timeout itself and then *ends* what is still open: a stream gets an OpenAI-style error event and
`data: [DONE]`, a request whose answer has not started gets a 503 with Retry-After. Cancelling the request
task also runs the handlers' own clean-up, so generation stops at the next token."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edgecloud.errors import Unavailable

log = logging.getLogger(__name__)

SHUTDOWN_MESSAGE = "the server is shutting down and ended this response at its drain deadline; retry"


@dataclass
class _Response:
    """What one request has sent so far, seen through its `send`."""

    send_downstream: Send
    started: bool = False
    streaming: bool = False
    complete: bool = False
    ended_by_drain: bool = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = dict(message.get("headers", []))
            self.streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete = True
        await self.send_downstream(message)

    async def finish(self) -> None:
        """End the response cleanly after the drain deadline cancelled its handler."""
        error = Unavailable(SHUTDOWN_MESSAGE, code="shutting_down")
        if not self.started:
            headers = [(b"content-type", b"application/json")]
            headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
            await self.send_downstream(
                {"type": "http.response.start", "status": error.status, "headers": headers}
            )
            await self.send_downstream(
                {"type": "http.response.body", "body": json.dumps(error.to_body()).encode()}
            )
        elif self.streaming:
            event = f"data: {json.dumps(error.to_body(), separators=(',', ':'))}\n\ndata: [DONE]\n\n"
            await self.send_downstream({"type": "http.response.body", "body": event.encode()})
        else:
            await self.send_downstream({"type": "http.response.body", "body": b""})
        self.complete = True


@dataclass
class OpenResponses:
    """The responses in flight in one server; `expire` ends them at the drain deadline."""

    _open: dict[asyncio.Task[object], _Response] = field(default_factory=dict)
    closing: bool = False  # set when shutdown begins: endless feeds (the dashboard's) end themselves

    def expire(self) -> int:
        """Cancel every unfinished handler so that it ends its response; returns how many."""
        ended = 0
        for task, response in list(self._open.items()):
            if not response.complete and not response.ended_by_drain:
                response.ended_by_drain = True
                task.cancel()
                ended += 1
        return ended

    def __len__(self) -> int:
        return len(self._open)

    def track(self, task: asyncio.Task[object], response: _Response) -> None:
        self._open[task] = response

    def forget(self, task: asyncio.Task[object]) -> None:
        self._open.pop(task, None)


class DrainMiddleware:
    """Outermost ASGI layer: records each HTTP response so the server can end it at the deadline."""

    def __init__(self, app: ASGIApp, responses: OpenResponses) -> None:
        self.app = app
        self._responses = responses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        if scope["type"] != "http" or task is None:
            await self.app(scope, receive, send)
            return
        response = _Response(send)
        self._responses.track(task, response)
        try:
            await self.app(scope, receive, response.send)
        except asyncio.CancelledError:
            if not response.ended_by_drain or response.complete:
                raise
            task.uncancel()
            await response.finish()
        finally:
            self._responses.forget(task)


async def wait_then_expire(
    connections: Collection[object], responses: OpenResponses | None, timeout: float, *, poll_s: float = 0.1
) -> int:
    """Wait up to `timeout` for the open connections to finish; then end what is left. Returns the
    number of responses ended early (0 when everything finished in time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while connections and loop.time() < deadline:
        await asyncio.sleep(poll_s)
    if not connections or responses is None:
        return 0
    ended = responses.expire()
    if ended:
        log.warning("drain deadline (%.0fs) reached: ended %d open response(s) cleanly", timeout, ended)
    return ended
