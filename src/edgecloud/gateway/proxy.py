"""Getting an answer from a tier: retries with jittered backoff on connect errors, resets and
502/503/504 (before any byte reached the client), failover to the other tier when the chosen one fails
and the decision allows, breakers fed with every outcome, and 429 from an upstream treated as "full"."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from yarl import URL

from edgecloud.errors import EdgecloudError, Overloaded, Unavailable, UpstreamError
from edgecloud.gateway.metrics import GatewayMetrics
from edgecloud.gateway.placement import Decision
from edgecloud.gateway.topology import RetryConfig
from edgecloud.gateway.upstreams import Tier, Upstream

RETRY_SAME_TIER = frozenset({502, 503, 504})
PayloadFor = Callable[[str], bytes]  # tier name -> request body for that tier


@dataclass
class Opened:
    """An upstream response whose status and headers arrived; the body is still to be read."""

    response: aiohttp.ClientResponse
    upstream: Upstream
    tier: str
    decision: Decision
    attempts: int
    request_id: str = ""
    token: int = -1  # the upstream's in-flight entry, ended by finish()
    ahead: int = 0  # requests waiting or running at the upstream when this one was sent

    def finish(self) -> None:
        """The body is read (or abandoned): the request leaves the upstream's in-flight count."""
        self.upstream.in_flight.end(self.token)


class Proxy:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tiers: dict[str, Tier],
        retries: RetryConfig,
        metrics: GatewayMetrics,
    ) -> None:
        self._session = session
        self._tiers = tiers
        self._retries = retries
        self._metrics = metrics
        self._urls: dict[tuple[str, str], URL] = {}
        self._timeouts = {
            name: aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.first_token)
            for name, t in ((name, tier.config.timeouts) for name, tier in tiers.items())
        }

    async def open(
        self,
        decision: Decision,
        path: str,
        payload_for: PayloadFor,
        request_id: str = "",
        content_type: str = "application/json",
    ) -> Opened:
        """The first usable response from the decided tier, else (when allowed) from the other one.
        `content_type`: the payload's (a multipart audio upload passes through with its boundary)."""
        order = [decision.tier]
        if self._retries.failover and not decision.pinned:
            others = [name for name in self._tiers if name != decision.tier]
            if decision.fallback in others:
                others.remove(decision.fallback)
                others.insert(0, decision.fallback)
            order += others
        attempts = 0
        last: EdgecloudError | None = None
        for index, name in enumerate(order):
            tier = self._tiers.get(name)
            if tier is None:
                continue
            if tier.offline_by:  # an operator took it out of service: nothing new goes there
                last = Unavailable(f"the {name} tier was taken offline by {tier.offline_by}", retry_after=30)
                continue
            if index:
                self._metrics.failovers.labels(order[0]).inc()
            opened, last, used = await self._try_tier(tier, path, payload_for(name), request_id, content_type)
            attempts += used
            if opened is not None:
                moved = (
                    decision
                    if index == 0
                    else Decision(
                        name,
                        decision.policy,
                        f"failover from {order[0]} ({_message(last)}); {decision.reason}",
                    )
                )
                response, upstream, token, ahead = opened
                return Opened(response, upstream, name, moved, attempts, request_id, token, ahead)
        if last is None:
            raise Unavailable(f"tier {decision.tier!r} is not configured", retry_after=5)
        if isinstance(last, Overloaded | Unavailable):
            raise last
        raise Unavailable(f"no tier could answer: {last.message}", retry_after=1.0)

    async def _try_tier(
        self, tier: Tier, path: str, payload: bytes, request_id: str, content_type: str
    ) -> tuple[tuple[aiohttp.ClientResponse, Upstream, int, int] | None, EdgecloudError | None, int]:
        last: EdgecloudError | None = None
        tried: set[str] = set()
        for attempt in range(self._retries.attempts):
            upstream = tier.pick(exclude=tried if len(tried) < len(tier.upstreams) else None)
            if upstream is None:
                last = last or Unavailable(
                    f"{tier.name}: no upstream available (breaker open)", retry_after=_retry_after(tier)
                )
                return None, last, attempt
            tried.add(upstream.name)
            if attempt:
                self._metrics.retries.labels(tier.name).inc()
            ahead = upstream.load()
            token = upstream.in_flight.begin()
            try:
                outcome = await self._send(upstream, path, payload, request_id, content_type)
            except BaseException:  # cancelled: the client left while we waited for headers
                upstream.in_flight.end(token)
                raise
            if isinstance(outcome, aiohttp.ClientResponse):
                return (outcome, upstream, token, ahead), last, attempt + 1
            upstream.in_flight.end(token)
            last, retry = outcome
            if not retry:
                return None, last, attempt + 1
            await asyncio.sleep(_backoff(self._retries.backoff_ms, attempt))
        return None, last, self._retries.attempts

    async def _send(
        self, upstream: Upstream, path: str, payload: bytes, request_id: str, content_type: str
    ) -> aiohttp.ClientResponse | tuple[EdgecloudError, bool]:
        """A response to hand on, or (error, retry on this tier?)."""
        limits = upstream.config
        timeout = self._timeouts[upstream.tier]
        headers = {"Content-Type": content_type, "x-request-id": request_id, **upstream.headers()}
        url = self._urls.get((upstream.name, path))
        if url is None:  # parsed once: yarl parsing a string costs more than the rest of the send
            url = self._urls[(upstream.name, path)] = URL(upstream.url + path)
        try:
            response = await self._session.post(
                url, data=payload, headers=headers, timeout=timeout, ssl=upstream.ssl
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            upstream.breaker.failure()
            upstream.last_error = f"{exc.__class__.__name__} from {limits.url}"
            return UpstreamError(f"{upstream.name}: {exc.__class__.__name__}"), True
        status = response.status
        if status < 500 and status != 429:
            upstream.breaker.success()  # 4xx: the upstream works; the request is the client's problem
            upstream.overloaded = False  # it took this request, so its queue has room again
            return response
        response.release()
        if status == 429:
            upstream.overloaded = True
            return Overloaded(f"{upstream.name} is full (429)"), False
        upstream.breaker.failure()
        upstream.last_error = f"HTTP {status}"
        return UpstreamError(f"{upstream.name} answered {status}"), status in RETRY_SAME_TIER


def _message(error: EdgecloudError | None) -> str:
    return error.message if error is not None else "unavailable"


def _backoff(base_ms: float, attempt: int) -> float:
    """Full jitter: uniform in [0, base * 2^attempt]."""
    return random.uniform(0, base_ms * (2**attempt)) / 1000.0


def _retry_after(tier: Tier) -> float:
    waits = [u.breaker.seconds_until_probe() for u in tier.upstreams]
    return max(1.0, min(waits, default=1.0))
