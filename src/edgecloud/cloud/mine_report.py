"""What `cloud job mine` leaves in DIR: documents.parquet (topic and duplicate group per document),
topics.parquet, duplicates.parquet, and summary.json / summary.md for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edgecloud.cloud.mine import Mining


def write_mining(out: Path, table: pa.Table, mining: Mining, run: dict[str, Any]) -> dict[str, Any]:
    ids = table.column("doc_id").to_pylist()
    texts = table.column("text").to_pylist()
    documents = pa.table(
        {
            "doc_id": ids,
            "source": table.column("source"),
            "topic": pa.array(mining.labels.astype("int32")),
            "duplicate_of": [ids[g] if g != i else None for i, g in enumerate(mining.duplicate_of)],
            "text": texts,
            "embedding": table.column("embedding"),
        }
    )
    pq.write_table(documents, out / "documents.parquet")
    pq.write_table(
        pa.table(
            {
                "topic": [t.topic for t in mining.topics],
                "size": [t.size for t in mining.topics],
                "keywords": [t.keywords for t in mining.topics],
                "examples": [t.examples for t in mining.topics],
            }
        ),
        out / "topics.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "doc_id": pa.array([ids[i] for i, _, _ in mining.pairs], pa.string()),
                "duplicate_id": pa.array([ids[j] for _, j, _ in mining.pairs], pa.string()),
                "cosine": pa.array([s for _, _, s in mining.pairs], pa.float32()),
            }
        ),
        out / "duplicates.parquet",
    )
    summary = _summary(ids, texts, mining, run)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "summary.md").write_text(_markdown(summary))
    return summary


def _summary(ids: list[str], texts: list[str], mining: Mining, run: dict[str, Any]) -> dict[str, Any]:
    by_id = dict(zip(ids, texts, strict=True))
    return {
        **run,
        "documents": len(ids),
        "topics": [
            {
                "topic": t.topic,
                "size": t.size,
                "keywords": t.keywords,
                "examples": [{"doc_id": d, "text": by_id[d][:160]} for d in t.examples],
            }
            for t in sorted(mining.topics, key=lambda t: -t.size)
        ],
        "near_duplicates": [
            {"doc_id": ids[i], "duplicate_id": ids[j], "cosine": round(s, 4)} for i, j, s in mining.pairs
        ],
    }


def _markdown(summary: dict[str, Any]) -> str:
    lines = [
        "# Corpus mining summary",
        "",
        f"{summary['documents']} documents from `{summary['corpus']}`; {len(summary['topics'])} topics; "
        f"{len(summary['near_duplicates'])} near-duplicate pairs "
        f"(cosine >= {summary['duplicate_threshold']}).",
        f"Embeddings: {summary['model']} on Ray Data, {summary['workers']} worker(s), "
        f"{summary['shards_run']} shard(s) run, {summary['shards_skipped']} skipped (already done), "
        f"{summary['docs_per_s']:.1f} documents/s.",
        "",
        "## Topics",
        "",
        "| topic | documents | keywords | example |",
        "|---|---|---|---|",
    ]
    for topic in summary["topics"]:
        example = topic["examples"][0]["text"].replace("|", "\\|").replace("\n", " ")[:90]
        lines.append(f"| {topic['topic']} | {topic['size']} | {', '.join(topic['keywords'])} | {example} |")
    lines += ["", "## Near-duplicates", ""]
    if not summary["near_duplicates"]:
        lines.append("none")
    lines += [
        f"- `{p['doc_id']}` ~ `{p['duplicate_id']}` ({p['cosine']:.3f})" for p in summary["near_duplicates"]
    ]
    return "\n".join(lines) + "\n"
