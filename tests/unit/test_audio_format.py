"""Transcripts rendered in OpenAI's response formats, and multipart fields read the way OpenAI sends them."""

from __future__ import annotations

import json

from starlette.datastructures import FormData

from edgecloud.runtimes.whisper import Transcript, TranscriptSegment, Word
from edgecloud.serving.audio_format import form_fields, render, srt, timestamp, vtt
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
