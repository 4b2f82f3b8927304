"""GET /v1/models, /health and /metrics."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.runtimes.device import describe
from edgecloud.security.auth import request_key
from edgecloud.serving.context import NodeContext


async def list_models(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    data = []
    key = request_key(request)
    for handle in ctx.pool.handles():
        if key is not None and not key.allows_model(handle.name):
            continue  # a key sees only the models it may use
        spec = handle.spec
        data.append(
            {
                "id": handle.name,
                "object": "model",
                "created": handle.created,
                "owned_by": "edgecloud",
                "kind": spec.kind,
                "runtime": spec.runtime,
                "quantization": spec.quantization,
                "context_length": handle.runtime.context_length,
                "device": describe(handle.runtime),
                "tier": ctx.settings.tier,
            }
        )
    return JSONResponse({"object": "list", "data": data})


async def health(request: Request) -> Response:
    """200 only once every model is loaded; 503 while loading or when a model failed."""
    ctx: NodeContext = request.app.state.ctx
    pool = ctx.pool
    loaded = {handle.name: handle for handle in pool.handles()}
    models = {}
    for name in pool.names:
        handle = loaded.get(name)
        state = "failed" if name in pool.errors else ("ready" if handle else "loading")
        models[name] = {"state": state, "queue_depth": handle.depth if handle else 0}
        if handle is not None:
            models[name]["device"] = describe(handle.runtime)
        if name in pool.errors:
            models[name]["error"] = pool.errors[name]
    status = "ok" if pool.ready else ("failed" if pool.errors else "loading")
    body = {
        "status": status,
        "tier": ctx.settings.tier,
        "device": pool.device.label,
        "uptime_s": round(time.time() - ctx.started, 1),
        "models": models,
    }
    headers = {} if pool.ready else {"Retry-After": "2"}
    return JSONResponse(body, status_code=200 if pool.ready else 503, headers=headers)


async def metrics(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    ctx.metrics.open_responses.set(max(0, len(request.app.state.open_responses) - 1))  # not this one
    ctx.metrics.loop_tasks.set(len(asyncio.all_tasks()))
    return Response(ctx.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
