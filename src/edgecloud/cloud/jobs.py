"""Running a sharded job: read and shard the corpus, skip the shards already done, stream the rest
through a Ray Data stage under a progress bar, then hand the whole result to the job's analysis."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edgecloud.cloud.corpus import CorpusError, iter_documents
from edgecloud.cloud.kg_resolve import EntityKey
from edgecloud.cloud.pipeline import Stage, ToTable, run_stage
from edgecloud.cloud.session import ray_session
from edgecloud.cloud.shards import Shard, ShardStore, plan_shards


@dataclass(frozen=True)
class JobOptions:
    corpus: Path
    out: Path
    workers: int = 2
    shard_size: int = 16
    batch_size: int = 32
    address: str | None = None  # a Ray cluster; None starts a local Ray with num_cpus
    num_cpus: int = 2
    text_field: str = "text"
    id_field: str = "id"
    limit: int | None = None  # only the first N documents (benchmarks, smoke runs)


@dataclass(frozen=True)
class StageRun:
    """One pass over the corpus: the table of every shard, what ran, what was skipped, how fast."""

    table: pa.Table
    shards: list[Shard]
    shards_run: int
    docs_run: int
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def docs_per_s(self) -> float:
        return self.docs_run / self.seconds if self.seconds > 0 else 0.0

    def run_info(self, options: JobOptions) -> dict[str, Any]:
        return {
            "corpus": str(options.corpus),
            "workers": options.workers,
            "shards": len(self.shards),
            "shards_run": self.shards_run,
            "shards_skipped": len(self.shards) - self.shards_run,
            "docs_run": self.docs_run,
            "stage_seconds": round(self.seconds, 2),
            "docs_per_s": round(self.docs_per_s, 2),
            **self.extra,
        }


def load_shards(options: JobOptions, params: dict[str, Any]) -> list[Shard]:
    docs = list(iter_documents(options.corpus, text_field=options.text_field, id_field=options.id_field))
    docs = docs[: options.limit] if options.limit else docs
    if not docs:
        raise CorpusError(f"{options.corpus}: no documents with text")
    return plan_shards(docs, options.shard_size, params)


def run_sharded(
    options: JobOptions,
    job: str,
    stage_cls: type,
    stage_kwargs: dict[str, Any],
    params: dict[str, Any],
    to_table: ToTable,
    console: Console | None = None,
) -> StageRun:
    """The stage over every pending shard of the corpus (in OUT/shards-<job>/), resumable."""
    shards = load_shards(options, params)
    store = ShardStore(options.out / f"shards-{job}")
    pending = [shard for shard in shards if not store.is_done(shard)]
    docs_pending = sum(len(shard.docs) for shard in pending)
    stage = Stage(stage_cls, stage_kwargs, batch_size=options.batch_size, workers=options.workers)
    clock = _StageClock()
    if pending:
        with ray_session(options.address, num_cpus=options.num_cpus), _progress(console) as progress:
            total = sum(len(shard.docs) for shard in shards)
            task = progress.add_task(f"{job}: documents", total=total, completed=total - docs_pending)
            clock.start()  # the Ray start-up is not the stage's work; the workers' start-up is

            def advance(docs: int, shards_done: int) -> None:
                clock.tick(docs)
                progress.advance(task, docs)

            run_stage(pending, stage, store, to_table, advance)
            clock.stop()
    return StageRun(store.read_all(shards), shards, len(pending), docs_pending, clock.seconds, clock.steady())


class _StageClock:
    """Wall time of the stage, and the rate after the first batch came back (workers warm)."""

    def __init__(self) -> None:
        self.started = self.first = self.stopped = 0.0
        self.first_docs = self.docs = 0

    def start(self) -> None:
        self.started = time.perf_counter()

    def tick(self, docs: int) -> None:
        if not self.first:
            self.first, self.first_docs = time.perf_counter(), docs
        self.docs += docs

    def stop(self) -> None:
        self.stopped = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.stopped - self.started

    def steady(self) -> dict[str, Any]:
        warm = self.stopped - self.first
        rate = (self.docs - self.first_docs) / warm if warm > 0 and self.docs > self.first_docs else 0.0
        return {
            "first_batch_s": round(self.first - self.started, 2) if self.first else 0.0,
            "warm_docs_per_s": round(rate, 2),
        }


def _progress(console: Console | None) -> Progress:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console or Console(stderr=True), transient=False)


def mine_job(
    options: JobOptions, *, topics: int | None, threshold: float, console: Console | None = None
) -> dict[str, Any]:
    """`cloud job mine`: embeddings on Ray Data, then topics, keywords and near-duplicates."""
    from edgecloud.cloud.mine import MiniLMEmbedder, analyse, embedding_table
    from edgecloud.cloud.mine_report import write_mining
    from edgecloud.runtimes.embedder import EMBEDDING_MODEL

    params = {"job": "mine", "model": EMBEDDING_MODEL, "shard_size": options.shard_size}
    run = run_sharded(options, "mine", MiniLMEmbedder, {"threads": 1}, params, embedding_table, console)
    mining = analyse(run.table, topics, threshold)
    info = {**run.run_info(options), "model": EMBEDDING_MODEL, "duplicate_threshold": threshold}
    return write_mining(options.out, run.table, mining, info)


def kg_job(
    options: JobOptions, *, same_threshold: float, llm: str | None = None, console: Console | None = None
) -> dict[str, Any]:
    """`cloud job kg`: spaCy entities and SVO triples on Ray Data, then resolution and the graph."""
    import json

    from edgecloud.cloud.kg import SPACY_MODEL, SpacyExtractor
    from edgecloud.cloud.kg_graph import build_graph, write_graph
    from edgecloud.cloud.kg_resolve import resolve
    from edgecloud.runtimes.embedder import load_encoder

    params = {"job": "kg", "model": SPACY_MODEL, "llm": llm, "shard_size": options.shard_size, "version": 1}
    run = run_sharded(options, "kg", SpacyExtractor, {"llm": llm}, params, kg_table, console)
    triples, mentions = _kg_rows(run.table)
    encoder = load_encoder(threads=1)
    resolution = resolve(mentions, lambda names: encoder.embed(names), same_threshold)
    graph, resolved = build_graph(triples, Counter(key for key, _ in mentions), resolution)
    write_graph(options.out, graph, resolved)
    degree = sorted(graph.degree, key=lambda item: -item[1])[:10]
    summary = {
        **run.run_info(options),
        "model": SPACY_MODEL,
        "llm": llm,
        "llm_triples": sum(1 for t in triples if t.get("method") == "llm"),
        "documents": run.table.num_rows,
        "entities": graph.number_of_nodes(),
        "relations": graph.number_of_edges(),
        "merged_names": len(resolution.canonical),
        "top_entities": [{"entity": name, "degree": d} for name, d in degree],
    }
    (options.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def kg_table(shard: Shard, rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {name: [str(row[name]) for row in rows] for name in ("doc_id", "source", "entities", "triples")}
    )


def _kg_rows(table: pa.Table) -> tuple[list[dict[str, Any]], list[tuple[EntityKey, str]]]:
    """Every triple (with its document) and every mention (entities and triple ends) as (key, doc)."""
    import json

    triples: list[dict[str, Any]] = []
    mentions: list[tuple[EntityKey, str]] = []
    for row in table.to_pylist():
        doc_id = row["doc_id"]
        for entity in json.loads(row["entities"]):
            mentions.append((EntityKey(entity["name"], entity["label"]), doc_id))
        for triple in json.loads(row["triples"]):
            triples.append({**triple, "doc_id": doc_id, "source": row["source"]})
            mentions.append((EntityKey(triple["subject"], triple["subject_label"]), doc_id))
            mentions.append((EntityKey(triple["object"], triple["object_label"]), doc_id))
    return triples, mentions
