"""The dashboard's HTTP face on the gateway: the page (static files shipped in the package), its login
form, the live feed (server-sent events, one snapshot a second) and the admin controls.

Access: without `--keys` the gateway is open and so is its dashboard. With keys, an admin key is needed
(`edgecloud keys create --admin`), by header or through the login form's HttpOnly cookie; no key gets
the login page (401 on the feed and controls), a key without admin 403. Controls are POSTs that must
carry the page's anti-forgery token in a header (a cross-site form can neither read the token nor set
a header) and, when the browser sends one, an Origin of this gateway. The page's Content-Security-Policy
allows no inline script, and the script writes every value as text, never as markup."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import secrets
from collections.abc import AsyncIterator
from functools import partial
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from edgecloud.errors import Forbidden, Unauthorized
from edgecloud.gateway.dashboard.controls import set_offline, set_threshold
from edgecloud.gateway.dashboard.snapshot import snapshot
from edgecloud.security.auth import COOKIE, request_key
from edgecloud.security.keys import ApiKey, KeyStore
from edgecloud.serving.errors import parse_body
from edgecloud.serving.protocol import ControlBody

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
KEEP_ALIVE_S = 15.0
STATIC = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
ANONYMOUS = "anonymous (gateway without --keys)"


def dashboard_routes(secret: bytes | None = None) -> list[Route]:
    """`secret`: signs the anti-forgery tokens (a fresh one per process unless given)."""
    signer = Signer(secret or secrets.token_bytes(32))
    return [
        Route("/dashboard", partial(page, signer=signer), methods=["GET"]),
        Route("/dashboard/login", login, methods=["POST"]),
        Route("/dashboard/logout", logout, methods=["POST"]),
        Route("/dashboard/events", events, methods=["GET"]),
        Route("/dashboard/snapshot", current, methods=["GET"]),
        Route("/dashboard/control", partial(control, signer=signer), methods=["POST"]),
        *(Route(f"/dashboard/{name}", static, methods=["GET"]) for name in STATIC),
    ]


class Signer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def token(self, who: str) -> str:
        return hmac.new(self._secret, who.encode(), hashlib.sha256).hexdigest()

    def check(self, who: str, presented: str) -> bool:
        return hmac.compare_digest(self.token(who), presented)


def _keys(request: Request) -> KeyStore | None:
    keys = getattr(request.app.state, "keys", None)
    return keys if isinstance(keys, KeyStore) else None


def admin(request: Request) -> str:
    """Who is asking, for a feed or a control: 401 without a key, 403 for a key that is not admin."""
    if _keys(request) is None:
        return ANONYMOUS
    key = request_key(request)
    if key is None:
        raise Unauthorized("the dashboard needs an admin API key (edgecloud keys create --admin)")
    if not key.admin:
        raise Forbidden(f"key {key.id} is not an admin key; the dashboard needs one", code="not_admin")
    return _who(key)


def _who(key: ApiKey) -> str:
    return f"key {key.id} ({key.name})"


async def page(request: Request, signer: Signer) -> Response:
    try:
        who = admin(request)
    except Unauthorized:
        return login_page()
    except Forbidden as exc:
        return login_page(exc.message, status=403)
    text = resources.files(__package__).joinpath("static/index.html").read_text()
    text = text.replace("{{csrf}}", html.escape(signer.token(who))).replace("{{who}}", html.escape(who))
    return HTMLResponse(text, headers=PAGE_HEADERS)


def login_page(error: str = "", status: int = 200) -> Response:
    text = resources.files(__package__).joinpath("static/login.html").read_text()
    return HTMLResponse(
        text.replace("{{error}}", html.escape(error)), status_code=status, headers=PAGE_HEADERS
    )


async def login(request: Request) -> Response:
    keys = _keys(request)
    if keys is None:
        return RedirectResponse("/dashboard", status_code=303)
    form = await request.form(max_files=0, max_fields=4)
    presented = str(form.get("key") or "")
    key = keys.verify(presented) if presented else None
    if key is None:
        return login_page("That is not a valid API key.", status=401)
    if not key.admin:
        return login_page(f"Key {key.id} is not an admin key.", status=403)
    response = RedirectResponse("/dashboard", status_code=303)
    secure = request.url.scheme == "https"  # over TLS the browser never sends it in the clear
    response.set_cookie(COOKIE, presented, httponly=True, samesite="strict", path="/dashboard", secure=secure)
    return response


async def logout(request: Request) -> Response:
    response = RedirectResponse("/dashboard", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


async def static(request: Request) -> Response:
    name = request.url.path.rsplit("/", 1)[-1]
    body = resources.files(__package__).joinpath(f"static/{name}").read_bytes()
    return Response(body, media_type=STATIC[name], headers={"Cache-Control": "no-cache", **PAGE_HEADERS})


async def current(request: Request) -> Response:
    admin(request)
    return JSONResponse(snapshot(request.app.state.gateway))


async def events(request: Request) -> Response:
    """Server-sent events: a snapshot now, then one a second. Ends when the watcher falls behind (its
    browser reconnects by itself) or the gateway shuts down."""
    admin(request)
    gateway = request.app.state.gateway
    closing = getattr(request.app.state, "open_responses", None)

    async def stream() -> AsyncIterator[bytes]:
        watcher = gateway.feed.watch()
        try:
            yield f"retry: 2000\ndata: {json.dumps(snapshot(gateway), separators=(',', ':'))}\n\n".encode()
            idle = 0.0
            while not watcher.dropped and not (closing is not None and closing.closing):
                try:
                    text = await asyncio.wait_for(watcher.queue.get(), 0.5)
                except TimeoutError:
                    idle += 0.5
                    if idle >= KEEP_ALIVE_S:
                        idle = 0.0
                        yield b": keep-alive\n\n"
                    continue
                idle = 0.0
                yield f"data: {text}\n\n".encode()
        finally:
            gateway.feed.leave(watcher)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def control(request: Request, signer: Signer) -> Response:
    who = admin(request)
    if not signer.check(who, request.headers.get("x-edgecloud-csrf", "")):
        raise Forbidden("missing or wrong anti-forgery token (x-edgecloud-csrf)", code="csrf")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise Forbidden(f"cross-site request from {origin!r}", code="csrf")
    body = await parse_body(request, ControlBody, 4096)
    gateway = request.app.state.gateway
    if body.action == "threshold":
        event = set_threshold(gateway, body.policy or "", body.value, who)
    else:
        event = set_offline(gateway, body.tier or "", body.action == "offline", who)
    return JSONResponse(event)
