"""`edgecloud optimize quantize` on the bundled models, end to end: the real CLI writes servable folders
with their reports, and a real node serves them with exactly the optimized model's own output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from edgecloud.serving.launcher import NodeProcess
from tests.integration.optimized import SMALL, optimize, serving
from tests.integration.optimized import built as build

pytestmark = pytest.mark.slow
SENTENCES = ["the film is a quiet triumph", "a tedious, overlong mess", "what a delightful surprise"]


RUNS = {
    "minilm-int8": ["all-minilm-l6-v2", "--method", "dynamic-int8", *SMALL],
    "minilm-onnx": ["all-minilm-l6-v2", "--method", "onnx-int8", *SMALL],
    "gemma-q4_0": [
        "gemma3-270m",
        "--method",
        "gguf:Q4_0",
        "--threads",
        "1",
        "--repeats",
        "1",
        "--text-tokens",
        "48",
        "--new-tokens",
        "4",
    ],
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("optimized")


def built(root: Path, name: str) -> Path:
    return build(root, name, ["quantize", *RUNS[name]])


@pytest.fixture(scope="module")
def folders(root: Path) -> dict[str, Path]:
    return {name: built(root, name) for name in RUNS}


@pytest.fixture(scope="module")
def node(folders: dict[str, Path]) -> Iterator[NodeProcess]:
    yield from serving(folders)


def report(folder: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((folder / "report.json").read_text())


@pytest.mark.parametrize("name", ["minilm-int8", "minilm-onnx"])
def test_each_encoder_method_reports_both_sides(root: Path, name: str) -> None:
    folder = built(root, name)
    data = report(folder)
    assert [v["label"] for v in data["variants"]] == ["original", "optimized"]
    assert "base64," in (folder / "report.html").read_text()
    original, optimized = data["variants"]
    assert optimized["size_bytes"] < original["size_bytes"]
    assert all(v["throughput_b32"] > 0 and v["latency_ms_b1"] > 0 for v in data["variants"])
    assert data["quality"]["mean_cosine"] > 0.98


def test_gguf_report_says_it_requantized_and_gives_perplexity(root: Path) -> None:
    data = report(built(root, "gemma-q4_0"))
    assert any("requantized" in note and "Q4_K_M" in note for note in data["notes"])
    for variant in data["variants"]:
        assert variant["perplexity"] > 1 and variant["decode_tok_s"] > 0
    assert 0 <= data["quality"]["greedy_agreement"] <= 1


@pytest.mark.parametrize("name", ["minilm-int8", "minilm-onnx"])
def test_node_serves_the_optimized_encoders_own_embeddings(
    folders: dict[str, Path], node: NodeProcess, name: str
) -> None:
    from openai import OpenAI

    from edgecloud.optimize.measure import embeddings
    from edgecloud.optimize.subjects import load_subject

    client = OpenAI(base_url=f"{node.url}/v1", api_key="test", max_retries=0, timeout=120)
    served = client.embeddings.create(model=name, input=SENTENCES)
    vectors = np.array([item.embedding for item in served.data])
    own = embeddings(load_subject(folders[name], name, threads=1), SENTENCES)
    assert vectors.shape == own.shape == (3, 384)
    np.testing.assert_allclose(vectors, own, atol=2e-3)


def test_node_serves_the_requantized_gguf(node: NodeProcess) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{node.url}/v1", api_key="test", max_retries=0, timeout=120)
    answer = client.completions.create(model="gemma-q4_0", prompt="The capital of France is", max_tokens=4)
    assert answer.choices[0].text and answer.usage is not None and answer.usage.completion_tokens >= 1


def test_a_method_that_does_not_fit_the_model_fails_cleanly(tmp_path: Path) -> None:
    done = optimize("quantize", "all-minilm-l6-v2", "--method", "gguf:Q4_0", "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert "needs a GGUF model" in done.stderr and "Traceback" not in done.stderr
