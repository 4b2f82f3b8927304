"""Voice dialogue at the edge: speech in, Whisper transcribes, the edge chat model answers, and the time of
each stage is measured (decode, transcribe, first answer token, whole answer).

Two ways to run the same pipeline: against a node's POST /v1/audio/dialogue (one streamed request), or
in this process with both engines loaded directly (no HTTP), which isolates the engines' own cost."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from edgecloud.catalogue import Catalogue, LocalPath
from edgecloud.errors import UpstreamError
from edgecloud.runtimes import create_runtime
from edgecloud.runtimes.base import ChatMessage, InferenceRequest, Runtime, SamplingParams
from edgecloud.runtimes.whisper import SegmentResult, Transcript, TranscriptionRequest, assemble

OnText = Callable[[str], None]
SPEECH_MODEL = "whisper-tiny-en"
CHAT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class VoiceTimings:
    """Seconds per stage. first_token and answer count from the moment the transcript was ready;
    total counts from the moment the audio was handed over."""

    audio: float
    decode: float
    transcribe: float
    first_token: float | None
    answer: float
    total: float

    def rows(self) -> list[tuple[str, str]]:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:,.0f} ms"

        rtf = self.transcribe / self.audio if self.audio else 0.0
        return [
            ("audio", f"{self.audio:.2f} s"),
            ("decode", ms(self.decode)),
            ("transcribe", f"{ms(self.transcribe)} (real-time factor {rtf:.2f})"),
            ("first token", ms(self.first_token)),
            ("answer", ms(self.answer)),
            ("total", ms(self.total)),
        ]


@dataclass(frozen=True)
class VoiceAnswer:
    transcript: str
    answer: str
    completion_tokens: int
    timings: VoiceTimings


@dataclass(frozen=True)
class DialogueOptions:
    system: str | None = None
    max_tokens: int = 64
    temperature: float = 0.3
    seed: int | None = None
    language: str | None = None


def ask_node(
    url: str,
    audio: Path,
    options: DialogueOptions,
    *,
    model: str | None = None,
    chat_model: str | None = None,
    on_text: OnText | None = None,
    on_heard: OnText | None = None,
    api_key: str | None = None,
    timeout: float = 300.0,
) -> VoiceAnswer:
    """One POST /v1/audio/dialogue; the answer streams to on_text as it arrives."""
    fields = {
        key: str(value)
        for key, value in {
            "model": model,
            "chat_model": chat_model,
            "system": options.system,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
            "seed": options.seed,
            "language": options.language,
        }.items()
        if value is not None
    }
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    files = {"file": (audio.name, audio.read_bytes())}
    started = time.perf_counter()
    with (
        httpx.Client(timeout=timeout, headers=headers) as client,
        client.stream("POST", f"{url.rstrip('/')}/v1/audio/dialogue", data=fields, files=files) as response,
    ):
        if response.status_code != 200:
            raise UpstreamError(f"{url} answered {response.status_code}: {_error_message(response)}")
        return _read_dialogue(sse_events(response.iter_lines()), started, on_text, on_heard)


def _error_message(response: httpx.Response) -> str:
    response.read()
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def sse_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event name, data) pairs from server-sent event lines; unnamed events are "message"."""
    name = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield name, "\n".join(data)


def _read_dialogue(
    events: Iterator[tuple[str, str]], started: float, on_text: OnText | None, on_heard: OnText | None
) -> VoiceAnswer:
    transcript: dict[str, Any] = {}
    heard_at = first_at = None
    parts: list[str] = []
    tokens = 0
    for name, data in events:
        if data == "[DONE]":
            break
        payload = json.loads(data)
        if name == "error" or "error" in payload:
            raise UpstreamError(f"the dialogue failed: {payload['error']['message']}")
        if name == "transcript":
            transcript, heard_at = payload, time.perf_counter()
            if on_heard:
                on_heard(payload["text"])
            continue
        if usage := payload.get("usage"):
            tokens = usage.get("completion_tokens", tokens)
        for choice in payload.get("choices", []):
            text = choice["delta"].get("content") or ""
            if text and first_at is None:
                first_at = time.perf_counter()
            parts.append(text)
            if on_text and text:
                on_text(text)
    if heard_at is None:
        raise UpstreamError("the dialogue stream ended without a transcript")
    ended = time.perf_counter()
    timings = transcript["timings"]
    return VoiceAnswer(
        transcript=transcript["text"],
        answer="".join(parts),
        completion_tokens=tokens,
        timings=VoiceTimings(
            audio=transcript["duration"],
            decode=timings["decode_ms"] / 1000,
            transcribe=timings["transcribe_ms"] / 1000,
            first_token=None if first_at is None else first_at - heard_at,
            answer=ended - heard_at,
            total=ended - started,
        ),
    )


class LocalVoice:
    """Both engines in this process: the pipeline without HTTP, for measuring the engines alone."""

    def __init__(
        self, catalogue: Catalogue, *, speech: str = SPEECH_MODEL, chat: str = CHAT_MODEL, threads: int = 2
    ) -> None:
        self._speech = _load(catalogue, speech, threads)
        self._chat = _load(catalogue, chat, threads)

    def close(self) -> None:
        self._speech.close()
        self._chat.close()

    def transcribe(self, audio: bytes, filename: str, language: str | None = None) -> Transcript:
        request = TranscriptionRequest(
            "voice", "completion", audio=audio, filename=filename, language=language
        )
        prepared = self._speech.preprocess(request)
        results = [self._speech.postprocess(step) for step in self._speech.infer([prepared])]
        audio_input, _ = prepared.state
        return assemble((r for r in results if isinstance(r, SegmentResult)), audio_input.decode_seconds)

    def ask(
        self,
        audio: Path,
        options: DialogueOptions,
        on_text: OnText | None = None,
        on_heard: OnText | None = None,
    ) -> VoiceAnswer:
        started = time.perf_counter()
        transcript = self.transcribe(audio.read_bytes(), audio.name, options.language)
        heard_at = time.perf_counter()
        if on_heard:
            on_heard(transcript.text)
        answer, tokens, first_at = self._answer(transcript.text, options, on_text)
        ended = time.perf_counter()
        return VoiceAnswer(
            transcript=transcript.text,
            answer=answer,
            completion_tokens=tokens,
            timings=VoiceTimings(
                audio=transcript.duration,
                decode=transcript.decode_seconds,
                transcribe=transcript.transcribe_seconds,
                first_token=None if first_at is None else first_at - heard_at,
                answer=ended - heard_at,
                total=ended - started,
            ),
        )

    def _answer(
        self, heard: str, options: DialogueOptions, on_text: OnText | None
    ) -> tuple[str, int, float | None]:
        if not heard:
            return "", 0, None
        messages = ((ChatMessage("system", options.system),) if options.system else ()) + (
            ChatMessage("user", heard),
        )
        sampling = SamplingParams(
            max_tokens=options.max_tokens, temperature=options.temperature, seed=options.seed
        )
        prepared = self._chat.preprocess(InferenceRequest("voice", "chat", messages, sampling=sampling))
        parts: list[str] = []
        tokens, first_at = 0, None
        for step in self._chat.infer([prepared]):
            result = self._chat.postprocess(step)
            if result.text and first_at is None:
                first_at = time.perf_counter()
            if result.text and on_text:
                on_text(result.text)
            parts.append(result.text)
            tokens = result.completion_tokens or tokens
            if result.finish_reason is not None:
                break
        return "".join(parts), tokens, first_at


def _load(catalogue: Catalogue, name: str, threads: int) -> Runtime:
    spec = catalogue.resolve(name)
    spec = replace(spec, source=LocalPath(catalogue.materialize(spec)))
    runtime = create_runtime(spec, threads=threads)
    runtime.load(spec)
    return runtime
