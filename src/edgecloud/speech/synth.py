"""Real speech for tests and measurements: espeak-ng speaks a sentence into a wav file, and PyAV (the
decoder faster-whisper already uses) re-encodes it as mp3, ogg (Opus) or flac, so no extra system tools
are needed beyond espeak-ng itself."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

# Short commands and questions of the kind an edge voice assistant hears.
SENTENCES = (
    "Please turn on the lights in the kitchen.",
    "What is the weather like in Paris today?",
    "Set a timer for ten minutes.",
    "The quick brown fox jumps over the lazy dog.",
    "Remind me to call my mother tomorrow morning.",
    "How far is the nearest train station?",
)

# container -> (codec, sample rate): Opus only runs at 48 kHz; the others keep espeak's 22.05 kHz.
_ENCODINGS = {"mp3": ("libmp3lame", 22_050), "ogg": ("libopus", 48_000), "flac": ("flac", 22_050)}


class SpeechSynthesisError(RuntimeError):
    pass


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def speak(text: str, out: Path, *, voice: str = "en-us", words_per_minute: int = 160) -> Path:
    """A wav file of espeak-ng saying `text`."""
    binary = espeak_binary()
    if binary is None:
        raise SpeechSynthesisError("espeak-ng is not installed (apt-get install espeak-ng)")
    command = [binary, "-v", voice, "-s", str(words_per_minute), "-w", str(out), text]
    completed = subprocess.run(command, capture_output=True, timeout=60, check=False)
    if completed.returncode != 0 or not out.is_file():
        raise SpeechSynthesisError(f"espeak-ng failed: {completed.stderr.decode(errors='replace')}")
    return out


def transcode(wav: Path, container: str) -> bytes:
    """The wav re-encoded as mp3, ogg (Opus) or flac, in memory."""
    import av

    codec, rate = _ENCODINGS[container]
    buffer = io.BytesIO()
    with av.open(str(wav)) as source, av.open(buffer, mode="w", format=container) as target:
        stream = target.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            for resampled in resampler.resample(frame):
                target.mux(stream.encode(resampled))
        for resampled in resampler.resample(None):
            target.mux(stream.encode(resampled))
        target.mux(stream.encode(None))
    return buffer.getvalue()
