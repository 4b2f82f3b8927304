"""Two small ASGI layers around Ray Serve.

RetryLostReplica runs in Serve's HTTP proxy. When a replica dies with requests in flight (killed,
OOM, node lost), Serve answers those requests with a bare `500 Internal Server Error` (text/plain) and
does not retry them; later requests go to the surviving replicas. This layer replays such a request
(its body is buffered) on another replica, so a client never sees a replica's death as long as no byte
of the answer had reached it (a stream's headers are held back until its first token); when every try
is lost it answers an OpenAI-style 503 with Retry-After. The node app itself never answers 500 in
text/plain (its errors are OpenAI JSON), so only Serve's own failures are retried, and each request is
answered exactly once. A stream cut after its first byte cannot be replayed: the client sees the
chunked body end early (no `[DONE]`).

A retried answer carries `x-edgecloud-serve-retries: N`. ReplicaHeader runs in each replica and
names it in `x-edgecloud-replica`, to see the load spread."""

from __future__ import annotations

import asyncio
import json
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
            relay = _Relay(send, attempt)
            pending = list(body)

            async def replay() -> Message:
                return pending.pop(0) if pending else await receive()  # noqa: B023 - used in this turn

            try:
                await self.app(scope, replay, relay.send)
            except Exception:
                if relay.sent_bytes:
                    raise
                relay.lost = True
            if relay.sent_bytes or (relay.answered and not relay.lost and relay.held is None):
                return
            log.warning("replica lost under %s %s; retry %d", scope["method"], scope["path"], attempt + 1)
            await asyncio.sleep(self.backoff_s * (attempt + 1))
        await _send_unavailable(send)


class _Relay:
    """One attempt's way out. The response start is held back until the first byte of body, so a
    stream whose replica dies before its first token (queued, or still reading the prompt) is lost
    here, not at the client, and can be replayed. After the first byte, nothing can be replayed."""

    def __init__(self, send: Any, attempt: int) -> None:
        self._send = send
        self._attempt = attempt
        self.held: Message | None = None
        self.lost = False
        self.sent_bytes = False
        self.answered = False  # Serve's proxy may also just return, sending nothing, when it lost one

    async def send(self, message: Message) -> None:
        if self.lost:
            return
        if message["type"] == "http.response.start" and not self.sent_bytes:
            self.answered = True
            if _is_serve_failure(message):
                self.lost = True
            else:
                self.held = message
            return
        if message["type"] == "http.response.body" and self.held is not None:
            if not message.get("body") and message.get("more_body", False):
                return  # nothing to show yet: keep holding the start
            start, self.held = self.held, None
            if self._attempt:  # say so: the answer came from a replica other than the first one tried
                retries = (RETRIES_HEADER, str(self._attempt).encode())
                start = {**start, "headers": [*start.get("headers", []), retries]}
            await self._send(start)
            self.sent_bytes = True
        await self._send(message)


async def _send_unavailable(send: Any) -> None:
    """Every try lost its replica: an OpenAI-style 503 the gateway and clients retry, not a bare 500."""
    body = json.dumps(
        {
            "error": {
                "message": "the Ray Serve replicas serving this request were lost; retry",
                "type": "server_error",
                "param": None,
                "code": "replica_lost",
            }
        }
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"retry-after", b"1")]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


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
