"""POST /v1/audio/transcriptions (OpenAI-compatible) and POST /v1/audio/dialogue (speech in, the chat
model's streamed answer out: a `transcript` event first, then chat.completion.chunk events).

Audio is decoded on a thread before any response starts, so a bad file is a clean 400; the model runs on
its worker thread, so the event loop never blocks on Whisper."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from edgecloud.errors import EdgecloudError, InvalidRequest
from edgecloud.runtimes.base import Prepared, SamplingParams
from edgecloud.runtimes.whisper import SegmentResult, Transcript, TranscriptionRequest, assemble
from edgecloud.security.auth import check_model, check_tier
from edgecloud.serving.audio_format import (
    parse_dialogue,
    parse_transcription,
    read_form,
    read_upload,
    render,
    server_timing,
)
from edgecloud.serving.context import NodeContext
from edgecloud.serving.errors import validate
from edgecloud.serving.openai_format import ChatFormat
from edgecloud.serving.pool import ModelHandle
from edgecloud.serving.protocol import ChatCompletionRequest
from edgecloud.serving.routes.generate import SSE_HEADERS, cancel_on_disconnect, sse_events
from edgecloud.serving.scheduler import Job


def _speech_handle(ctx: NodeContext, request: Request, name: str) -> ModelHandle:
    check_model(request, name)
    handle = ctx.pool.get(name)
    if handle.spec.kind != "transcription" or handle.worker is None:
        raise InvalidRequest(
            f"model {name!r} does not transcribe audio (it is a {handle.spec.kind} model)", param="model"
        )
    return handle


def _default_model(ctx: NodeContext, kind: str, param: str) -> str:
    """The node's only model of a kind, when the client named none."""
    names = [handle.name for handle in ctx.pool.handles() if handle.spec.kind == kind]
    if not names:
        raise InvalidRequest(f"this node serves no {kind} model", param=param)
    if len(names) > 1:
        raise InvalidRequest(
            f"this node serves several {kind} models ({', '.join(names)}); set '{param}'", param=param
        )
    return names[0]


async def _prepare(handle: ModelHandle, request: TranscriptionRequest) -> Prepared:
    """Decoding is CPU work of its own (PyAV): a thread keeps it off the event loop."""
    return await asyncio.to_thread(handle.runtime.preprocess, request)


def _submit(handle: ModelHandle, prepared: Prepared) -> Job:
    """Queues the job now, so a full queue is a 429 before any response (or stream) starts."""
    assert handle.worker is not None
    return handle.worker.submit(prepared)


async def _transcript(job: Job, http: Request | None) -> Transcript:
    """The whole transcript of a queued job; a client that leaves (http) cancels it at the next segment."""
    watcher = asyncio.create_task(cancel_on_disconnect(http, job)) if http is not None else None
    results: list[SegmentResult] = []
    try:
        async for result in job.results():
            assert isinstance(result, SegmentResult)
            results.append(result)
    finally:
        if watcher is not None:
            watcher.cancel()
        job.cancel()
    audio, _ = job.prepared.state
    return assemble(results, audio.decode_seconds)


async def transcriptions(request: Request) -> Response:
    ctx: NodeContext = request.app.state.ctx
    form = await read_form(request, ctx.settings.max_audio_bytes)
    fields = parse_transcription(form)
    check_tier(request, ctx.settings.tier)
    handle = _speech_handle(ctx, request, fields.model)
    audio, filename = await read_upload(form)
    inference = TranscriptionRequest(
        request_id=ctx.request_id("transcr"),
        kind="completion",
        prompt=fields.prompt or "",
        sampling=SamplingParams(temperature=fields.temperature),
        audio=audio,
        filename=filename,
        language=fields.language,
        max_seconds=ctx.settings.max_audio_seconds,
        word_timestamps="word" in fields.timestamp_granularities,
    )
    prepared = await _prepare(handle, inference)
    transcript = await _transcript(_submit(handle, prepared), request)
    ctx.metrics.requests.labels(ctx.settings.tier, handle.name, "200").inc()
    response = render(transcript, fields.response_format, words=inference.word_timestamps)
    response.headers.update(server_timing(transcript))
    return response


async def dialogue(request: Request) -> Response:
    """Transcribe, then answer with the chat model; streamed so a voice client can speak early."""
    ctx: NodeContext = request.app.state.ctx
    form = await read_form(request, ctx.settings.max_audio_bytes)
    fields = parse_dialogue(form)
    check_tier(request, ctx.settings.tier)
    speech = _speech_handle(ctx, request, fields.model or _default_model(ctx, "transcription", "model"))
    chat_name = fields.chat_model or _default_model(ctx, "chat", "chat_model")
    check_model(request, chat_name)
    chat = ctx.pool.get(chat_name)
    if chat.spec.kind != "chat" or chat.worker is None:
        raise InvalidRequest(f"model {chat_name!r} is not a chat model", param="chat_model")
    audio, filename = await read_upload(form)
    inference = TranscriptionRequest(
        request_id=ctx.request_id("dialog"),
        kind="completion",
        prompt=fields.prompt or "",
        audio=audio,
        filename=filename,
        language=fields.language,
        max_seconds=ctx.settings.max_audio_seconds,
    )
    job = _submit(speech, await _prepare(speech, inference))
    events = _dialogue_events(ctx, speech.name, chat, job, fields.system, fields.model_dump())
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


async def _dialogue_events(
    ctx: NodeContext,
    speech: str,
    chat: ModelHandle,
    job: Job,
    system: str | None,
    fields: dict[str, Any],
) -> AsyncIterator[str]:
    started = time.perf_counter()
    try:
        transcript = await _transcript(job, None)
    except EdgecloudError as exc:
        yield f"event: error\ndata: {json.dumps(exc.to_body())}\n\ndata: [DONE]\n\n"
        return
    ctx.metrics.requests.labels(ctx.settings.tier, speech, "200").inc()
    yield _transcript_event(speech, transcript, time.perf_counter() - started)
    if not transcript.text:
        yield "data: [DONE]\n\n"  # nothing was said: nothing to answer
        return
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": transcript.text}
    ]
    body = {
        "model": chat.name,
        "messages": messages,
        "max_tokens": fields["max_tokens"],
        "temperature": fields["temperature"],
        "seed": fields["seed"],
    }
    request_id = ctx.request_id("chatcmpl")
    try:
        inference = validate(ChatCompletionRequest, body).to_inference(request_id)
        answer = chat.worker.submit(chat.runtime.preprocess(inference))  # type: ignore[union-attr]
    except EdgecloudError as exc:
        yield f"data: {json.dumps(exc.to_body())}\n\ndata: [DONE]\n\n"
        return
    async for event in sse_events(ctx, chat.name, answer, ChatFormat(request_id, chat.name), True):
        yield event


def _transcript_event(model: str, transcript: Transcript, seconds: float) -> str:
    payload = {
        "model": model,
        "text": transcript.text,
        "language": transcript.language,
        "duration": round(transcript.duration, 3),
        "timings": {
            "decode_ms": round(transcript.decode_seconds * 1000, 1),
            "transcribe_ms": round(transcript.transcribe_seconds * 1000, 1),
            "queue_and_transcribe_ms": round(seconds * 1000, 1),
        },
    }
    return f"event: transcript\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
