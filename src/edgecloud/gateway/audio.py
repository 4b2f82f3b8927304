"""/v1/audio/transcriptions and /v1/audio/dialogue through the gateway: speech stays on the edge.

A voice identifies its speaker and cannot be redacted the way text can, so the privacy rule for audio is
simple: the edge tier answers, pinned (no failover carries the recording to the cloud), unless the
client names a tier with `x-edgecloud-tier` (its key permitting). The multipart upload passes through
byte for byte; the node's answer (JSON, text, subtitles, or the dialogue's event stream) comes back as
the node sent it, with the gateway's placement headers, and every request is in the decision log."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.inbound import AUTO, Inbound
from edgecloud.gateway.placement import Decision
from edgecloud.gateway.proxy import Opened
from edgecloud.gateway.relay import decision_headers, record_for, upstream_broke
from edgecloud.gateway.service import Gateway
from edgecloud.security.auth import check_tier, request_key
from edgecloud.serving.errors import read_bytes

MULTIPART = "multipart/form-data"


def place_audio(gateway: Gateway, hint: str | None) -> Decision:
    if hint is None:
        return Decision(
            gateway.states().edge,
            "privacy",
            "speech stays on the edge (a voice is personal data)",
            pinned=True,
        )
    gateway.check_tier_name(hint)
    return Decision(hint, "hint", f"client asked for tier {hint}", pinned=True)


async def audio_answer(request: Request, path: str) -> Response:
    gateway: Gateway = request.app.state.gateway
    started = time.perf_counter()
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(MULTIPART):
        raise InvalidRequest(
            f"expected a multipart/form-data body with a 'file' field, got {content_type or 'none'!r}"
        )
    raw = await read_bytes(request, gateway.topology.max_audio_bytes)
    hint = request.headers.get("x-edgecloud-tier")
    key = request_key(request)
    decision = place_audio(gateway, hint)
    check_tier(request, decision.tier)  # a key limited to other tiers gets a 403, never a quiet move
    inbound = Inbound("audio", {"model": AUTO}, b"", key.id if key is not None else "")
    request_id = request.headers.get("x-request-id") or f"gw-audio-{time.time_ns():x}"
    assert gateway.proxy is not None
    opened = await gateway.proxy.open(decision, path, lambda _tier: raw, request_id, content_type)
    headers = decision_headers(opened.decision, opened)
    media_type = opened.response.headers.get("content-type", "application/json")
    if media_type.startswith("text/event-stream") and opened.response.status == 200:
        headers["Cache-Control"] = "no-cache"
        stream = _pass_through(gateway, opened, inbound, started)
        return StreamingResponse(stream, status_code=200, media_type="text/event-stream", headers=headers)
    try:
        body = await opened.response.read()
    finally:
        opened.finish()
        opened.response.release()
    gateway.account(record_for(opened, inbound, started, opened.response.status))
    return Response(body, status_code=opened.response.status, media_type=media_type, headers=headers)


async def _pass_through(
    gateway: Gateway, opened: Opened, inbound: Inbound, started: float
) -> AsyncIterator[bytes]:
    """The node's events as they come; a client that leaves closes the upstream request (and so stops
    the node's transcription and answer)."""
    status, finished, broke = 200, False, False
    try:
        async for data in opened.response.content.iter_any():
            yield data
        finished = True
    except (TimeoutError, aiohttp.ClientError) as exc:
        status, broke = 502, True
        yield upstream_broke(opened, exc)
    finally:
        opened.finish()
        if finished:
            opened.response.release()
        else:
            opened.response.close()
        # 499: the client left; 502: the upstream broke
        gateway.account(record_for(opened, inbound, started, status if finished or broke else 499))
