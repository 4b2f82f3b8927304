"""`edgecloud eval`: one suite against one endpoint (accuracy with 95% intervals, latency, tokens),
or against an edge and a cloud endpoint on the same items, with the cascade trade-off."""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from edgecloud.eval.harness import Record, SuiteSummary, run_items, summarize
from edgecloud.eval.records import write_records
from edgecloud.eval.report import write_cascade_report
from edgecloud.eval.scoring import PairedDifference
from edgecloud.eval.suites import Item
from edgecloud.routing.curve import Tradeoff, tradeoff
from edgecloud.routing.pairs import compare_tiers, primary_method

SIGNALS = {"loglik": "loglik_margin", "classify": "max_prob"}  # each method's own confidence


def _ask(
    label: str,
    url: str,
    model: str,
    suite: str,
    items: list[Item],
    loglik: bool,
    console: Console,
    concurrency: int,
) -> list[Record]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=len(items))
        return asyncio.run(
            run_items(
                url,
                model,
                suite,
                items,
                loglik=loglik,
                concurrency=concurrency,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        )


def print_summary(summary: SuiteSummary, console: Console) -> None:
    table = Table(title=f"{summary.suite} · {summary.model} @ {summary.url}")
    for column in ("method", "n", "accuracy / score", "95% CI"):
        table.add_column(column)
    for method in summary.methods:
        table.add_row(
            method.method,
            str(method.n),
            f"{method.accuracy:.1%}",
            f"{method.ci_low:.1%}–{method.ci_high:.1%}",
        )
    console.print(table)
    extra = f"; corpus chrF {summary.corpus_chrf:.1f}" if summary.corpus_chrf is not None else ""
    console.print(
        f"latency p50 {summary.latency_p50 * 1000:.0f} ms, p95 {summary.latency_p95 * 1000:.0f} ms; "
        f"tokens {summary.prompt_tokens} prompt + {summary.completion_tokens} completion; "
        f"{summary.errors} errors{extra}"
    )


def print_difference(method: str, difference: PairedDifference, console: Console) -> None:
    verdict = "significant" if difference.significant else "not significant"
    console.print(
        f"cloud - edge on {method}: {difference.difference:+.3f} (95% CI {difference.ci_low:+.3f} to "
        f"{difference.ci_high:+.3f}, paired over {difference.n} items; p={difference.p_value:.2g}, {verdict})"
    )


def print_tradeoff(curve: Tradeoff, console: Console) -> None:
    half = curve.at_share(0.5)
    reach = curve.share_for(0.95)
    reached = f"{reach.cloud_share:.0%} cloud calls" if reach else "not reached"
    console.print(
        f"cascade on {curve.signal} ({curve.method}): edge {curve.edge_accuracy:.1%}, cloud "
        f"{curve.cloud_accuracy:.1%}; at 50% cloud calls {half.accuracy:.1%} (random routing "
        f"{half.random_baseline:.1%}); 95% of the cloud's accuracy with {reached}"
    )


def run_eval_command(
    url: str,
    model: str,
    suite: str,
    items: list[Item],
    *,
    out: Path | None,
    loglik: bool,
    concurrency: int,
    cloud: str | None,
    cloud_model: str | None,
    signal: str,
    console: Console,
) -> int:
    records = _ask("edge" if cloud else "asking", url, model, suite, items, loglik, console, concurrency)
    summary = summarize(suite, model, url, items, records)
    print_summary(summary, console)
    if out is not None:
        write_records(out / "records.jsonl", records)
        (out / "summary.json").write_text(json.dumps(summary.to_dict(), indent=2))
    if cloud is None:
        return 0 if summary.errors < len(items) else 1
    cloud_records = _ask("cloud", cloud, cloud_model or model, suite, items, loglik, console, concurrency)
    cloud_summary = summarize(suite, cloud_model or model, cloud, items, cloud_records)
    print_summary(cloud_summary, console)
    methods = [m.method for m in summary.methods if m.method in {c.method for c in cloud_summary.methods}]
    primary = primary_method(suite, methods)
    curves = [
        tradeoff(records, cloud_records, m, SIGNALS.get(m, signal))
        for m in methods
        if m in (primary, "loglik")
    ]
    difference = compare_tiers(records, cloud_records, primary)
    print_difference(primary, difference, console)
    for curve in curves:
        print_tradeoff(curve, console)
    if out is not None:
        (out / "comparison.json").write_text(
            json.dumps({"method": primary, **asdict(difference), "significant": difference.significant})
        )
        write_records(out / "records-cloud.jsonl", cloud_records)
        page = write_cascade_report(out, summary, cloud_summary, curves)
        console.print(f"report: {page}")
    return 0
