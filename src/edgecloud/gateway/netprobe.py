"""A cheap periodic probe per upstream: link RTT (time of a GET of its health path), readiness, queue
depth as the node reports it, and, now and then, the models it serves."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import aiohttp

from edgecloud.gateway.upstreams import Upstream

log = logging.getLogger(__name__)
MODELS_EVERY = 5  # probes between /v1/models refreshes


async def probe_once(
    session: aiohttp.ClientSession, upstream: Upstream, *, models: bool, timeout: float = 2.0
) -> None:
    started = time.perf_counter()
    limit = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.get(
            upstream.url + upstream.config.health_path,
            timeout=limit,
            headers=upstream.headers(),
            ssl=upstream.ssl,
        ) as response:
            body = await response.json(content_type=None) if response.status in (200, 503) else {}
            upstream.rtt.add(time.perf_counter() - started)
            upstream.reachable = True
            upstream.ready = response.status == 200 or response.status == 404  # no health route: assume ok
            _read_queue(upstream, body if isinstance(body, dict) else {})
        if models or not upstream.models:
            await _refresh_models(session, upstream, limit)
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        upstream.reachable = False
        upstream.last_error = f"probe failed: {exc.__class__.__name__}"


def _read_queue(upstream: Upstream, body: dict[str, object]) -> None:
    models = body.get("models")
    if not isinstance(models, dict):
        return
    depths = [int(info.get("queue_depth", 0)) for info in models.values() if isinstance(info, dict)]
    upstream.queue_depth = sum(depths)  # a node's models share its CPU: a busy embedder slows the chat


async def _refresh_models(
    session: aiohttp.ClientSession, upstream: Upstream, limit: aiohttp.ClientTimeout
) -> None:
    async with session.get(
        upstream.url + "/v1/models", timeout=limit, headers=upstream.headers(), ssl=upstream.ssl
    ) as r:
        if r.status == 200:
            body = await r.json(content_type=None)
            upstream.models = [m for m in body.get("data", []) if isinstance(m, dict) and "id" in m]


async def probe_forever(
    session: aiohttp.ClientSession, upstreams: Iterable[Upstream], interval: float
) -> None:
    targets = list(upstreams)
    for round_ in range(1 << 62):
        await asyncio.gather(*(probe_once(session, u, models=round_ % MODELS_EVERY == 0) for u in targets))
        await asyncio.sleep(interval)
