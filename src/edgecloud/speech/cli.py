"""The body of `edgecloud voice`: speak to the edge; print what it heard, its answer and each stage's time."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edgecloud.catalogue import Catalogue
from edgecloud.config import default_cache_dir
from edgecloud.errors import EdgecloudError
from edgecloud.speech.voice import (
    CHAT_MODEL,
    SPEECH_MODEL,
    DialogueOptions,
    LocalVoice,
    VoiceAnswer,
    ask_node,
)


class VoiceError(Exception):
    """A failure to report as one line (exit code 2), not a traceback."""


def run_voice(
    audio: Path,
    options: DialogueOptions,
    *,
    url: str | None,
    model: str | None,
    chat_model: str | None,
    threads: int,
    console: Console,
) -> VoiceAnswer:
    if not audio.is_file():
        raise VoiceError(f"{audio} is not a file")

    def echo(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def heard(text: str) -> None:
        console.print(f"[bold]heard:[/] {text or '(nothing)'}")

    try:
        if url:
            console.print(f"asking {url} ...")
            result = ask_node(
                url, audio, options, model=model, chat_model=chat_model, on_text=echo, on_heard=heard
            )
        else:
            speech, chat = model or SPEECH_MODEL, chat_model or CHAT_MODEL
            with console.status(f"loading {speech} and {chat} in this process ..."):
                voice = LocalVoice(Catalogue(default_cache_dir()), speech=speech, chat=chat, threads=threads)
            try:
                result = voice.ask(audio, options, on_text=echo, on_heard=heard)
            finally:
                voice.close()
    except EdgecloudError as exc:
        raise VoiceError(exc.message) from None
    except OSError as exc:  # connection refused, unreadable file
        raise VoiceError(str(exc)) from None
    sys.stdout.write("\n")
    print_report(result, console)
    return result


def print_report(result: VoiceAnswer, console: Console) -> None:
    table = Table("stage", "time", title=f"voice dialogue ({result.completion_tokens} answer tokens)")
    for stage, value in result.timings.rows():
        table.add_row(stage, value)
    console.print(table)
