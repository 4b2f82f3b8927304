"""Resumable jobs: the corpus is cut into fixed-size shards, each shard's result is one Parquet file
plus a completion marker holding the shard's key; a rerun skips every shard whose marker matches."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edgecloud.cloud.corpus import Document


@dataclass(frozen=True)
class Shard:
    index: int
    docs: tuple[Document, ...]
    key: str  # changes when the shard's documents or the job's parameters change


def plan_shards(docs: Iterable[Document], size: int, params: Mapping[str, Any]) -> list[Shard]:
    """Consecutive groups of `size` documents in corpus order."""
    salt = json.dumps(dict(params), sort_keys=True, default=str)
    shards: list[Shard] = []
    group: list[Document] = []

    def close() -> None:
        digest = hashlib.sha256(salt.encode())
        for doc in group:
            digest.update(doc.doc_id.encode() + b"\0" + doc.text.encode() + b"\1")
        shards.append(Shard(len(shards), tuple(group), digest.hexdigest()[:32]))
        group.clear()

    for doc in docs:
        group.append(doc)
        if len(group) == size:
            close()
    if group:
        close()
    return shards


class ShardStore:
    """`folder/shard-00007.parquet` and `folder/shard-00007.done` (the key), written in that order, each
    by rename, so a job killed at any point leaves either a finished shard or one that reruns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def data_path(self, shard: Shard) -> Path:
        return self.folder / f"shard-{shard.index:05d}.parquet"

    def _marker(self, shard: Shard) -> Path:
        return self.folder / f"shard-{shard.index:05d}.done"

    def is_done(self, shard: Shard) -> bool:
        marker = self._marker(shard)
        return (
            marker.is_file() and marker.read_text().strip() == shard.key and self.data_path(shard).is_file()
        )

    def write(self, shard: Shard, table: pa.Table) -> None:
        self._marker(shard).unlink(missing_ok=True)
        target = self.data_path(shard)
        partial = target.with_suffix(".parquet.partial")
        pq.write_table(table, partial)
        os.replace(partial, target)
        marker_partial = self._marker(shard).with_suffix(".partial")
        marker_partial.write_text(shard.key)
        os.replace(marker_partial, self._marker(shard))

    def read_all(self, shards: Iterable[Shard]) -> pa.Table:
        """Every shard's rows in shard order (shards of an older, longer plan are ignored)."""
        tables = [pq.read_table(self.data_path(shard)) for shard in shards]
        return pa.concat_tables(tables) if tables else pa.table({})
