"""Two small ASGI layers around Ray Serve.

RetryLostReplica runs in Serve's HTTP proxy. When a replica dies with requests in flight (killed,
OOM, node lost), Serve answers those requests with a bare `500 Internal Server Error` (text/plain) and
does not retry them; later requests go to the surviving replicas. This layer replays such a request
(its body is buffered) on another replica, so a client never sees a replica's death as long as no byte
of the answer had reached it. The node app itself never answers 500 in text/plain (its errors are
OpenAI JSON), so only Serve's own failures are retried, and each request is answered exactly once.

A retried answer carries `x-edgecloud-serve-retries: N`. ReplicaHeader runs in each replica and
names it in `x-edgecloud-replica`, to see the load spread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
REPLICA_HEADER = b"x-edgecloud-replica"
RETRIES_HEADER = b"x-edgecloud-serve-retries"
log = logging.getLogger("ray.serve")


class RetryLostReplica:
    def __init__(self, app: Any, attempts: int = 4, backoff_s: float = 0.2) -> None:
        self.app = app
        self.attempts = attempts
        self.backoff_s = backoff_s

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "GET"):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left before sending its request
            return
        for attempt in range(self.attempts):
            last = attempt == self.attempts - 1
            outcome = await self._attempt(scope, body, receive, send, attempt=attempt, retry=not last)
            if outcome != "lost":
                return
            log.warning("replica lost under %s %s; retry %d", scope["method"], scope["path"], attempt + 1)
            await asyncio.sleep(self.backoff_s * (attempt + 1))

    async def _attempt(
        self, scope: Scope, body: list[Message], receive: Any, send: Any, *, attempt: int, retry: bool
    ) -> str:
        """'sent' (the answer went out), or 'lost' (Serve lost the replica before any byte went out)."""
        state = {"started": False, "lost": False}
        pending = list(body)

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start" and not state["started"]:
                if retry and _is_serve_failure(message):
                    state["lost"] = True
                    return
                state["started"] = True
                if attempt:  # say so: the answer came from a replica other than the first one tried
                    retries = (RETRIES_HEADER, str(attempt).encode())
                    message = {**message, "headers": [*message.get("headers", []), retries]}
            if not state["lost"]:
                await send(message)

        try:
            await self.app(scope, replay, guarded)
        except Exception:
            if state["started"] or not retry:
                raise
            return "lost"
        if state["lost"] or not state["started"]:
            return "lost" if retry else "sent"
        return "sent"


def _is_serve_failure(start: Message) -> bool:
    if start.get("status") != 500:
        return False
    headers = {bytes(k).lower(): bytes(v) for k, v in start.get("headers", [])}
    return not headers.get(b"content-type", b"").startswith(b"application/json")


async def _read_body(receive: Any) -> list[Message] | None:
    messages: list[Message] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        messages.append(message)
        if not message.get("more_body", False):
            return messages


class ReplicaHeader:
    def __init__(self, app: Any, replica: str) -> None:
        self.app = app
        self._header = (REPLICA_HEADER, replica.encode())

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self._header]}
            await send(message)

        await self.app(scope, receive, tagged)
