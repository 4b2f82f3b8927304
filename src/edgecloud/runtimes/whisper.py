"""Speech recognition with faster-whisper (CTranslate2) behind the Runtime contract.

The four stages map onto Whisper like this: preprocess decodes the uploaded audio (wav, mp3, ogg, flac:
whatever PyAV reads) to 16 kHz mono samples, infer yields one step per recognised segment, postprocess
turns a segment into a result the HTTP layer formats. The node runs infer on one worker thread per model
(the DecoderWorker), because one CTranslate2 model object serving several threads at once is not
something we can count on; a cancelled job stops at the next segment."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, ModelFileError, PayloadTooLarge
from edgecloud.runtimes.base import (
    Capability,
    InferenceRequest,
    InferenceResult,
    Prepared,
    SamplingParams,
    StepOutput,
)

SAMPLE_RATE = 16_000
# Whisper's own schedule: temperature 0 first, hotter retries when a segment looks degenerate.
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
ENGLISH = ("en", "english")


@dataclass(frozen=True)
class TranscriptionRequest(InferenceRequest):
    """An audio upload. Whisper's decoder completes text conditioned on the audio, hence kind
    "completion"; `prompt` is its initial prompt (spellings, context), `sampling.temperature` 0 means
    Whisper's fallback schedule."""

    # OpenAI's default for audio is temperature 0 (with fallback), not the text APIs' 1.
    sampling: SamplingParams = field(default_factory=lambda: SamplingParams(temperature=0.0))
    audio: bytes = b""
    filename: str = "audio"
    language: str | None = None
    word_timestamps: bool = False
    max_seconds: float | None = None  # decoding stops (413) once the audio passes this


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class TranscriptSegment:
    id: int
    seek: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class AudioInput:
    """Decoded samples, and how long decoding took (a stage the voice timings report)."""

    samples: np.ndarray
    decode_seconds: float

    @property
    def duration(self) -> float:
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class SegmentStep(StepOutput):
    segment: TranscriptSegment | None = None
    language: str = "en"
    duration: float = 0.0
    seconds: float = 0.0  # time spent in the model so far


@dataclass(frozen=True)
class SegmentResult(InferenceResult):
    """One recognised segment (text is its text), or the final marker with finish_reason set."""

    segment: TranscriptSegment | None = None
    language: str = "en"
    duration: float = 0.0
    seconds: float = 0.0


@dataclass(frozen=True)
class Transcript:
    """A whole transcription: what every response format is rendered from."""

    text: str
    segments: tuple[TranscriptSegment, ...]
    language: str
    duration: float
    decode_seconds: float
    transcribe_seconds: float
    words: tuple[Word, ...] = field(default=())

    @property
    def real_time_factor(self) -> float:
        """Model time over audio time: below 1 is faster than real time."""
        return self.transcribe_seconds / self.duration if self.duration else 0.0


def assemble(results: Iterable[SegmentResult], decode_seconds: float) -> Transcript:
    """The transcript from a job's results, in order (the last one carries the totals)."""
    segments: list[TranscriptSegment] = []
    last: SegmentResult | None = None
    for result in results:
        if result.segment is not None:
            segments.append(result.segment)
        last = result
    if last is None:
        raise InvalidRequest("the transcription produced no result")
    return Transcript(
        text="".join(segment.text for segment in segments).strip(),
        segments=tuple(segments),
        language=last.language,
        duration=last.duration,
        decode_seconds=decode_seconds,
        transcribe_seconds=last.seconds,
        words=tuple(word for segment in segments for word in segment.words),
    )


def decode_audio(data: bytes, filename: str = "audio", max_seconds: float | None = None) -> AudioInput:
    """16 kHz mono float32 samples from any container PyAV reads; a client's bad file is a 400, audio
    longer than max_seconds a 413, found while decoding (a small file of silence can decode to hours)."""
    if not data:
        raise InvalidRequest(f"the audio file {filename!r} is empty", param="file")
    started = time.perf_counter()
    limit = int(max_seconds * SAMPLE_RATE) if max_seconds is not None else None
    try:
        samples = _decode_pcm16(data, limit)
    except AudioTooLong:
        raise PayloadTooLarge(
            f"the audio in {filename!r} is longer than this node's limit of {max_seconds:g} s "
            "(EDGECLOUD_MAX_AUDIO_SECONDS); split it",
            param="file",
        ) from None
    except Exception as exc:  # PyAV raises several types for malformed input; all are the client's
        raise InvalidRequest(
            f"could not decode {filename!r} as audio (wav, mp3, ogg, flac, ...): {exc}", param="file"
        ) from None
    if len(samples) == 0:
        raise InvalidRequest(f"the audio file {filename!r} holds no samples", param="file")
    return AudioInput(samples.astype(np.float32) / 32768.0, time.perf_counter() - started)


class AudioTooLong(Exception):
    pass


def _decode_pcm16(data: bytes, limit: int | None = None) -> np.ndarray:
    """faster-whisper's decode_audio minus its gc.collect(): a full collection per request cost
    150-500 ms here with the GIL held (the event loop stalls); the resampler's reference cycles it
    worked around are left to Python's ordinary cyclic collector."""
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r", metadata_errors="ignore") as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        frames = container.decode(audio=0)
        decoded = 0
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except av.error.InvalidDataError:  # a damaged frame is skipped, as faster-whisper does
                continue
            new = [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
            chunks.extend(new)
            decoded += sum(len(chunk) for chunk in new)
            if limit is not None and decoded > limit:
                raise AudioTooLong
        chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)


class WhisperRuntime:
    """faster-whisper on the CPU with int8 compute (loads in a fraction of a second)."""

    # Transcription is none of the text capabilities; the audio routes check the spec's kind instead.
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, *, n_threads: int = 2, beam_size: int = 5, compute_type: str = "int8") -> None:
        self._n_threads = n_threads
        self._beam_size = beam_size
        self._compute_type = compute_type
        self._model: Any = None
        self._name = "whisper"
        self.english_only = True
        self.context_length = 448

    def load(self, spec: ModelSpec) -> None:
        from faster_whisper import WhisperModel

        path = Path(getattr(spec.source, "path", ""))
        folder = path.parent if path.is_file() else path  # the catalogue points at model.bin
        if not (folder / "model.bin").is_file():
            raise ModelFileError(f"model {spec.name!r}: no CTranslate2 model.bin in {folder}")
        self._name = spec.name
        self._model = WhisperModel(
            str(folder), device="cpu", compute_type=self._compute_type, cpu_threads=self._n_threads
        )
        self.english_only = not self._model.model.is_multilingual

    def preprocess(self, request: InferenceRequest) -> Prepared:
        if not isinstance(request, TranscriptionRequest):
            raise InvalidRequest(
                f"model {self._name!r} transcribes audio; use /v1/audio/transcriptions", param="model"
            )
        language = (request.language or "").strip().lower() or None
        if language is not None and self.english_only and language not in ENGLISH:
            raise InvalidRequest(
                f"model {self._name!r} recognises English only; language {request.language!r} is not "
                "supported",
                param="language",
            )
        if language == "english":
            language = "en"
        audio = decode_audio(request.audio, request.filename, request.max_seconds)
        return Prepared(request=request, state=(audio, language))

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        """One step per segment as Whisper produces them, then a final step with the totals."""
        for prepared in batch:
            yield from self._transcribe(prepared)

    def _transcribe(self, prepared: Prepared) -> Iterator[SegmentStep]:
        request = prepared.request
        assert isinstance(request, TranscriptionRequest)
        audio, language = prepared.state
        temperature = request.sampling.temperature
        started = time.perf_counter()
        segments, info = self._model.transcribe(
            audio.samples,
            language=language or ("en" if self.english_only else None),
            beam_size=self._beam_size,
            temperature=FALLBACK_TEMPERATURES if temperature == 0 else temperature,
            initial_prompt=request.prompt or None,
            word_timestamps=request.word_timestamps,
        )
        common = {"language": info.language, "duration": info.duration}
        for raw in segments:
            segment = _segment(raw)
            elapsed = time.perf_counter() - started
            yield SegmentStep(prepared, text=segment.text, segment=segment, seconds=elapsed, **common)
        elapsed = time.perf_counter() - started
        yield SegmentStep(prepared, finish_reason="stop", seconds=elapsed, **common)

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        assert isinstance(raw, SegmentStep)
        return SegmentResult(
            text=raw.text or "",
            finish_reason=raw.finish_reason,
            segment=raw.segment,
            language=raw.language,
            duration=raw.duration,
            seconds=raw.seconds,
        )

    def close(self) -> None:
        self._model = None


def _segment(raw: Any) -> TranscriptSegment:
    words = tuple(Word(w.start, w.end, w.word, w.probability) for w in raw.words or ())
    return TranscriptSegment(
        id=raw.id,
        seek=raw.seek,
        start=raw.start,
        end=raw.end,
        text=raw.text,
        tokens=tuple(raw.tokens),
        temperature=float(raw.temperature or 0.0),
        avg_logprob=raw.avg_logprob,
        compression_ratio=raw.compression_ratio,
        no_speech_prob=raw.no_speech_prob,
        words=words,
    )
