"""One way every command prints an error: red `error:` and the message on one logical line. Rich
hard-wraps at the terminal width otherwise, which splits a long path from its message (and a test's
`in` check with it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from edgecloud.errors import EdgecloudError


def print_error(console: Console, message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)


@contextmanager
def exit_on_error(console: Console) -> Iterator[None]:
    """A command's own errors (bad input, a missing file) end it with the message and exit code 2,
    never a traceback."""
    try:
        yield
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
