"""Documents/s of a job's Ray Data stage with 1 and 2 workers, measured side by side in one Ray
session (runs alternate, fresh output folders, so nothing is skipped), on the same corpus."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from edgecloud.cloud.jobs import JobOptions, kg_table, run_sharded
from edgecloud.cloud.session import ray_session

BUILTIN = "builtin:rotten-tomatoes"


def builtin_corpus(folder: Path, docs: int) -> Path:
    """The first `docs` Rotten Tomatoes snippets as JSONL (the offline corpus the project ships)."""
    from edgecloud.datasets.rotten_tomatoes import corpus_sentences

    path = folder / "rotten-tomatoes.jsonl"
    with path.open("w") as handle:
        for i, text in enumerate(corpus_sentences()[:docs]):
            handle.write(json.dumps({"id": f"rt-{i}", "text": text}) + "\n")
    return path


def _stage(job: str) -> tuple[type, dict[str, Any], Any]:
    if job == "mine":
        from edgecloud.cloud.mine import MiniLMEmbedder, embedding_table

        return MiniLMEmbedder, {"threads": 1}, embedding_table
    from edgecloud.cloud.kg import SpacyExtractor

    return SpacyExtractor, {}, kg_table


def bench_workers(
    job: str,
    corpus: str,
    *,
    docs: int,
    workers: tuple[int, ...] = (1, 2),
    rounds: int = 2,
    shard_size: int = 64,
) -> list[dict[str, Any]]:
    """One row per run: job, workers, round, documents, stage seconds, docs/s, warm docs/s."""
    stage_cls, kwargs, to_table = _stage(job)
    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="edgecloud-bench-") as tmp,
        ray_session(None, num_cpus=max(workers)),
    ):
        path = builtin_corpus(Path(tmp), docs) if corpus == BUILTIN else Path(corpus)
        for round_ in range(rounds):
            order = workers if round_ % 2 == 0 else tuple(reversed(workers))
            for count in order:
                out = Path(tmp) / f"{job}-{count}-{round_}"
                options = JobOptions(path, out, workers=count, shard_size=shard_size, limit=docs)
                run = run_sharded(options, job, stage_cls, kwargs, {"bench": round_}, to_table)
                rows.append({"job": job, "workers": count, "round": round_, **run.run_info(options)})
    return rows


def print_bench(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table("job", "workers", "round", "documents", "stage s", "docs/s", "warm docs/s", "first batch s")
    for row in rows:
        table.add_row(
            row["job"],
            str(row["workers"]),
            str(row["round"]),
            str(row["docs_run"]),
            f"{row['stage_seconds']:.1f}",
            f"{row['docs_per_s']:.1f}",
            f"{row['warm_docs_per_s']:.1f}",
            f"{row['first_batch_s']:.1f}",
        )
    console.print(table)
    by_workers: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_workers.setdefault(row["workers"], []).append(row)
    if 1 in by_workers and 2 in by_workers:
        mean = {w: sum(r["docs_per_s"] for r in rs) / len(rs) for w, rs in by_workers.items()}
        warm = {w: sum(r["warm_docs_per_s"] for r in rs) / len(rs) for w, rs in by_workers.items()}
        console.print(
            f"2 workers vs 1: {mean[2] / mean[1]:.2f}x docs/s over the whole stage, "
            f"{warm[2] / max(warm[1], 1e-9):.2f}x once warm (same run, same corpus)"
        )
