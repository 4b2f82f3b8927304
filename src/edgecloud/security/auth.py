"""Access control for nodes and the gateway: an ASGI middleware that wants a valid API key on every
route but /health (401), applies each key's rate limit (429 with Retry-After), and leaves the key in
the request scope so routes can check its model and tier scope (403). Logs name key ids only."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from edgecloud.errors import EdgecloudError, Forbidden, Overloaded, Unauthorized
from edgecloud.security.keys import ApiKey, KeyStore

log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/health", "/openapi.json"})  # the contract is public, as OpenAI publishes its own
DASHBOARD = "/dashboard"
# Reachable without a key: the dashboard answers them with its login page (the route decides).
SOFT_PATHS = frozenset(
    {DASHBOARD, f"{DASHBOARD}/login", f"{DASHBOARD}/dashboard.js", f"{DASHBOARD}/dashboard.css"}
)
COOKIE = "edgecloud_dashboard"  # set by the dashboard's login form; read on /dashboard paths only


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `rpm` requests a minute, bursts up to `rpm`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: ApiKey) -> float:
        """0 when the request may go; else the seconds until it could."""
        if not key.rpm:
            return 0.0
        now = self._clock()
        rate = key.rpm / 60.0
        bucket = self._buckets.setdefault(key.id, Bucket(float(key.rpm), now))
        bucket.tokens = min(float(key.rpm), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, store: KeyStore, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.store = store
        self.limiter = limiter or RateLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            key: ApiKey | None = self._authenticate(scope)
        except EdgecloudError as exc:
            if not (isinstance(exc, Unauthorized) and scope["path"] in SOFT_PATHS):
                await _send_error(exc, send)
                return
            key = None  # the dashboard's page answers with its login form
        scope.setdefault("state", {})["api_key"] = key
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> ApiKey:
        presented = presented_key(scope)
        if not presented:
            raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
        key = self.store.verify(presented)
        if key is None:
            raise Unauthorized("invalid API key")
        wait = self.limiter.take(key)
        if wait > 0:
            log.info("rate limit for key %s", key.id)
            raise Overloaded(f"rate limit of {key.rpm} requests a minute for key {key.id}", retry_after=wait)
        return key


def presented_key(scope: Scope) -> str:
    """The key a request carries: `Authorization: Bearer`, `x-api-key`, or on dashboard paths the
    login cookie (never on API routes, so a browser's cookie cannot spend a key cross-site there)."""
    headers = dict(scope["headers"])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    if found := headers.get(b"x-api-key", b"").decode("latin-1"):
        return found
    if scope["path"] == DASHBOARD or scope["path"].startswith(f"{DASHBOARD}/"):
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get(b"cookie", b"").decode("latin-1"))
        except CookieError:
            return ""
        morsel = cookies.get(COOKIE)
        return morsel.value if morsel is not None else ""
    return ""


async def _send_error(exc: EdgecloudError, send: Send) -> None:
    body = json.dumps(exc.to_body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    if exc.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def request_key(request: Request) -> ApiKey | None:
    key = request.scope.get("state", {}).get("api_key")
    return key if isinstance(key, ApiKey) else None


def check_model(request: Request, model: str) -> None:
    key = request_key(request)
    if key is not None and not key.allows_model(model):
        raise Forbidden(f"key {key.id} may not use model {model!r}", param="model", code="model_not_allowed")


def check_tier(request: Request, tier: str) -> None:
    key = request_key(request)
    if key is not None and not key.allows_tier(tier):
        raise Forbidden(f"key {key.id} may not use the {tier} tier", code="tier_not_allowed")
