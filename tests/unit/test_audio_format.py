"""Transcripts rendered in OpenAI's response formats, and multipart fields read the way OpenAI sends them."""

from __future__ import annotations

import json
from collections.abc import Iterator

from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from edgecloud.runtimes.whisper import Transcript, TranscriptSegment, Word
from edgecloud.serving.audio_format import form_fields, read_form, render, srt, timestamp, vtt
from edgecloud.serving.errors import EXCEPTION_HANDLERS
from edgecloud.speech.voice import sse_events


def _segment(index: int, start: float, end: float, text: str) -> TranscriptSegment:
    return TranscriptSegment(index + 1, 0, start, end, text, (1, 2), 0.0, -0.2, 1.1, 0.01)


TRANSCRIPT = Transcript(
    text="Hello there. General Kenobi.",
    segments=(_segment(0, 0.0, 1.5, " Hello there."), _segment(1, 1.5, 3.25, " General Kenobi.")),
    language="en",
    duration=3.3,
    decode_seconds=0.01,
    transcribe_seconds=0.3,
    words=(Word(0.0, 0.5, " Hello", 0.9),),
)


def test_timestamps_use_subrip_and_webvtt_separators() -> None:
    assert timestamp(3725.5, ",") == "01:02:05,500"
    assert timestamp(0.25, ".") == "00:00:00.250"


def test_srt_numbers_cues_from_one() -> None:
    text = srt(TRANSCRIPT.segments)
    assert text.startswith("1\n00:00:00,000 --> 00:00:01,500\nHello there.\n")
    assert "2\n00:00:01,500 --> 00:00:03,250\nGeneral Kenobi.\n" in text


def test_vtt_starts_with_its_header() -> None:
    assert vtt(TRANSCRIPT.segments).startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nHello there.")


def test_verbose_json_names_the_language_and_numbers_segments_from_zero() -> None:
    body = json.loads(bytes(render(TRANSCRIPT, "verbose_json", words=True).body))
    assert body["task"] == "transcribe"
    assert body["language"] == "english"
    assert body["duration"] == 3.3
    assert [segment["id"] for segment in body["segments"]] == [0, 1]
    assert body["words"] == [{"word": "Hello", "start": 0.0, "end": 0.5}]
    assert body["usage"] == {"type": "duration", "seconds": 4}


def test_json_and_text_formats() -> None:
    assert json.loads(bytes(render(TRANSCRIPT, "json").body))["text"] == TRANSCRIPT.text
    plain = render(TRANSCRIPT, "text")
    assert plain.media_type == "text/plain"
    assert bytes(plain.body) == b"Hello there. General Kenobi.\n"


def test_array_fields_arrive_with_brackets_and_are_collected() -> None:
    form = FormData(
        [("model", "m"), ("timestamp_granularities[]", "word"), ("timestamp_granularities[]", "segment")]
    )
    assert form_fields(form) == {"model": "m", "timestamp_granularities": ["word", "segment"]}


def test_server_sent_events_are_split_by_blank_lines_and_named() -> None:
    lines = ["event: transcript", 'data: {"text": "hi"}', "", "data: {}", "", "data: [DONE]", ""]
    assert list(sse_events(iter(lines))) == [
        ("transcript", '{"text": "hi"}'),
        ("message", "{}"),
        ("message", "[DONE]"),
    ]


def _form_app(limit: int) -> Starlette:
    async def route(request: Request) -> Response:
        form = await read_form(request, limit)
        return PlainTextResponse(str(len(form)))

    return Starlette(routes=[Route("/", route, methods=["POST"])], exception_handlers=EXCEPTION_HANDLERS)


def test_a_chunked_upload_without_a_length_is_cut_off_at_the_limit() -> None:
    def body() -> Iterator[bytes]:
        yield b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        yield from (b"\0" * 10_000 for _ in range(50))
        yield b"\r\n--XX--\r\n"

    headers = {"content-type": "multipart/form-data; boundary=XX"}
    with TestClient(_form_app(100_000)) as client:
        response = client.post("/", content=body(), headers=headers)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_body_that_is_not_multipart_is_a_400() -> None:
    with TestClient(_form_app(100_000)) as client:
        response = client.post("/", json={"model": "whisper-tiny-en"})
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["error"]["message"]
