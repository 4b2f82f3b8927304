"""Command-line options that more than one command takes (`serve`, `cloud serve`, `bench gpu`)."""

from __future__ import annotations

from typing import Annotated

import click
import typer
from pydantic import ValidationError
from rich.console import Console

from edgecloud.cli_errors import print_error
from edgecloud.config import NodeSettings
from edgecloud.runtimes.device import CHOICES, PRECISIONS

DeviceOption = Annotated[
    str | None,
    typer.Option(
        click_type=click.Choice(CHOICES),
        help="where transformers engines run: auto (a CUDA GPU when torch sees one), cpu or cuda "
        "[env EDGECLOUD_DEVICE; default: auto]",
        show_default=False,
    ),
]

PrecisionOption = Annotated[
    str | None,
    typer.Option(
        click_type=click.Choice(PRECISIONS),
        help="weights on a CUDA device: auto (bf16, fp16 without bf16), fp32 (greedy answers identical "
        "to the CPU's), bf16 or fp16; the CPU runs fp32 [env EDGECLOUD_PRECISION]",
        show_default=False,
    ),
]


def node_settings(console: Console, **overrides: object) -> NodeSettings:
    """NodeSettings from EDGECLOUD_* variables and flags; a bad value is a one-line error naming the
    variable and the flag (exit 2), not a validation traceback."""
    try:
        return NodeSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"])
            flag = "--" + field.replace("_", "-")
            problems.append(f"EDGECLOUD_{field.upper()} / {flag}: {error['msg']} (got {error['input']!r})")
        print_error(console, "bad setting: " + "; ".join(problems))
        raise typer.Exit(2) from None
