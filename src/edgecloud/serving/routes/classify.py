"""POST /v1/classify: label one text or a list with a sequence-classification model, dynamically
batched with concurrent requests (the encoder batcher embeddings use)."""

from __future__ import annotations

from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.errors import ModelNotFound
from edgecloud.runtimes.base import Capability
from edgecloud.security.auth import check_model, check_tier
from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import parse_body
from edgecloud.serving.protocol import ClassifyRequest


async def classify(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, ClassifyRequest, ctx.settings.max_body_bytes)
    check_model(request, body.model)
    check_tier(request, ctx.settings.tier)
    handle = ctx.pool.get(body.model)
    if handle.batcher is None or Capability.CLASSIFICATION not in handle.runtime.capabilities:
        raise ModelNotFound(
            f"The model '{handle.name}' does not classify text (its kind is {handle.spec.kind}); "
            "serve a sequence-classification folder, e.g. one `edgecloud train classifier` wrote",
            param="model",
        )
    prepared = handle.runtime.preprocess(body.to_inference(ctx.request_id("cls")))
    result = await handle.batcher.embed(prepared)
    labels: tuple[str, ...] = getattr(handle.runtime, "labels", ())
    probabilities = np.asarray(result.scores, dtype=np.float64)
    tier = ctx.settings.tier
    ctx.metrics.requests.labels(tier, handle.name, "200").inc()
    ctx.metrics.tokens.labels(tier, "prompt").inc(result.prompt_tokens)
    data = [_item(index, row, labels) for index, row in enumerate(probabilities)]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return JSONResponse({"object": "list", "model": handle.name, "data": data, "usage": usage})


def _item(index: int, row: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    best = int(row.argmax())
    return {
        "index": index,
        "label": labels[best],
        "score": round(float(row[best]), 6),
        "scores": {label: round(float(p), 6) for label, p in zip(labels, row, strict=True)},
    }
