"""POST /v1/embeddings: a string or a list, dynamically batched with concurrent requests."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.errors import InvalidRequest
from edgecloud.security.auth import check_model, check_tier
from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import parse_body
from edgecloud.serving.openai_format import usage_body
from edgecloud.serving.protocol import EmbeddingRequest


async def embeddings(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, EmbeddingRequest, ctx.settings.max_body_bytes)
    check_model(request, body.model)
    check_tier(request, ctx.settings.tier)
    handle = ctx.pool.get(body.model)
    if handle.batcher is None:
        raise InvalidRequest(f"model {handle.name!r} does not produce embeddings", param="model")
    inference = body.to_inference(ctx.request_id("emb"))
    prepared = handle.runtime.preprocess(inference)
    result = await handle.batcher.embed(prepared)
    vectors = np.asarray(result.embeddings, dtype=np.float32)
    if body.dimensions is not None:
        if not 1 <= body.dimensions <= vectors.shape[1]:
            raise InvalidRequest(f"dimensions must be between 1 and {vectors.shape[1]}", param="dimensions")
        vectors = vectors[:, : body.dimensions]
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)
    tier = ctx.settings.tier
    ctx.metrics.requests.labels(tier, handle.name, "200").inc()
    ctx.metrics.tokens.labels(tier, "prompt").inc(result.prompt_tokens)
    data = [_item(i, vector, body.encoding_format) for i, vector in enumerate(vectors)]
    usage = usage_body(result.prompt_tokens, 0)
    usage.pop("completion_tokens")
    return JSONResponse({"object": "list", "data": data, "model": handle.name, "usage": usage})


def _item(index: int, vector: np.ndarray, encoding: str) -> dict[str, Any]:
    embedding: Any
    if encoding == "base64":
        embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    else:
        embedding = vector.tolist()
    return {"object": "embedding", "index": index, "embedding": embedding}
