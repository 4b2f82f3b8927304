"""One way every command prints an error: red `error:` and the message on one logical line. Rich
hard-wraps at the terminal width otherwise, which splits a long path from its message (and a test's
`in` check with it)."""

from __future__ import annotations

from rich.console import Console


def print_error(console: Console, message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)
