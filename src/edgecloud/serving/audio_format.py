"""The HTTP edge of the audio routes: multipart forms read under a size cap and validated (pydantic lives
here), and transcripts rendered in OpenAI's response formats (json, text, verbose_json, srt, vtt)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from python_multipart.exceptions import FormParserError
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Message

from edgecloud.errors import InvalidRequest, PayloadTooLarge
from edgecloud.runtimes.whisper import Transcript, TranscriptSegment
from edgecloud.serving.errors import validate

TranscriptFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
_LANGUAGE_NAMES = {"en": "english"}  # verbose_json names the language, as OpenAI does


class _Form(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False)


class TranscriptionForm(_Form):
    """OpenAI's POST /v1/audio/transcriptions fields (besides the file)."""

    model: str
    language: str | None = None
    prompt: str | None = None
    response_format: TranscriptFormat = "json"
    temperature: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    timestamp_granularities: list[Literal["word", "segment"]] = Field(default_factory=list)


class DialogueForm(_Form):
    """POST /v1/audio/dialogue: speech in, the chat model's answer out. Either model may be left out
    when the node serves exactly one of its kind."""

    model: str | None = None
    chat_model: str | None = None
    language: str | None = None
    prompt: str | None = None
    system: str | None = None
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 128
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.3
    seed: int | None = None


def _capped(receive: Callable[[], Awaitable[Message]], limit: int) -> Callable[[], Awaitable[Message]]:
    """A receive channel that fails with 413 once the body passes `limit` bytes (chunked uploads
    declare no length, so counting is the only check that always holds)."""
    seen = 0

    async def capped_receive() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"audio upload exceeds the limit of {limit} bytes")
        return message

    return capped_receive


async def read_form(request: Request, limit: int) -> FormData:
    """The multipart form of at most `limit` bytes; a missing or malformed form is a 400."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body of {declared} bytes exceeds the audio limit of {limit} bytes")
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidRequest(
            f"expected a multipart/form-data body with a 'file' field, got {content_type or 'none'!r}"
        )
    capped = Request(request.scope, _capped(request.receive, limit))
    try:
        return await capped.form(max_files=2, max_fields=32)
    except FormParserError as exc:  # python-multipart's own parse errors pass through Starlette
        raise InvalidRequest(f"malformed multipart/form-data body: {exc}") from None


def form_fields(form: FormData) -> dict[str, Any]:
    """The text fields of a form; OpenAI's array field arrives as `timestamp_granularities[]`."""
    fields: dict[str, Any] = {}
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            continue
        if key.endswith("[]"):
            fields.setdefault(key.removesuffix("[]"), []).append(value)
        else:
            fields[key] = value
    return fields


async def read_upload(form: FormData) -> tuple[bytes, str]:
    """The uploaded audio and its file name; a missing upload is a 400 naming the field."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        message = "the 'file' field must be an uploaded file" if upload is not None else "'file' is required"
        raise InvalidRequest(message, param="file")
    data = await upload.read()
    await upload.close()
    return data, upload.filename or "audio"


def parse_transcription(form: FormData) -> TranscriptionForm:
    fields = form_fields(form)
    if "model" not in fields:
        raise InvalidRequest("'model' is required", param="model")
    return validate(TranscriptionForm, fields)


def parse_dialogue(form: FormData) -> DialogueForm:
    return validate(DialogueForm, form_fields(form))


def render(transcript: Transcript, fmt: TranscriptFormat, *, words: bool = False) -> Response:
    """The response body OpenAI returns for each response_format."""
    if fmt == "text":
        return PlainTextResponse(transcript.text + "\n")
    if fmt == "srt":
        return PlainTextResponse(srt(transcript.segments))
    if fmt == "vtt":
        return PlainTextResponse(vtt(transcript.segments), media_type="text/vtt")
    usage = {"type": "duration", "seconds": round(transcript.duration + 0.4999)}
    if fmt == "json":
        return JSONResponse({"text": transcript.text, "usage": usage})
    return JSONResponse(verbose_json(transcript, words=words) | {"usage": usage})


def verbose_json(transcript: Transcript, *, words: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": _LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text,
        "segments": [_segment_body(index, segment) for index, segment in enumerate(transcript.segments)],
    }
    if words:
        body["words"] = [
            {"word": word.word.strip(), "start": round(word.start, 3), "end": round(word.end, 3)}
            for word in transcript.words
        ]
    return body


def _segment_body(index: int, segment: TranscriptSegment) -> dict[str, Any]:
    return {
        "id": index,
        "seek": segment.seek,
        "start": round(segment.start, 3),
        "end": round(segment.end, 3),
        "text": segment.text,
        "tokens": list(segment.tokens),
        "temperature": segment.temperature,
        "avg_logprob": segment.avg_logprob,
        "compression_ratio": segment.compression_ratio,
        "no_speech_prob": segment.no_speech_prob,
    }


def timestamp(seconds: float, separator: str) -> str:
    """hh:mm:ss,mmm (SubRip) or hh:mm:ss.mmm (WebVTT)."""
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(segments: tuple[TranscriptSegment, ...]) -> str:
    blocks = [
        f"{i}\n{timestamp(s.start, ',')} --> {timestamp(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(segments: tuple[TranscriptSegment, ...]) -> str:
    blocks = [f"{timestamp(s.start, '.')} --> {timestamp(s.end, '.')}\n{s.text.strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def server_timing(transcript: Transcript) -> dict[str, str]:
    """Stage times as a standard Server-Timing header, so clients can report decode vs transcribe."""
    decode = transcript.decode_seconds * 1000
    model = transcript.transcribe_seconds * 1000
    return {
        "Server-Timing": f"decode;dur={decode:.1f}, transcribe;dur={model:.1f}",
        "x-edgecloud-audio-seconds": f"{transcript.duration:.3f}",
    }
