"""Corpus reading, shard planning and resume markers, and the mining maths, without Ray."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgecloud.cloud.corpus import CorpusError, Document, iter_documents
from edgecloud.cloud.kg_resolve import EntityKey, resolve
from edgecloud.cloud.mine import ctfidf_keywords, duplicate_groups, near_duplicates
from edgecloud.cloud.shards import ShardStore, plan_shards


def test_a_folder_mixes_text_files_jsonl_and_parquet_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("second file\n")
    (tmp_path / "a.md").write_text("# first file\n")
    (tmp_path / "README.md").write_text("about this corpus")
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"id": "x1", "text": "one"}) + "\n\n" + json.dumps({"text": "two"})
    )
    pq.write_table(pa.table({"text": ["three"]}), tmp_path / "d.parquet")
    docs = list(iter_documents(tmp_path))
    assert [d.doc_id for d in docs] == ["a.md", "b.txt", "x1", "c.jsonl:2", "d.parquet:0"]
    assert [d.text for d in docs] == ["# first file", "second file", "one", "two", "three"]


def test_bad_corpora_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="no corpus"):
        list(iter_documents(tmp_path / "missing"))
    (tmp_path / "bad.jsonl").write_text('{"body": "no text field"}\n')
    with pytest.raises(CorpusError, match="text-field"):
        list(iter_documents(tmp_path))


def test_a_shard_counts_as_done_only_with_its_marker_and_unchanged_documents(tmp_path: Path) -> None:
    docs = [Document(f"d{i}", "s", f"text {i}") for i in range(5)]
    shards = plan_shards(docs, 2, {"job": "t"})
    assert [len(s.docs) for s in shards] == [2, 2, 1]
    store = ShardStore(tmp_path)
    store.write(shards[0], pa.table({"doc_id": ["d0", "d1"]}))
    assert store.is_done(shards[0]) and not store.is_done(shards[1])
    edited = plan_shards([Document("d0", "s", "changed"), *docs[1:]], 2, {"job": "t"})
    assert not store.is_done(edited[0])  # the text changed: the shard reruns
    assert not store.is_done(plan_shards(docs, 2, {"job": "other"})[0])  # so do new parameters


def test_near_duplicates_are_pairs_above_the_threshold_grouped_by_first_member() -> None:
    vectors = np.array([[1, 0], [0.999, 0.0447], [0, 1], [0.9995, 0.0316]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = near_duplicates(vectors, 0.99, block=2)
    assert sorted((i, j) for i, j, _ in pairs) == [(0, 1), (0, 3), (1, 3)]
    assert duplicate_groups(4, pairs) == [0, 0, 2, 0]


def test_ctfidf_keywords_name_what_sets_a_topic_apart() -> None:
    texts = ["rockets and orbits", "orbits of rockets", "bread and butter", "butter on bread"]
    keywords = ctfidf_keywords(texts, np.array([0, 0, 1, 1]), 2, top=2)
    assert set(keywords[0]) <= {"rockets", "orbits", "rockets orbits", "orbits rockets"}
    assert set(keywords[1]) <= {"bread", "butter", "bread butter", "butter bread"}


def _fake_embed(names: list[str]) -> np.ndarray:
    """Bag-of-letters vectors: enough to say 'similar' for names sharing most letters."""
    vectors = np.zeros((len(names), 26), dtype=np.float32)
    for row, name in enumerate(names):
        for ch in name.lower():
            if ch.isalpha():
                vectors[row, ord(ch) - 97] += 1
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_surname_resolves_to_the_person_it_shares_documents_and_mentions_with() -> None:
    marie, pierre = EntityKey("Marie Curie", "PERSON"), EntityKey("Pierre Curie", "PERSON")
    mentions = [
        (marie, "d1"),
        (marie, "d1"),
        (marie, "d1"),
        (pierre, "d1"),
        (EntityKey("Curie", "ENTITY"), "d1"),
    ]
    mentions += [(EntityKey("Newton", "GPE"), "d2"), (EntityKey("Isaac Newton", "PERSON"), "d2")]
    resolution = resolve(mentions, _fake_embed)
    assert resolution.of(EntityKey("Curie", "ENTITY")) == marie
    assert resolution.of(pierre) == pierre  # two people who share a surname stay apart
    assert resolution.of(EntityKey("Newton", "GPE")) == EntityKey("Isaac Newton", "PERSON")
    assert resolution.aliases[marie] == {"Curie"}


def test_llm_triples_are_kept_only_when_both_ends_occur_in_the_text() -> None:
    from edgecloud.cloud.kg_llm import grounded
    from edgecloud.cloud.kg_types import Mention

    text = "Alan Turing worked at Bletchley Park. He broke the Enigma code."
    raw = [
        {"subject": "Alan Turing", "relation": "worked at", "object": "Bletchley Park"},
        {"subject": "Alan Turing", "relation": "invented", "object": "the computer"},  # not in the text
        {"subject": "He", "relation": "broke", "object": "Enigma code"},  # a pronoun, not a name
        {"subject": "Alan Turing", "relation": "in", "object": "Bletchley Park"},  # no verb
    ]

    def lemmatise(relation: str) -> str:
        return {"worked at": "work_at", "invented": "invent", "broke": "break"}.get(relation, "")

    kept = grounded(raw, text, [Mention("Alan Turing", "PERSON")], lemmatise, text)
    assert [(t.subject, t.subject_label, t.relation, t.object, t.object_label, t.method) for t in kept] == [
        ("Alan Turing", "PERSON", "work_at", "Bletchley Park", "ENTITY", "llm")
    ]
