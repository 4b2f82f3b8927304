"""`edgecloud telemetry release`: the differentially private summary an edge device may send upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgecloud.config import default_cache_dir
from edgecloud.privacy.dp import BudgetExceeded, PrivacyAccountant, release

telemetry_app = typer.Typer(
    help="Differentially private telemetry from an edge device.", no_args_is_help=True
)


@telemetry_app.command("release")
def release_command(
    log: Annotated[Path, typer.Option(help="the gateway's JSON-lines decision log")],
    epsilon: Annotated[float, typer.Option(help="privacy cost of this release")] = 1.0,
    delta: Annotated[float, typer.Option(help="delta (Gaussian mechanism only)")] = 0.0,
    mechanism: Annotated[str, typer.Option(help="laplace or gaussian")] = "laplace",
    budget_epsilon: Annotated[float, typer.Option(help="total epsilon this device may ever spend")] = 10.0,
    budget_delta: Annotated[float, typer.Option(help="total delta this device may ever spend")] = 1e-5,
    state: Annotated[
        Path | None, typer.Option(help="where the accountant keeps what was spent [default: cache folder]")
    ] = None,
) -> None:
    """Print noisy placement counts, latency histogram and escalation rate; refuse past the budget."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    records = [record for record in lines if "event" not in record]  # answers only, not operator changes
    accountant = PrivacyAccountant(
        budget_epsilon, budget_delta, state or default_cache_dir() / "dp-accountant.json"
    )
    try:
        report = release(records, accountant, epsilon=epsilon, delta=delta, mechanism=mechanism)
    except (BudgetExceeded, ValueError) as exc:
        Console(stderr=True).print(f"[red]refused:[/] {getattr(exc, 'message', exc)}")
        raise typer.Exit(3) from None
    print(json.dumps(report, indent=2))
