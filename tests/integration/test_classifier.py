"""The sentiment classifier end to end on real MiniLM and real Rotten Tomatoes snippets: trained small,
served by a real node (`/v1/classify`, dynamically batched), and cascaded edge -> cloud by a real
gateway."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from edgecloud.catalogue import Catalogue, spec_for_path
from edgecloud.config import NodeSettings
from edgecloud.serving.launcher import GatewayProcess, NodeProcess
from edgecloud.train.classifier import TrainConfig, train_classifier
from tests.conftest import EMBED, metric_value

pytestmark = pytest.mark.slow
TEXTS = [
    "A wonderful, moving film with superb performances.",
    "Dull, lifeless and far too long.",
    "It has its moments.",
    "One of the best films of the year.",
    "A tedious mess that wastes a fine cast.",
    "Not bad, not great.",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A frozen-head classifier on 200 snippets, measured on 200 validation and 200 test snippets."""
    catalogue = Catalogue(NodeSettings().cache_dir)
    base = catalogue.materialize(catalogue.resolve(EMBED))
    out = tmp_path_factory.mktemp("clf") / "sentiment-edge"
    config = TrainConfig(base_dir=base, variants=("frozen-head",), train_limit=200, eval_limit=200)
    return out, train_classifier(config, out)


@pytest.fixture(scope="module")
def edge(trained: tuple[Path, dict[str, Any]]) -> Iterator[NodeProcess]:
    folder, _ = trained
    env = {"EDGECLOUD_MAX_BODY_BYTES": "65536", "EDGECLOUD_EMBED_MAX_WAIT_MS": "20"}
    with NodeProcess([str(folder), EMBED], args=["--tier", "edge"], env=env) as node:
        node.wait_ready(120)
        yield node


def _classify(url: str, body: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{url}/v1/classify", json=body, timeout=60, **kwargs)


def test_training_writes_a_sequence_classification_folder_above_chance(
    trained: tuple[Path, dict[str, Any]],
) -> None:
    folder, report = trained
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert config["edgecloud_pooling"] == "mean"
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert spec_for_path(folder).kind == "classification"
    frozen = report["variants"]["frozen-head"]
    assert report["chosen"] == "frozen-head" and report["data"]["train"] == 200
    assert frozen["test"]["accuracy"] > 0.62 and frozen["test"]["macro_f1"] > 0.55
    # the served folder reproduces scikit-learn's logistic regression (at most one borderline flip)
    n = frozen["validation"]["n"]
    assert abs(frozen["validation"]["accuracy"] - frozen["sklearn_validation_accuracy"]) <= 1 / n


def test_fine_tuning_writes_a_folder_plain_transformers_can_load(tmp_path: Path) -> None:
    """Two steps on 64 snippets: the mechanics (export, reload, pooling flag), not the accuracy."""
    from transformers import AutoModelForSequenceClassification

    catalogue = Catalogue(NodeSettings().cache_dir)
    base = catalogue.materialize(catalogue.resolve(EMBED))
    config = TrainConfig(
        base_dir=base, variants=("fine-tuned",), epochs=1, train_limit=64, eval_limit=32, max_length=32
    )
    report = train_classifier(config, tmp_path / "ft")
    tuned = report["variants"]["fine-tuned"]
    assert report["chosen"] == "fine-tuned" and tuned["test"]["n"] == 32 and len(tuned["epochs"]) == 1
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "ft")
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert model.config.edgecloud_pooling == "mean" and model.config.edgecloud_max_length == 32


def test_the_eval_harness_scores_a_classifier_through_classify(
    trained: tuple[Path, dict[str, Any]], edge: NodeProcess
) -> None:
    import asyncio

    from edgecloud.eval.harness import run_items
    from edgecloud.eval.suites import load_suite

    items = load_suite("sentiment", limit=6)
    records = asyncio.run(run_items(edge.url, trained[0].name, "sentiment", items))
    assert all(r.error is None and set(r.scores) == {"classify"} for r in records), records
    assert all(r.answer in ("positive", "negative") and 0.5 <= r.confidence["max_prob"] <= 1 for r in records)


def test_classify_labels_one_text_or_a_list(edge: NodeProcess) -> None:
    one = _classify(edge.url, {"model": "sentiment-edge", "input": TEXTS[0]})
    assert one.status_code == 200
    body = one.json()
    assert body["object"] == "list" and body["model"] == "sentiment-edge"
    (item,) = body["data"]
    assert item["index"] == 0 and item["label"] in ("negative", "positive")
    assert set(item["scores"]) == {"negative", "positive"}
    assert sum(item["scores"].values()) == pytest.approx(1.0, abs=1e-4)
    assert item["score"] == max(item["scores"].values())
    assert (
        body["usage"]["prompt_tokens"] > 0 and body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"]
    )
    many = _classify(edge.url, {"model": "sentiment-edge", "input": TEXTS}).json()
    assert [d["index"] for d in many["data"]] == list(range(len(TEXTS)))
    assert many["data"][0]["scores"] == pytest.approx(item["scores"], abs=1e-5)  # batching changes nothing


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "sentiment-edge", "input": []}, 400, "input"),
        ({"model": "sentiment-edge", "input": [""]}, 400, "input"),
        ({"model": "sentiment-edge", "input": [1, 2]}, 400, "input"),
        ({"model": "sentiment-edge", "input": 7}, 400, "input"),
        ({"model": "sentiment-edge"}, 400, "input"),
        ({"model": "no-such-model", "input": "fine"}, 404, "model"),
        ({"model": EMBED, "input": "an embedding model cannot classify"}, 404, "model"),
        ({"model": "sentiment-edge", "input": ["x" * 1000] * 80}, 413, None),
    ],
)
def test_bad_requests_get_openai_errors(
    edge: NodeProcess, body: dict[str, Any], status: int, param: str | None
) -> None:
    response = _classify(edge.url, body)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"] and error["param"] == param


def test_concurrent_requests_share_forward_passes(edge: NodeProcess) -> None:
    labels = {"model": "sentiment-edge"}
    passes = metric_value(edge.url, "edgecloud_forward_passes_total", labels)
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda t: _classify(edge.url, {"model": "sentiment-edge", "input": t}), TEXTS * 4)
        )
    assert all(a.status_code == 200 for a in answers)
    assert metric_value(edge.url, "edgecloud_forward_passes_total", labels) - passes < len(answers)


@pytest.fixture(scope="module")
def gateway(
    trained: tuple[Path, dict[str, Any]], edge: NodeProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    """Edge: sentiment-edge; cloud: the same weights as sentiment-cloud (the test follows the rule,
    not the quality difference, which `edgecloud train cascade-report` measures)."""
    folder, _ = trained
    cloud_folder = folder.parent / "sentiment-cloud"
    shutil.copytree(folder, cloud_folder, ignore=shutil.ignore_patterns("alternatives"))
    tmp = tmp_path_factory.mktemp("gw")
    config = tmp / "topology.yaml"
    with NodeProcess([str(cloud_folder)], args=["--tier", "cloud"]) as cloud:
        cloud.wait_ready(120)
        config.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge.url}"}}]}}
  cloud: {{upstreams: [{{url: "{cloud.url}"}}]}}
policy_settings:
  classify: {{threshold: 0.8}}
probe_interval_s: 0.5
""")
        with GatewayProcess(config=str(config)) as process:
            process.wait_ready(60)
            yield process


def test_the_gateway_escalates_only_low_confidence_inputs_to_the_cloud(
    edge: NodeProcess, gateway: GatewayProcess
) -> None:
    direct = _classify(edge.url, {"model": "sentiment-edge", "input": TEXTS}).json()["data"]
    confidences = sorted(d["score"] for d in direct)
    threshold = (confidences[2] + confidences[3]) / 2  # half the inputs are under it
    response = _classify(gateway.url, {"model": "auto", "input": TEXTS, "metadata": {"threshold": threshold}})
    assert response.status_code == 200
    headers = response.headers
    assert headers["x-edgecloud-policy"] == "cascade" and headers["x-edgecloud-escalated"] == "true"
    assert headers["x-edgecloud-tier"] == "cloud" and "3 of 6" in headers["x-edgecloud-reason"]
    data = response.json()["data"]
    assert [d["index"] for d in data] == list(range(len(TEXTS)))
    for mine, edges in zip(data, direct, strict=True):
        assert mine["tier"] == ("cloud" if edges["score"] < threshold else "edge")
        assert mine["label"] == edges["label"]  # same weights on both tiers


def test_confident_inputs_stay_on_the_edge(gateway: GatewayProcess) -> None:
    response = _classify(gateway.url, {"model": "auto", "input": TEXTS, "metadata": {"threshold": 0}})
    assert response.status_code == 200
    assert response.headers["x-edgecloud-tier"] == "edge" and "x-edgecloud-escalated" not in response.headers
    assert {d["tier"] for d in response.json()["data"]} == {"edge"}


def test_private_text_is_never_escalated(gateway: GatewayProcess) -> None:
    body = {
        "model": "auto",
        "input": "Mail jane.doe@example.com: it has its moments.",
        "metadata": {"threshold": 1},
    }
    response = _classify(gateway.url, body)
    assert response.status_code == 200
    assert (response.headers["x-edgecloud-tier"], response.headers["x-edgecloud-policy"]) == (
        "edge",
        "privacy",
    )


def test_a_tier_hint_sends_everything_to_that_tier(gateway: GatewayProcess) -> None:
    response = _classify(
        gateway.url, {"model": "auto", "input": TEXTS}, headers={"x-edgecloud-tier": "cloud"}
    )
    assert response.status_code == 200
    assert (response.headers["x-edgecloud-tier"], response.headers["x-edgecloud-policy"]) == ("cloud", "hint")
    assert response.json()["model"] == "sentiment-cloud"


def test_the_gateway_refuses_bad_classify_requests(gateway: GatewayProcess) -> None:
    assert _classify(gateway.url, {"model": "auto", "input": []}).status_code == 400
    bad = _classify(gateway.url, {"model": "auto", "input": "ok", "metadata": {"threshold": 3}})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "metadata.threshold"
