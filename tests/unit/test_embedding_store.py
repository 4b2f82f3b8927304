"""Bulk embedding: texts sorted by length for batching come back in the caller's order, and the on-disk
store answers a repeated call without loading the encoder (a counting stand-in encoder: what is tested
is the ordering and the store, not MiniLM)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from edgecloud.runtimes.embedder import EmbeddingStore, embed


class LengthEncoder:
    """Each text's vector is [len, first char code]: any mix-up of order shows."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def embed(self, texts: list[str]) -> np.ndarray:
        self.batches.append(texts)
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


TEXTS = ["a" * 90, "b", "c" * 40, "d" * 3, *[chr(101 + i % 20) * (i + 1) for i in range(130)]]


def test_embed_batches_by_length_and_keeps_the_callers_order() -> None:
    encoder = LengthEncoder()
    vectors = embed(TEXTS, encoder=encoder)
    assert vectors.tolist() == [[len(t), ord(t[0])] for t in TEXTS]
    assert [len(b) for b in encoder.batches] == [64, 64, 6]
    lengths = [[len(t) for t in batch] for batch in encoder.batches]
    assert all(max(a) <= min(b) for a, b in itertools.pairwise(lengths))  # like with like
    assert embed([], encoder=encoder).shape == (0, 384)


def test_the_store_embeds_once_and_loads_the_encoder_only_on_a_miss(tmp_path: Path) -> None:
    loads: list[LengthEncoder] = []

    def load() -> LengthEncoder:
        loads.append(LengthEncoder())
        return loads[-1]

    store = EmbeddingStore(tmp_path, "minilm:abc", load)
    first = store(TEXTS[:10])
    again = EmbeddingStore(tmp_path, "minilm:abc", load)(TEXTS[:10])  # a later command
    assert np.array_equal(first, again) and len(loads) == 1
    other_weights = EmbeddingStore(tmp_path, "minilm:def", load)(TEXTS[:10])
    assert np.array_equal(first, other_weights) and len(loads) == 2  # another encoder: no hit
    store(TEXTS[:11])
    assert store.hits == 0 and len(loads[0].batches) == 2
    assert not list(tmp_path.glob("*.tmp.npy"))
