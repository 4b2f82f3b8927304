"""POST /v1/chat/completions and POST /v1/completions: one path, two request schemas and formats."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from edgecloud.security.auth import check_model, check_tier
from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import parse_body
from edgecloud.serving.openai_format import ChatFormat, CompletionFormat
from edgecloud.serving.protocol import ChatCompletionRequest, CompletionRequest
from edgecloud.serving.routes.generate import serve_generation
from edgecloud.serving.tasks import apply_task


async def _generate(
    request: Request,
    schema: type[ChatCompletionRequest] | type[CompletionRequest],
    fmt: type[ChatFormat] | type[CompletionFormat],
    prefix: str,
) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, schema, ctx.settings.max_body_bytes)
    check_model(request, body.model)
    check_tier(request, ctx.settings.tier)
    handle = ctx.pool.get(body.model)
    request_id = ctx.request_id(prefix)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    inference = apply_task(body.to_inference(request_id), body.metadata, handle.spec)
    return await serve_generation(
        request,
        ctx,
        handle,
        inference,
        fmt(request_id, handle.name),
        stream=body.stream,
        include_usage=include_usage,
    )


async def chat_completions(request: Request) -> Response:
    return await _generate(request, ChatCompletionRequest, ChatFormat, "chatcmpl")


async def completions(request: Request) -> Response:
    return await _generate(request, CompletionRequest, CompletionFormat, "cmpl")
