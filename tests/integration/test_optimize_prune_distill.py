"""`edgecloud optimize prune` and `distill` on MiniLM with small settings: the commands run the pruning
and distillation methods, measure the result against the original, and the folders serve through a
real node with the optimized model's own embeddings."""

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

RUNS = {
    "minilm-pruned": ["prune", "all-minilm-l6-v2", "--heads", "0.25", "--ffn", "0.25", "--calibration", "32"],
    "minilm-sparse": ["prune", "all-minilm-l6-v2", "--sparsity", "0.5"],
    "minilm-l3": [
        "distill",
        "all-minilm-l6-v2",
        "--layers",
        "3",
        "--train-sentences",
        "64",
        "--max-steps",
        "2",
    ],
}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("optimized")


def built(root: Path, name: str) -> Path:
    return build(root, name, [*RUNS[name], *SMALL])


@pytest.fixture(scope="module")
def folders(root: Path) -> dict[str, Path]:
    return {name: built(root, name) for name in RUNS}


@pytest.fixture(scope="module")
def node(folders: dict[str, Path]) -> Iterator[NodeProcess]:
    yield from serving(folders)


@pytest.mark.parametrize("name", list(RUNS))
def test_each_command_reports_both_sides(root: Path, name: str) -> None:
    folder = built(root, name)
    data = json.loads((folder / "report.json").read_text())
    original, optimized = data["variants"]
    assert 0 < data["quality"]["mean_cosine"] <= 1.0001
    assert original["throughput_b32"] > 0 and optimized["throughput_b32"] > 0
    assert (folder / "report.html").is_file()
    if name == "minilm-pruned":
        assert optimized["parameters"] < original["parameters"]
    if name == "minilm-l3":
        assert data["details"]["distill"]["layers_student"] == 3


def test_node_serves_pruned_and_distilled_folders(folders: dict[str, Path], node: NodeProcess) -> None:
    from openai import OpenAI

    from edgecloud.optimize.measure import embeddings
    from edgecloud.optimize.subjects import load_subject

    client = OpenAI(base_url=f"{node.url}/v1", api_key="test", max_retries=0, timeout=120)
    texts = ["a warm, funny film", "two hours I will never get back"]
    for name, folder in folders.items():
        served = np.array([d.embedding for d in client.embeddings.create(model=name, input=texts).data])
        np.testing.assert_allclose(
            served, embeddings(load_subject(folder, name, threads=1), texts), atol=2e-3
        )


def test_compare_prints_one_table_of_the_variants(folders: dict[str, Path]) -> None:
    done = optimize("compare", *(str(folder) for folder in folders.values()))
    assert done.returncode == 0, done.stderr
    for name in folders:
        assert name in done.stdout
