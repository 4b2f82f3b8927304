"""Quality routing without models: RouteLLM's metrics on hand-made pairs, the train/test split, the router
models on a separable set, and the router file's refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgecloud.errors import InvalidRequest
from edgecloud.routing.calibrate import Sample, choose_threshold
from edgecloud.routing.metrics import cascade_curve, curve, oracle_curve, random_curve
from edgecloud.routing.pairs import Pair, load_pairs, merge, save_pairs, split_of
from edgecloud.routing.router import artifact
from edgecloud.routing.router.quality import KINDS, fit, labels, out_of_fold
from edgecloud.routing.router.train import operating_point


def _pairs(edge: list[float], cloud: list[float], suite: str = "s") -> list[Pair]:
    return [
        Pair(suite, f"{suite}-{i}", f"q{i}", e, c, -float(i))
        for i, (e, c) in enumerate(zip(edge, cloud, strict=True))
    ]


def test_random_routing_recovers_half_the_gap_and_the_oracle_all_of_it_early() -> None:
    pairs = _pairs([0, 0, 1, 0], [1, 1, 1, 0])  # the cloud gains on items 0 and 1 only
    assert random_curve(pairs).apgr() == pytest.approx(0.5)
    oracle = oracle_curve(pairs)
    assert oracle.cpt(1.0) == pytest.approx(0.5)  # both gains with half the items on the cloud
    assert oracle.apgr() == pytest.approx(0.25 * 0.25 + 0.25 * 0.75 + 0.5 * 1.0)  # PGR 0, .5, 1, 1, 1
    worst = curve("worst", pairs, [0, 0, 1, 1])  # the useless items go first
    assert worst.apgr() < 0.5 and worst.cpt(0.5) == pytest.approx(0.75)


def test_a_curve_reads_quality_at_every_share_and_the_gap_recovered() -> None:
    pairs = _pairs([0, 0, 0, 0], [1, 1, 0, 0])
    found = curve("router", pairs, [4, 3, 2, 1])
    assert found.quality == (0.0, 0.25, 0.5, 0.5, 0.5)
    assert found.quality_at(0.5) == 0.5 and found.cpt(0.8) == pytest.approx(0.5)
    assert found.summary()["cpt50"] == pytest.approx(0.25)


def test_the_cascade_escalates_the_least_confident_answers_first() -> None:
    pairs = [
        Pair("s", "a", "a", 1, 1, -0.1),
        Pair("s", "b", "b", 0, 1, -3.0),
        Pair("s", "c", "c", 0, 1, None),
    ]
    cascade = cascade_curve(pairs)
    assert cascade.quality[2] == pytest.approx(1.0)  # no signal and the least confident go first


def test_the_split_is_stable_and_holds_out_about_half() -> None:
    ids = [f"mmlu-{i}" for i in range(2000)]
    test = sum(split_of(i) == "test" for i in ids)
    assert 900 < test < 1100
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]


def test_pairs_round_trip_and_merge_keeps_one_per_item(tmp_path: Path) -> None:
    first, second = _pairs([1, 0], [1, 1]), _pairs([0, 0, 0], [0, 0, 0])
    merged = merge([first, second])
    assert [p.id for p in merged] == ["s-0", "s-1", "s-2"] and merged[0].edge == 1
    save_pairs(merged, tmp_path / "p.jsonl", {"edge_model": "e", "cloud_model": "c"})
    loaded, meta = load_pairs(tmp_path / "p.jsonl")
    assert loaded == merged and meta == {"edge_model": "e", "cloud_model": "c"}
    (tmp_path / "bad.jsonl").write_text('{"suite": "s"}\n')
    with pytest.raises(InvalidRequest, match=r"bad\.jsonl:1"):
        load_pairs(tmp_path / "bad.jsonl")


def _separable(n: int = 200, seed: int = 0) -> tuple[np.ndarray, list[Pair]]:
    """Embeddings whose first axis says whether the cloud gains: a router must rank those first."""
    rng = np.random.default_rng(seed)
    gain = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16)) * 0.3
    x[:, 0] += gain * 2.0
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, [Pair("s", f"s-{i}", "", 0.0, float(g), None) for i, g in enumerate(gain)]


@pytest.mark.parametrize("kind", KINDS)
def test_every_router_kind_learns_a_separable_set(kind: str) -> None:
    x, pairs = _separable()
    assert labels(pairs).mean() == pytest.approx(1 - np.mean([p.cloud for p in pairs]))
    scores = out_of_fold(kind, x, pairs)
    assert curve(kind, pairs, -scores).apgr() > 0.7  # random: 0.5; the oracle ~0.75 (half the items gain)
    model = fit(kind, x, pairs)
    scores = model.scores(x)
    samples = [Sample(score, p.edge, p.cloud) for score, p in zip(scores, pairs, strict=True)]
    point = operating_point(pairs, scores, choose_threshold(samples, 0.95).chosen.threshold)
    assert point["of_cloud_quality"] >= 0.95 and point["cloud_share"] < 0.7  # half the items gain


def test_a_router_file_is_refused_for_another_embedding_model_or_pair(tmp_path: Path) -> None:
    x, pairs = _separable()
    model = fit("logistic", x, pairs)
    artifact.save(tmp_path, model, {"edge_model": "e", "cloud_model": "c", "threshold": 0.5})
    found = artifact.load(tmp_path)
    assert found.pair == ("e", "c") and found.threshold == 0.5
    found.check_pair("e", "c", tmp_path)
    with pytest.raises(InvalidRequest, match="trained for edge e and cloud c"):
        found.check_pair("e", "other", tmp_path)
    meta = json.loads((tmp_path / "router.json").read_text())
    (tmp_path / "router.json").write_text(json.dumps({**meta, "embedding_model": "bge-small"}))
    with pytest.raises(InvalidRequest, match="reads 'bge-small' embeddings"):
        artifact.load(tmp_path)
    with pytest.raises(InvalidRequest, match="is not a router"):
        artifact.load(tmp_path / "missing")


@pytest.mark.parametrize("edge", ["qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct"])
def test_a_router_ships_for_each_bundled_edge_with_the_cloud_and_matches_only_its_pair(edge: str) -> None:
    cloud = "qwen2.5-coder-1.5b-instruct"
    folder = artifact.shipped_for(edge, cloud)
    assert folder is not None and artifact.shipped_for(edge, "some-other-cloud") is None
    assert artifact.shipped_for(None, cloud) is None
    shipped = artifact.load(folder)
    assert shipped.pair == (edge, cloud)
    assert shipped.meta["test"]["apgr"] > 0.5  # what `router train` measured on held-out items
