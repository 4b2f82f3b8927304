"""Audio longer than the node's limit is refused while decoding, before any of it is transcribed."""

from __future__ import annotations

import io
import wave

import pytest

from edgecloud.errors import PayloadTooLarge
from edgecloud.runtimes.whisper import SAMPLE_RATE, decode_audio


def _silence(seconds: float, rate: int = SAMPLE_RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def test_audio_within_the_limit_decodes_whole() -> None:
    audio = decode_audio(_silence(3.0, rate=8000), "quiet.wav", max_seconds=5.0)
    assert audio.duration == pytest.approx(3.0, abs=0.05)


def test_audio_past_the_limit_is_a_413_naming_the_setting() -> None:
    with pytest.raises(PayloadTooLarge, match="EDGECLOUD_MAX_AUDIO_SECONDS") as info:
        decode_audio(_silence(12.0), "long.wav", max_seconds=2.0)
    assert info.value.status == 413 and info.value.param == "file"
