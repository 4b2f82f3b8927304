"""Text mining: MiniLM embeddings per document (the Ray Data stage), then over the whole corpus topic
clustering (k-means), keywords per topic (c-TF-IDF, as BERTopic defines it) and near-duplicate pairs
(cosine similarity of the embeddings above a threshold)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from edgecloud.cloud.pipeline import Rows
from edgecloud.cloud.shards import Shard

DIMS = 384


class MiniLMEmbedder:
    """Ray Data callable class: loads the bundled all-minilm-l6-v2 once per worker (the node's own
    encoder runtime, so vectors match /v1/embeddings) and embeds each batch in one forward pass."""

    def __init__(self, threads: int = 1, cache_dir: str | None = None) -> None:
        from edgecloud.runtimes.embedder import load_encoder

        self._encoder = load_encoder(threads=threads, cache_dir=Path(cache_dir) if cache_dir else None)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(text) for text in batch["text"]]
        return {**batch, "embedding": self._encoder.embed(texts).astype(np.float32)}


def embedding_table(shard: Shard, rows: Rows) -> pa.Table:
    vectors = np.stack([np.asarray(row["embedding"], dtype=np.float32) for row in rows])
    return pa.table(
        {
            "doc_id": [str(row["doc_id"]) for row in rows],
            "source": [str(row["source"]) for row in rows],
            "text": [str(row["text"]) for row in rows],
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), vectors.shape[1]),
        }
    )


@dataclass(frozen=True)
class Topic:
    topic: int
    size: int
    keywords: list[str]
    examples: list[str]  # doc ids nearest the centroid


@dataclass(frozen=True)
class Mining:
    labels: np.ndarray  # topic per document
    topics: list[Topic]
    pairs: list[tuple[int, int, float]]  # near-duplicate (i, j, cosine), i < j
    duplicate_of: list[int]  # index of the first document of each one's duplicate group (itself if none)


def auto_topics(n_docs: int) -> int:
    """A rule of thumb, sqrt(n/2), kept within [2, 50] and below the document count."""
    return max(1, min(n_docs - 1, max(2, min(50, round(math.sqrt(n_docs / 2))))))


def cluster(vectors: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means labels and centroids; mini-batch k-means once the corpus is large."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(vectors) > 20_000:
        model: Any = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=10)
    labels = model.fit_predict(vectors)
    return np.asarray(labels), np.asarray(model.cluster_centers_)


def ctfidf_keywords(texts: list[str], labels: np.ndarray, k: int, top: int = 8) -> list[list[str]]:
    """Class-based TF-IDF: each topic's documents joined into one; weight = tf(t, topic) *
    log(1 + mean words per topic / frequency of t over all topics)."""
    from sklearn.feature_extraction.text import CountVectorizer

    joined = [" ".join(t for t, label in zip(texts, labels, strict=True) if label == c) for c in range(k)]
    words = r"(?u)\b[a-zA-Z][a-zA-Z'-]+\b"  # no bare numbers as keywords
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), token_pattern=words)
    counts = vectorizer.fit_transform(joined).toarray().astype(np.float64)
    if counts.size == 0:
        return [[] for _ in range(k)]
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    idf = np.log(1.0 + counts.sum(axis=1).mean() / np.maximum(counts.sum(axis=0), 1.0))
    weights = tf * idf
    terms = vectorizer.get_feature_names_out()
    return [[str(terms[i]) for i in np.argsort(-row)[:top] if row[i] > 0] for row in weights]


def near_duplicates(vectors: np.ndarray, threshold: float, block: int = 1024) -> list[tuple[int, int, float]]:
    """All pairs with cosine >= threshold (vectors are unit length), in blocks of rows so memory stays
    at block x n floats."""
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, len(vectors), block):
        sims = vectors[start : start + block] @ vectors.T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if i < c:
                pairs.append((i, c, float(sims[r, c])))
    return pairs


def duplicate_groups(n: int, pairs: list[tuple[int, int, float]]) -> list[int]:
    """Union-find over the pairs; each document points at its group's first (lowest-index) member."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in pairs:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [find(i) for i in range(n)]


def analyse(table: pa.Table, topics: int | None, threshold: float) -> Mining:
    ids = table.column("doc_id").to_pylist()
    texts = table.column("text").to_pylist()
    vectors = table.column("embedding").combine_chunks().flatten().to_numpy().reshape(len(ids), -1)
    k = topics or auto_topics(len(ids))
    labels, centroids = cluster(vectors, k)
    keywords = ctfidf_keywords(texts, labels, k)
    found: list[Topic] = []
    for c in range(k):
        members = np.flatnonzero(labels == c)
        nearest = members[np.argsort(-(vectors[members] @ centroids[c]))[:3]]
        found.append(Topic(c, len(members), keywords[c], [ids[i] for i in nearest]))
    pairs = near_duplicates(vectors, threshold)
    return Mining(labels, found, pairs, duplicate_groups(len(ids), pairs))
