"""Handing an upstream's answer to the client: streams pass through event by event (never buffered
whole), with the usage event read for accounting and dropped when the client did not ask for it;
whole answers are read once. A client that goes away closes the upstream connection, which cancels
generation there."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from starlette.responses import Response, StreamingResponse

from edgecloud.gateway.decisions import DecisionRecord
from edgecloud.gateway.inbound import Inbound
from edgecloud.gateway.placement import Decision
from edgecloud.gateway.proxy import Opened
from edgecloud.gateway.service import Gateway
from edgecloud.privacy.redact import Redactor, StreamRestorer


def decision_headers(decision: Decision, opened: Opened, escalated: bool = False) -> dict[str, str]:
    reason = decision.reason.encode("ascii", "replace").decode().replace("\r", " ").replace("\n", " ")
    headers = {
        "x-edgecloud-tier": decision.tier,
        "x-edgecloud-policy": decision.policy,
        "x-edgecloud-reason": reason[:500],
        "x-edgecloud-upstream": opened.upstream.name,
    }
    if opened.request_id:
        headers["x-request-id"] = opened.request_id
    if escalated:
        headers["x-edgecloud-escalated"] = "true"
    return headers


class UsageScanner:
    """Splits an SSE byte stream into whole events, reading (and optionally dropping) the usage one."""

    def __init__(self, drop_usage: bool) -> None:
        self._drop = drop_usage
        self._buffer = b""
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        events = []
        while (end := self._buffer.find(b"\n\n")) >= 0:
            event, self._buffer = self._buffer[: end + 2], self._buffer[end + 2 :]
            if b'"usage"' in event and self._read_usage(event) and self._drop:
                continue
            events.append(event)
        return b"".join(events)

    def flush(self) -> bytes:
        rest, self._buffer = self._buffer, b""
        return rest

    def _read_usage(self, event: bytes) -> bool:
        """True for a usage-only event (no choices): the one a client that did not ask must not see."""
        try:
            chunk = json.loads(event.strip()[len(b"data:") :])
        except ValueError:
            return False
        usage = chunk.get("usage") or {}
        self.prompt_tokens = int(usage.get("prompt_tokens", 0))
        self.completion_tokens = int(usage.get("completion_tokens", 0))
        return not chunk.get("choices")


def record_for(
    opened: Opened,
    inbound: Inbound,
    started: float,
    status: int,
    prompt: int = 0,
    completion: int = 0,
    escalated: bool = False,
    ttft_s: float | None = None,
) -> DecisionRecord:
    """`ttft_s`: when the first bytes of a stream came; a whole answer's first token comes with it."""
    latency = round(time.perf_counter() - started, 6)
    if ttft_s is None and not inbound.stream and status == 200:
        ttft_s = latency
    return DecisionRecord(
        time=time.time(),
        request_id=opened.request_id,
        model=inbound.model,
        tier=opened.tier,
        policy=opened.decision.policy,
        reason=opened.decision.reason,
        status=status,
        latency_s=latency,
        prompt_tokens=prompt,
        completion_tokens=completion,
        escalated=escalated,
        attempts=opened.attempts,
        key_id=inbound.key_id,
        prompt=inbound.text(),
        ttft_s=None if ttft_s is None else round(ttft_s, 6),
    )


def restore_whole(redactor: Redactor, data: dict[str, Any]) -> bytes:
    """The answer with placeholders replaced by the originals they stand for."""
    for choice in data.get("choices", []):
        message = choice.get("message") or {}
        if isinstance(message.get("content"), str):
            message["content"] = redactor.restore(message["content"])
        if isinstance(choice.get("text"), str):
            choice["text"] = redactor.restore(choice["text"])
    return json.dumps(data, ensure_ascii=False).encode()


def restore_events(events: bytes, restorer: StreamRestorer) -> bytes:
    """Rewrites whole SSE events: each delta's text through the stream restorer, which may hold back
    a split placeholder until the next event (and lets it go with the finishing one)."""
    out = []
    for event in events.split(b"\n\n"):
        if not event.startswith(b"data: {"):
            out.append(event)
            continue
        chunk = json.loads(event[6:])
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            tail = restorer.flush() if choice.get("finish_reason") else ""
            if isinstance(delta.get("content"), str):
                delta["content"] = restorer.feed(delta["content"]) + tail
            elif isinstance(choice.get("text"), str):
                choice["text"] = restorer.feed(choice["text"]) + tail
        out.append(b"data: " + json.dumps(chunk, ensure_ascii=False).encode())
    return b"\n\n".join(out)


def stream_response(
    gateway: Gateway, opened: Opened, inbound: Inbound, started: float, restorer: StreamRestorer | None = None
) -> Response:
    headers = decision_headers(opened.decision, opened)
    headers["Cache-Control"] = "no-cache"
    return StreamingResponse(
        _relay(gateway, opened, inbound, started, restorer),
        status_code=opened.response.status,
        media_type="text/event-stream",
        headers=headers,
    )


def upstream_broke(opened: Opened, exc: BaseException) -> bytes:
    """An upstream that fails after bytes reached the client cannot be failed over: its breaker counts
    the failure and the stream ends with an error event and [DONE], never cut mid-body."""
    opened.upstream.breaker.failure()
    error = {
        "error": {
            "message": f"upstream {opened.upstream.name} failed mid-stream: {exc.__class__.__name__}",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_stream_error",
        }
    }
    return f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n".encode()


async def _relay(
    gateway: Gateway, opened: Opened, inbound: Inbound, started: float, restorer: StreamRestorer | None
) -> AsyncIterator[bytes]:
    scanner = UsageScanner(drop_usage=not inbound.client_wants_usage())
    first: float | None = None
    status, finished, broke = opened.response.status, False, False
    try:
        async for data in opened.response.content.iter_any():
            if first is None:
                first = time.perf_counter()
                _observe_ttft(gateway, opened, inbound, first - started)
            if out := scanner.feed(data):
                yield restore_events(out, restorer) if restorer is not None else out
        if rest := scanner.flush():
            yield rest
        finished = True
    except (TimeoutError, aiohttp.ClientError) as exc:
        status, broke = 502, True
        yield upstream_broke(opened, exc)
    finally:
        opened.finish()
        if finished:
            opened.response.release()
        else:
            opened.response.close()  # the client left (or the upstream broke): stop the upstream too
        if first is not None and scanner.completion_tokens > 1:
            opened.upstream.tpot.add((time.perf_counter() - first) / scanner.completion_tokens)
        gateway.account(
            record_for(
                opened,
                inbound,
                started,
                status if finished or broke else 499,  # 499: the client left; 502: the upstream broke
                scanner.prompt_tokens,
                scanner.completion_tokens,
                ttft_s=None if first is None else first - started,
            )
        )


def _observe_ttft(gateway: Gateway, opened: Opened, inbound: Inbound, seconds: float) -> None:
    opened.upstream.observe_ttft(seconds, opened.ahead)
    gateway.metrics.child(gateway.metrics.ttft, opened.tier, inbound.model).observe(seconds)


async def read_whole(
    gateway: Gateway, opened: Opened, inbound: Inbound, started: float
) -> tuple[bytes, dict[str, Any] | None]:
    """The whole body (and its JSON when it parses), with TTFT observed for a successful answer."""
    try:
        body = await opened.response.read()
    finally:
        opened.finish()
        opened.response.release()
    data: dict[str, Any] | None = None
    if opened.response.status == 200:
        _observe_ttft(gateway, opened, inbound, time.perf_counter() - started)
        try:
            parsed = json.loads(body)
            data = parsed if isinstance(parsed, dict) else None
        except ValueError:
            data = None
    return body, data


def usage_of(data: dict[str, Any] | None) -> tuple[int, int]:
    usage = (data or {}).get("usage") or {}
    return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
