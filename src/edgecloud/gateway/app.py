"""The gateway's HTTP face: the node's OpenAI API (chat, completions, embeddings, models, streaming),
placed per request, plus /health for every upstream, /metrics and the operator's /dashboard."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from edgecloud.errors import Forbidden
from edgecloud.gateway.audio import audio_answer
from edgecloud.gateway.classify import classify_answer
from edgecloud.gateway.dashboard.routes import dashboard_routes
from edgecloud.gateway.dashboard.snapshot import publish_forever
from edgecloud.gateway.inbound import AUTO, Inbound, parse_inbound, task_alias
from edgecloud.gateway.placement import Decision
from edgecloud.gateway.proxy import Opened
from edgecloud.gateway.relay import (
    decision_headers,
    read_whole,
    record_for,
    restore_whole,
    stream_response,
    usage_of,
)
from edgecloud.gateway.service import Gateway, Placement
from edgecloud.privacy.redact import StreamRestorer
from edgecloud.routing.signals import confidence
from edgecloud.security.auth import ApiKeyMiddleware, check_model, check_tier, request_key
from edgecloud.security.keys import ApiKey, KeyStore
from edgecloud.serving.drain import DrainMiddleware, OpenResponses
from edgecloud.serving.errors import EXCEPTION_HANDLERS, read_bytes
from edgecloud.serving.openapi import gateway_document, openapi_route
from edgecloud.serving.server import EmbeddedServer

WATCH_AFTER_S = 0.05
PATHS = {
    "chat": "/v1/chat/completions",
    "completion": "/v1/completions",
    "embedding": "/v1/embeddings",
    "classification": "/v1/classify",
}


async def _serve(request: Request, kind: str) -> Response:
    gateway: Gateway = request.app.state.gateway
    started = time.perf_counter()
    inbound = parse_inbound(kind, await read_bytes(request, gateway.topology.max_body_bytes))
    key = request_key(request)
    if key is not None:
        inbound = _authorize(request, key, inbound)
    if inbound.stream:  # the relay stops the upstream when a streaming client leaves
        return await _answer(request, gateway, inbound, started)
    # A client that leaves before a whole answer arrives cancels this handler, and with it the upstream
    # request: the closed connection stops generation there. The watcher starts only once the answer
    # takes longer than WATCH_AFTER_S: fast answers (most of them) skip its cost entirely.
    handler = asyncio.current_task()
    watchers: list[asyncio.Task[None]] = []
    timer = asyncio.get_running_loop().call_later(
        WATCH_AFTER_S, lambda: watchers.append(asyncio.ensure_future(_cancel_on_disconnect(request, handler)))
    )
    try:
        return await _answer(request, gateway, inbound, started)
    except asyncio.CancelledError:
        if not (watchers and watchers[0].done()) or handler is None:
            raise  # a real shutdown, not a client that left
        handler.uncancel()
        return Response(status_code=499)  # "client closed request": nobody is there to read it
    finally:
        timer.cancel()
        for watcher in watchers:
            watcher.cancel()


async def _answer(request: Request, gateway: Gateway, inbound: Inbound, started: float) -> Response:
    kind = inbound.kind
    headers = request.headers
    key = request_key(request)
    privacy_mode = key.privacy if key is not None else None
    if gateway.needs_priming(inbound, privacy_mode):
        await asyncio.to_thread(gateway.prime, inbound, privacy_mode)
    placement = gateway.place(
        inbound,
        headers.get("x-edgecloud-tier"),
        headers.get("x-request-id"),
        privacy_mode,
    )
    if key is not None and key.tiers:
        placement = _within_scope(gateway, placement, key)
    if kind == "classification":  # edge first; low-confidence inputs escalate to the cloud
        return await classify_answer(gateway, inbound, placement, started)
    if placement.decision.cascade and gateway.cascade is not None:
        return await _cascade(gateway, inbound, placement, started)
    assert gateway.proxy is not None
    opened = await gateway.proxy.open(
        placement.decision, PATHS[kind], gateway.payload_for(placement, inbound), placement.request_id
    )
    if inbound.stream and opened.response.status == 200:
        return stream_response(gateway, opened, inbound, started, _restorer(placement, opened))
    body, data = await read_whole(gateway, opened, inbound, started)
    return _finish(gateway, placement, opened, inbound, started, body, data)


def _authorize(request: Request, key: ApiKey, inbound: Inbound) -> Inbound:
    """403 for a model or an explicitly asked tier outside the key's scope; the key id goes to the log."""
    if inbound.model != AUTO and task_alias(inbound.model) is None:
        check_model(request, inbound.model)
    hint = request.headers.get("x-edgecloud-tier") or inbound.metadata.get("tier")
    if isinstance(hint, str):
        check_tier(request, hint)
    return replace(inbound, key_id=key.id)


def _within_scope(gateway: Gateway, placement: Placement, key: ApiKey) -> Placement:
    """A key limited to some tiers keeps its requests there (no cascade or failover beyond them)."""
    allowed = [name for name in gateway.tiers if key.allows_tier(name)]
    decision = placement.decision
    if decision.tier in allowed and len(allowed) == len(gateway.tiers):
        return placement
    if not allowed or (decision.pinned and decision.tier not in allowed):
        raise Forbidden(
            f"key {key.id} may not use the {decision.tier} tier ({decision.reason})", code="tier_not_allowed"
        )
    tier = decision.tier if decision.tier in allowed else allowed[0]
    scoped = Decision(
        tier,
        "scope" if tier != decision.tier else decision.policy,
        f"key {key.id} may use only {', '.join(allowed)}; {decision.reason}",
        pinned=True,
    )
    return replace(placement, decision=scoped)


def _finish(
    gateway: Gateway,
    placement: Placement,
    opened: Opened,
    inbound: Inbound,
    started: float,
    body: bytes,
    data: dict[str, Any] | None,
    escalated: bool = False,
) -> Response:
    """Account for a whole answer (cost, metrics, decision log) and hand it on with its reasons; an
    answer to a redacted prompt gets the originals back first."""
    status = opened.response.status
    gateway.account(record_for(opened, inbound, started, status, *usage_of(data), escalated=escalated))
    if placement.redactor is not None and placement.redacts_for(opened.tier) and data is not None:
        body = restore_whole(placement.redactor, data)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers=decision_headers(opened.decision, opened, escalated=escalated),
    )


def _restorer(placement: Placement, opened: Opened) -> StreamRestorer | None:
    if placement.redactor is not None and placement.redacts_for(opened.tier):
        return placement.redactor.stream()
    return None


async def _cascade(gateway: Gateway, inbound: Inbound, placement: Placement, started: float) -> Response:
    """The edge answers first with logprobs; a low-confidence answer is replaced by the cloud's."""
    assert gateway.proxy is not None and gateway.cascade is not None
    policy = gateway.cascade
    payload = gateway.payload_for(placement, inbound, logprobs=True)
    opened = await gateway.proxy.open(placement.decision, PATHS["chat"], payload, placement.request_id)
    body, data = await read_whole(gateway, opened, inbound, started)
    logprobs = _token_logprobs(data)
    if opened.tier != placement.decision.tier or data is None or logprobs is None:
        return _finish(gateway, placement, opened, inbound, started, body, data)
    score = confidence(logprobs, policy.score)
    if not policy.escalate(logprobs):
        opened.decision = Decision(
            opened.tier, "cascade", f"edge confidence {score:.2f} >= {policy.threshold:g}"
        )
        if not inbound.client_wants_logprobs():
            for choice in data.get("choices", []):
                choice["logprobs"] = None
            body = json.dumps(data).encode()
        return _finish(gateway, placement, opened, inbound, started, body, data)
    gateway.account(record_for(opened, inbound, started, 200, *usage_of(data)))
    gateway.metrics.escalations.inc()
    cloud = next(name for name in gateway.tiers if name != opened.tier)
    escalated = Decision(cloud, "cascade", f"edge confidence {score:.2f} < {policy.threshold:g}; escalated")
    second = await gateway.proxy.open(
        escalated, PATHS["chat"], gateway.payload_for(placement, inbound), placement.request_id
    )
    body, data = await read_whole(gateway, second, inbound, started)
    return _finish(gateway, placement, second, inbound, started, body, data, escalated=True)


def _token_logprobs(data: dict[str, object] | None) -> list[float] | None:
    try:
        content = data["choices"][0]["logprobs"]["content"]  # type: ignore[index]
        return [float(item["logprob"]) for item in content]
    except (KeyError, IndexError, TypeError):
        return None


async def _cancel_on_disconnect(request: Request, handler: asyncio.Task[object] | None) -> None:
    """Started once the body is read, so it is the only reader of `receive` from then on."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    if handler is not None and not handler.done():
        handler.cancel()


async def chat(request: Request) -> Response:
    return await _serve(request, "chat")


async def completions(request: Request) -> Response:
    return await _serve(request, "completion")


async def embeddings(request: Request) -> Response:
    return await _serve(request, "embedding")


async def classify(request: Request) -> Response:
    return await _serve(request, "classification")


async def transcriptions(request: Request) -> Response:
    return await audio_answer(request, "/v1/audio/transcriptions")


async def dialogue(request: Request) -> Response:
    return await audio_answer(request, "/v1/audio/dialogue")


async def models(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    data = [
        {
            "id": AUTO,
            "object": "model",
            "created": 0,
            "owned_by": "edgecloud",
            "tiers": {name: tier.model_for("chat") for name, tier in gateway.tiers.items()},
        }
    ]
    for name, tier in gateway.tiers.items():
        for upstream in tier.upstreams:
            for entry in upstream.models:
                if all(existing["id"] != entry["id"] for existing in data):
                    data.append({**entry, "tier": name})
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    states = gateway.states()
    upstreams = {
        u.name: {
            "tier": name,
            "url": u.url,
            "up": u.up,
            "reachable": u.reachable,
            "ready": u.ready,
            "breaker": u.breaker.state.value,
            "consecutive_failures": u.breaker.consecutive_failures,
            "queue_depth": u.queue_depth,
            "rtt_ms": round(u.rtt.value * 1000, 2) if u.rtt.value is not None else None,
            "last_error": u.last_error,
        }
        for name, tier in gateway.tiers.items()
        for u in tier.upstreams
    }
    tiers = {
        name: {"available": s.available, "reason_down": s.reason_down} for name, s in states.tiers.items()
    }
    ok = any(s.available for s in states.tiers.values())
    body = {
        "status": "ok" if ok else "down",
        "tiers": tiers,
        "upstreams": upstreams,
        "policies": list(gateway.chain.names),
    }
    return JSONResponse(body, status_code=200 if ok else 503)


async def metrics(request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    gateway.refresh_gauges()
    return Response(gateway.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def create_gateway_app(
    gateway: Gateway, embedded: Sequence[EmbeddedServer] = (), keys: KeyStore | None = None
) -> Starlette:
    """`embedded`: servers (e.g. an edge node) that live in this process and start before the gateway."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for server in embedded:
            await server.start()
        await gateway.start()
        publisher = asyncio.create_task(publish_forever(gateway))
        yield
        publisher.cancel()
        await gateway.stop()
        for server in embedded:
            await server.stop()

    routes = [
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/classify", classify, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/dialogue", dialogue, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_route(gateway_document()), methods=["GET"]),
        *dashboard_routes(),
    ]
    responses = OpenResponses()  # the server ends what is still open at its drain deadline
    middleware = [Middleware(DrainMiddleware, responses=responses)]
    if keys is not None:
        middleware.append(Middleware(ApiKeyMiddleware, store=keys))
    app = Starlette(
        routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan, middleware=middleware
    )
    app.state.open_responses = responses
    app.state.gateway = gateway
    app.state.keys = keys
    return app
