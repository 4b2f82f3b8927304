"""POST /v1/chat/completions and POST /v1/completions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import parse_body
from edgecloud.serving.openai_format import ChatFormat, CompletionFormat
from edgecloud.serving.protocol import ChatCompletionRequest, CompletionRequest
from edgecloud.serving.routes.generate import serve_generation


async def chat_completions(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, ChatCompletionRequest, ctx.settings.max_body_bytes)
    handle = ctx.pool.get(body.model)
    request_id = ctx.request_id("chatcmpl")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await serve_generation(
        request,
        ctx,
        handle,
        body.to_inference(request_id),
        ChatFormat(request_id, handle.name),
        stream=body.stream,
        include_usage=include_usage,
    )


async def completions(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    body = await parse_body(request, CompletionRequest, ctx.settings.max_body_bytes)
    handle = ctx.pool.get(body.model)
    request_id = ctx.request_id("cmpl")
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return await serve_generation(
        request,
        ctx,
        handle,
        body.to_inference(request_id),
        CompletionFormat(request_id, handle.name),
        stream=body.stream,
        include_usage=include_usage,
    )
