"""`edgecloud train`: the sentiment classifier (frozen head vs fine-tuned, the better one kept) and
the edge/cloud classification cascade's accuracy vs share escalated."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgecloud.cli_errors import print_error
from edgecloud.errors import EdgecloudError
from edgecloud.train.classifier import VARIANTS, OnProgress

train_app = typer.Typer(
    help="Train task models (the sentiment classifier) and measure cascades.", no_args_is_help=True
)
console = Console(stderr=True)
DATASETS = ("rotten-tomatoes",)


@contextmanager
def _progress() -> Iterator[OnProgress]:
    """One bar per phase; the trainers report (phase, done, total)."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield report


@train_app.command("classifier")
def classifier_command(
    out: Annotated[Path, typer.Option(help="folder to write (an AutoModelForSequenceClassification folder)")],
    data: Annotated[str, typer.Option(help="training data")] = "rotten-tomatoes",
    base: Annotated[
        str, typer.Option(help="base encoder: a catalogue name or an HF folder")
    ] = "all-minilm-l6-v2",
    variant: Annotated[
        list[str] | None,
        typer.Option(help=f"variants to train and compare ({', '.join(VARIANTS)}); default both"),
    ] = None,
    epochs: Annotated[int, typer.Option(min=1, help="fine-tuning epochs")] = 3,
    batch_size: Annotated[int, typer.Option(min=1, help="fine-tuning batch size")] = 32,
    max_length: Annotated[int, typer.Option(min=8, max=512, help="fine-tuning truncation length")] = 64,
    learning_rate: Annotated[float, typer.Option(help="fine-tuning learning rate")] = 5e-5,
    pooling: Annotated[
        str, typer.Option(help="fine-tuning pooling: mean (faster to train) or cls (a plain HF head)")
    ] = "mean",
    limit: Annotated[int | None, typer.Option(min=10, help="train on the first N snippets only")] = None,
    eval_limit: Annotated[
        int | None, typer.Option(min=10, help="validate and test on N snippets only")
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads")] = None,
) -> None:
    """Train a sentiment classifier from MiniLM: a logistic-regression head on frozen mean-pooled
    embeddings and end-to-end fine-tuning; keep the one with the better validation accuracy and report
    accuracy and macro-F1 of both on the held-out test split."""
    from edgecloud.train.classifier import TrainConfig, train_classifier

    if pooling not in ("mean", "cls"):
        print_error(console, f"--pooling must be mean or cls, not {pooling!r}")
        raise typer.Exit(2)
    if data not in DATASETS:
        print_error(console, f"unknown data {data!r}; choose from {', '.join(DATASETS)}")
        raise typer.Exit(2)
    try:
        config = TrainConfig(
            base_dir=_base_dir(base),
            variants=tuple(variant or VARIANTS),
            epochs=epochs,
            batch_size=batch_size,
            max_length=max_length,
            learning_rate=learning_rate,
            pooling=pooling,
            train_limit=limit,
            eval_limit=eval_limit,
            threads=threads,
        )
        with _progress() as report:
            result = train_classifier(config, out, report)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
    _print_training(result)


def _base_dir(base: str) -> Path:
    from edgecloud.catalogue import Catalogue
    from edgecloud.config import NodeSettings

    catalogue = Catalogue(NodeSettings().cache_dir)
    return catalogue.materialize(catalogue.resolve(base))


def _print_training(report: dict[str, object]) -> None:
    table = Table(
        "variant", "val acc", "test acc", "test macro-F1", "train s", "folder", title="sentiment classifier"
    )
    variants = report["variants"]
    assert isinstance(variants, dict)
    for name, row in variants.items():
        chosen = " (kept)" if name == report["chosen"] else ""
        table.add_row(
            name + chosen,
            f"{row['validation']['accuracy']:.3f}",
            f"{row['test']['accuracy']:.3f}",
            f"{row['test']['macro_f1']:.3f}",
            f"{row['train_seconds']:.0f}",
            row["folder"],
        )
    Console().print(table)
    Console().print(f"data: {report['data']}")


@train_app.command("cascade-report")
def cascade_report_command(
    edge: Annotated[Path, typer.Option(help="the edge's classifier folder (small / frozen head)")],
    cloud: Annotated[Path, typer.Option(help="the cloud's classifier folder (stronger)")],
    edge_int8: Annotated[bool, typer.Option(help="quantise the edge model to dynamic int8 first")] = False,
    thresholds: Annotated[str, typer.Option(help="comma-separated confidence thresholds")] = (
        "0.5,0.6,0.7,0.75,0.8,0.85,0.9,0.95,0.99"
    ),
    limit: Annotated[int | None, typer.Option(min=10, help="the first N test snippets only")] = None,
    out: Annotated[Path | None, typer.Option(help="write the table as JSON here")] = None,
) -> None:
    """Accuracy vs share escalated on the held-out test split: the edge labels every snippet, those
    under the confidence threshold go to the cloud's model (random escalation at the same share beside)."""
    from edgecloud.routing.classify_cascade import cascade_table, measure_tiers

    try:
        values = [float(t) for t in thresholds.split(",") if t.strip()]
        with _progress() as report:
            tiers = measure_tiers(edge, cloud, limit=limit, edge_int8=edge_int8, on_progress=report)
    except (EdgecloudError, ValueError) as exc:
        print_error(console, str(getattr(exc, "message", exc)))
        raise typer.Exit(2) from None
    rows = cascade_table(tiers, values)
    table = Table(
        "threshold", "escalated", "accuracy", "macro-F1", "random at same share", title=tiers.title()
    )
    for row in rows:
        table.add_row(
            row.label,
            f"{row.escalated:.1%}",
            f"{row.accuracy:.3f}",
            f"{row.macro_f1:.3f}",
            f"{row.random_accuracy:.3f}",
        )
    Console().print(table)
    if out is not None:
        out.write_text(json.dumps({"title": tiers.title(), "rows": [r.as_dict() for r in rows]}, indent=2))
