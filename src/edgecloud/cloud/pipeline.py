"""Streaming the pending shards through one Ray Data stage (a callable class on an actor pool, one
worker per CPU) and writing each shard as soon as its last document comes back, so progress is saved
shard by shard and the same code runs on a local Ray or a cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from edgecloud.cloud.shards import Shard, ShardStore

Rows = list[dict[str, Any]]
ToTable = Callable[[Shard, Rows], pa.Table]  # a shard's rows (in document order) -> its Parquet table
OnProgress = Callable[[int, int], None]  # (documents done, shards done) increments


@dataclass(frozen=True)
class Stage:
    """A Ray Data map_batches stage: `cls(**kwargs)` once per worker, then `instance(batch)`."""

    cls: type
    kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: int = 32
    workers: int = 2
    cpus_per_worker: float = 1.0


def documents_dataset(shards: Sequence[Shard], workers: int) -> Any:
    """The pending shards' documents as a Ray dataset, in blocks small enough to keep every worker busy."""
    import ray.data

    items = [
        {"shard": shard.index, "pos": pos, "doc_id": doc.doc_id, "source": doc.source, "text": doc.text}
        for shard in shards
        for pos, doc in enumerate(shard.docs)
    ]
    blocks = max(1, min(len(items), max(len(shards), workers * 4)))
    return ray.data.from_items(items, override_num_blocks=blocks)


def run_stage(
    shards: Sequence[Shard], stage: Stage, store: ShardStore, to_table: ToTable, on_progress: OnProgress
) -> None:
    """Runs the stage over the shards' documents and writes each completed shard through the store."""
    import ray.data

    if not shards:
        return
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the CLI shows one rich bar instead
    context.print_on_execution_start = False
    mapped = documents_dataset(shards, stage.workers).map_batches(
        stage.cls,
        fn_constructor_kwargs=stage.kwargs,
        batch_size=stage.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=stage.workers),
        num_cpus=stage.cpus_per_worker,
    )
    by_index = {shard.index: shard for shard in shards}
    pending: dict[int, Rows] = {}
    for batch in mapped.iter_batches(batch_format="numpy", batch_size=None, prefetch_batches=1):
        finished = 0
        rows = _rows(batch)
        for row in rows:
            index = int(row["shard"])
            bucket = pending.setdefault(index, [])
            bucket.append(row)
            if len(bucket) == len(by_index[index].docs):
                bucket.sort(key=lambda r: int(r["pos"]))
                store.write(by_index[index], to_table(by_index[index], bucket))
                del pending[index]
                finished += 1
        on_progress(len(rows), finished)
    if pending:
        raise RuntimeError(f"shards {sorted(pending)} came back incomplete")


def _rows(batch: dict[str, np.ndarray]) -> Rows:
    names = list(batch)
    count = len(batch[names[0]]) if names else 0
    return [{name: batch[name][i] for name in names} for i in range(count)]
