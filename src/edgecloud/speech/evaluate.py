"""Word error rate and real-time factor of edge speech recognition on sentences espeak-ng speaks.

    python -m edgecloud.speech.evaluate                    # in this process, beam sizes 1 and 5 side by side
    python -m edgecloud.speech.evaluate --beam 5 --threads 1 2   # thread counts side by side
    python -m edgecloud.speech.evaluate --url URL          # through a node's /v1/audio/transcriptions

Speech is synthetic (espeak-ng), so the figures say how well the pipeline works end to end, not how
tiny.en fares on real voices. The real-time factor is model time over audio time, measured per run; compare
settings only within one run (the machine is shared and noisy)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import track
from rich.table import Table

from edgecloud.catalogue import Catalogue, LocalPath
from edgecloud.config import default_cache_dir
from edgecloud.runtimes.whisper import (
    SegmentResult,
    Transcript,
    TranscriptionRequest,
    WhisperRuntime,
    assemble,
)
from edgecloud.speech.synth import SENTENCES, speak
from edgecloud.speech.wer import WordErrors, word_errors


@dataclass(frozen=True)
class Trial:
    setting: str
    reference: str
    hypothesis: str
    errors: WordErrors
    audio_seconds: float
    model_seconds: float


def transcribe_local(runtime: WhisperRuntime, wav: Path) -> Transcript:
    request = TranscriptionRequest("eval", "completion", audio=wav.read_bytes(), filename=wav.name)
    prepared = runtime.preprocess(request)
    results = [runtime.postprocess(step) for step in runtime.infer([prepared])]
    audio, _ = prepared.state
    return assemble((r for r in results if isinstance(r, SegmentResult)), audio.decode_seconds)


def transcribe_remote(url: str, wav: Path, model: str) -> Transcript:
    files = {"file": (wav.name, wav.read_bytes())}
    data = {"model": model, "response_format": "verbose_json"}
    response = httpx.post(f"{url.rstrip('/')}/v1/audio/transcriptions", files=files, data=data, timeout=300)
    response.raise_for_status()
    timing = dict(
        part.strip().split(";dur=") for part in response.headers.get("server-timing", "").split(",") if part
    )
    body = response.json()
    return Transcript(
        text=body["text"],
        segments=(),
        language=body["language"],
        duration=body["duration"],
        decode_seconds=float(timing.get("decode", 0)) / 1000,
        transcribe_seconds=float(timing.get("transcribe", 0)) / 1000,
    )


def _runtimes(beams: Sequence[int], threads: Sequence[int]) -> dict[str, WhisperRuntime]:
    """One engine per (beam size, thread count), loaded once; the settings then alternate per sentence."""
    catalogue = Catalogue(default_cache_dir())
    spec = catalogue.resolve("whisper-tiny-en")
    spec = replace(spec, source=LocalPath(catalogue.materialize(spec)))
    runtimes = {}
    for beam in beams:
        for count in threads:
            runtime = WhisperRuntime(n_threads=count, beam_size=beam)
            runtime.load(spec)
            runtimes[f"beam {beam}, {count} thread{'s' if count > 1 else ''}"] = runtime
    return runtimes


def run(args: argparse.Namespace, console: Console) -> list[Trial]:
    folder = Path(tempfile.mkdtemp(prefix="edgecloud-speech-"))
    wavs = {text: speak(text, folder / f"s{i}.wav") for i, text in enumerate(SENTENCES)}
    trials: list[Trial] = []
    runtimes = {} if args.url else _runtimes(args.beam, args.threads)
    settings = ["node"] if args.url else list(runtimes)
    work = [(setting, text) for _ in range(args.repeat) for text in wavs for setting in settings]
    for setting, text in track(work, description="transcribing", console=console):
        if args.url:
            transcript = transcribe_remote(args.url, wavs[text], args.model)
        else:
            transcript = transcribe_local(runtimes[setting], wavs[text])
        errors = word_errors(text, transcript.text)
        trials.append(
            Trial(setting, text, transcript.text, errors, transcript.duration, transcript.transcribe_seconds)
        )
    return trials


def report(trials: list[Trial], console: Console) -> None:
    detail = Table("setting", "said", "heard", "WER")
    seen: set[tuple[str, str]] = set()
    for trial in trials:
        if (trial.setting, trial.reference) not in seen:
            seen.add((trial.setting, trial.reference))
            detail.add_row(trial.setting, trial.reference, trial.hypothesis, f"{trial.errors.wer:.2f}")
    console.print(detail)
    summary = Table(
        "setting", "utterances", "words", "errors", "WER", "audio s", "model s", "real-time factor"
    )
    for setting in dict.fromkeys(trial.setting for trial in trials):
        mine = [trial for trial in trials if trial.setting == setting]
        total = sum((trial.errors for trial in mine), WordErrors(0, 0, 0, 0))
        audio = sum(trial.audio_seconds for trial in mine)
        model = sum(trial.model_seconds for trial in mine)
        summary.add_row(
            setting,
            str(len(mine)),
            str(total.reference_words),
            str(total.errors),
            f"{total.wer:.3f}",
            f"{audio:.1f}",
            f"{model:.2f}",
            f"{model / audio:.3f}",
        )
    console.print(summary)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="a node serving the speech model (default: in this process)")
    parser.add_argument("--model", default="whisper-tiny-en", help="speech model on the node")
    parser.add_argument(
        "--beam", type=int, nargs="+", default=[1, 5], help="beam sizes to compare (in-process)"
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="CPU thread counts (in-process)")
    parser.add_argument("--repeat", type=int, default=1, help="passes over the sentences")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)  # tables unwrapped in logs
    report(run(args, console), console)


if __name__ == "__main__":
    main()
