"""`edgecloud cloud job mine` and `job kg` on the bundled example corpus, through Ray Data on one local
Ray (2 CPUs) shared by the module and always shut down."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import networkx as nx
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from edgecloud.cli import app
from edgecloud.cloud.jobs import JobOptions, kg_job, mine_job
from edgecloud.cloud.session import ray_session

pytestmark = pytest.mark.slow
CORPUS = Path(__file__).parents[2] / "examples" / "corpus"
PLANTED_DUPLICATES = {("rt-003", "rt-dup-0"), ("rt-017", "rt-dup-1"), ("rt-042", "rt-dup-2")}


@pytest.fixture(scope="module")
def ray() -> Iterator[Any]:
    with ray_session(None, num_cpus=2) as session:
        yield session
    assert not session.is_initialized()


@pytest.fixture(scope="module")
def mined(ray: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("mine")
    return out, mine_job(JobOptions(CORPUS, out, workers=2, shard_size=16), topics=None, threshold=0.95)


@pytest.fixture(scope="module")
def graph_dir(ray: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("kg")
    return out, kg_job(JobOptions(CORPUS / "facts", out, workers=1, shard_size=4), same_threshold=0.9)


def test_mining_writes_every_document_with_its_topic_and_finds_the_planted_near_duplicates(
    mined: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = mined
    documents = pq.read_table(out / "documents.parquet").to_pylist()
    assert len(documents) == summary["documents"] == 75
    assert {len(d["embedding"]) for d in documents} == {384}
    pairs = {(p["doc_id"], p["duplicate_id"]) for p in summary["near_duplicates"]}
    assert pairs == PLANTED_DUPLICATES
    by_id = {d["doc_id"]: d for d in documents}
    assert by_id["rt-dup-1"]["duplicate_of"] == "rt-017" and by_id["rt-017"]["duplicate_of"] is None
    assert sum(t["size"] for t in summary["topics"]) == 75
    assert (out / "summary.md").read_text().startswith("# Corpus mining summary")


def test_the_factual_documents_form_a_topic_whose_keywords_name_their_subjects(
    mined: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = mined
    documents = pq.read_table(out / "documents.parquet", columns=["doc_id", "topic"]).to_pylist()
    facts = [d["topic"] for d in documents if d["doc_id"].startswith("facts/")]
    main = max(set(facts), key=facts.count)
    assert facts.count(main) >= 8  # most of the 12 factual documents land together, apart from reviews
    keywords = next(t["keywords"] for t in summary["topics"] if t["topic"] == main)
    names = {"curie", "einstein", "darwin", "turing", "newton", "lovelace", "microsoft", "apple", "nasa"}
    assert names & {word for keyword in keywords for word in keyword.split()}


def test_a_rerun_skips_finished_shards_and_redoes_only_a_lost_one(
    mined: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    first_out, first = mined
    out = tmp_path / "again"
    shutil.copytree(first_out, out)
    (out / "shards-mine" / "shard-00002.done").unlink()  # as if the job died while writing shard 2
    again = mine_job(JobOptions(CORPUS, out, workers=1, shard_size=16), topics=None, threshold=0.95)
    assert (again["shards"], again["shards_run"], again["shards_skipped"]) == (5, 1, 4)
    assert again["near_duplicates"] == first["near_duplicates"]
    idle = mine_job(JobOptions(CORPUS, out, workers=2, shard_size=16), topics=None, threshold=0.95)
    assert idle["shards_run"] == 0 and idle["documents"] == 75


def test_the_knowledge_graph_links_resolved_entities_by_their_relations(
    graph_dir: tuple[Path, dict[str, Any]],
) -> None:
    out, summary = graph_dir
    graph = nx.read_graphml(out / "graph.graphml", force_multigraph=True)
    assert summary["documents"] == 12 and graph.number_of_edges() == summary["relations"] > 40
    assert "Curie" in graph.nodes["Marie Curie"]["aliases"].split("; ")
    assert "Pierre Curie" in graph  # a different person with the same surname
    relations = {(u, d["relation"], v) for u, v, d in graph.edges(data=True)}
    assert ("Marie Curie", "bear_in", "Warsaw") in relations
    assert ("Steve Jobs", "found", "Apple") in relations
    assert ("Isaac Newton", "study_at", "Trinity College") in relations  # "Newton" resolved to him
    triples = [json.loads(line) for line in (out / "triples.jsonl").read_text().splitlines()]
    assert len(triples) == summary["relations"]
    assert {"subject", "relation", "object", "doc_id", "sentence"} <= set(triples[0])


def test_kg_query_prints_an_entitys_neighbours_and_a_rerun_skips_every_shard(
    graph_dir: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = graph_dir
    result = CliRunner().invoke(app, ["kg", "query", str(out), "curie"])
    assert result.exit_code == 0, result.output
    assert "Marie Curie" in result.output and "Warsaw" in result.output and "bear_in" in result.output
    missing = CliRunner().invoke(app, ["kg", "query", str(out), "Napoleon"])
    assert missing.exit_code == 2 and "no entity" in missing.output
    again = kg_job(JobOptions(CORPUS / "facts", out, workers=1, shard_size=4), same_threshold=0.9)
    assert again["shards_run"] == 0 and again["relations"] == graph_dir[1]["relations"]


def test_a_missing_corpus_is_a_clear_error_without_starting_ray(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["cloud", "job", "mine", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert result.exit_code == 2 and "no corpus" in result.output
