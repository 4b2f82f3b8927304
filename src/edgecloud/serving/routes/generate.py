"""Chat and text completions share one path: preprocess, queue, then stream SSE or collect a whole
answer. A client that goes away cancels its job, which stops at the next token."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from edgecloud.errors import EdgecloudError, InvalidRequest
from edgecloud.runtimes.base import InferenceRequest, InferenceResult, TokenLogprob
from edgecloud.serving.context import NodeContext
from edgecloud.serving.openai_format import ResponseFormat
from edgecloud.serving.pool import ModelHandle
from edgecloud.serving.scheduler import Job

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class _Timing:
    """Time to first token and inter-token gaps, observed as results arrive."""

    def __init__(self, ctx: NodeContext, model: str) -> None:
        tier = ctx.settings.tier
        self._ttft = ctx.metrics.ttft.labels(tier, model)
        self._gap = ctx.metrics.inter_token.labels(tier, model)
        self._start = time.perf_counter()
        self._last: float | None = None

    def tick(self) -> None:
        now = time.perf_counter()
        if self._last is None:
            self._ttft.observe(now - self._start)
        else:
            self._gap.observe(now - self._last)
        self._last = now


async def serve_generation(
    request: Request,
    ctx: NodeContext,
    handle: ModelHandle,
    inference: InferenceRequest,
    fmt: ResponseFormat,
    *,
    stream: bool,
    include_usage: bool,
) -> Response:
    if handle.worker is None:
        raise InvalidRequest(
            f"model {handle.name!r} does not generate text; use /v1/embeddings", param="model"
        )
    # Off the event loop: rendering and tokenizing a 4 MB prompt or 10,000 messages takes seconds, and
    # /health, /metrics and every other request would wait for it.
    prepared = await asyncio.to_thread(handle.runtime.preprocess, inference)
    job = handle.worker.submit(prepared)
    if stream:
        events = sse_events(ctx, handle.name, job, fmt, include_usage)
        return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
    watcher = asyncio.create_task(cancel_on_disconnect(request, job))
    try:
        body = await _collect(ctx, handle.name, job, fmt)
    finally:
        watcher.cancel()
        job.cancel()
    return JSONResponse(body)


async def _collect(ctx: NodeContext, model: str, job: Job, fmt: ResponseFormat) -> dict[str, Any]:
    timing = _Timing(ctx, model)
    parts: list[str] = []
    logprobs: list[TokenLogprob] = []
    last = InferenceResult()
    async for result in job.results():
        timing.tick()
        parts.append(result.text)
        logprobs.extend(result.logprobs)
        last = result
    _count(ctx, model, last, "200")
    wanted = job.prepared.request.sampling.logprobs
    body = fmt.whole(
        "".join(parts),
        logprobs if wanted else None,
        last.finish_reason,
        last.prompt_tokens,
        last.completion_tokens,
    )
    if last.stats is not None:  # an extension field: OpenAI clients keep unknown fields
        body["speculative"] = last.stats
    return body


async def sse_events(
    ctx: NodeContext, model: str, job: Job, fmt: ResponseFormat, include_usage: bool
) -> AsyncIterator[str]:
    timing = _Timing(ctx, model)
    wanted = job.prepared.request.sampling.logprobs
    last = InferenceResult()
    first = True
    try:
        async for result in job.results():
            timing.tick()
            last = result
            if not (result.text or result.finish_reason or result.logprobs or first):
                continue
            chunk = fmt.chunk(
                result.text, list(result.logprobs) if wanted else None, result.finish_reason, first
            )
            if result.finish_reason is not None and result.stats is not None:
                chunk["speculative"] = result.stats
            first = False
            yield _sse(chunk)
        if include_usage:
            yield _sse(fmt.usage_chunk(last.prompt_tokens, last.completion_tokens))
        _count(ctx, model, last, "200")
    except EdgecloudError as exc:  # headers are gone: the error travels in the stream
        _count(ctx, model, last, str(exc.status))
        yield _sse(exc.to_body())
    finally:
        job.cancel()  # no-op when finished; stops generation when the client went away
    yield "data: [DONE]\n\n"


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'), ensure_ascii=False)}\n\n"


def _count(ctx: NodeContext, model: str, result: InferenceResult, status: str) -> None:
    tier = ctx.settings.tier
    ctx.metrics.requests.labels(tier, model, status).inc()
    ctx.metrics.tokens.labels(tier, "prompt").inc(result.prompt_tokens)
    ctx.metrics.tokens.labels(tier, "completion").inc(result.completion_tokens)


async def cancel_on_disconnect(request: Request, job: Job) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            job.cancel()
            return
