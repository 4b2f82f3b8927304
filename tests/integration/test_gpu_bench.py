"""`edgecloud bench gpu` runs end to end on the CPU (the dry run of what bench/gpu.sh runs on a GPU):
real SmolLM2 through the node's continuous batching, greedy parity, MiniLM embeddings, a JSON report.
The GPU figures themselves are measured on a GPU machine (README, "The cloud tier on a GPU")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edgecloud.bench.gpu", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"},
    )


def test_the_cpu_dry_run_measures_every_section(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    result = _bench(
        "--device", "cpu", "--levels", "1,2", "--max-tokens", "4", "--sequential", "1",
        "--parity-prompts", "2", "--parity-tokens", "4", "--embed-texts", "32", "--threads", "2",
        "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["errors"] == {}
    levels = report["decode"]["levels"]
    assert [row["concurrency"] for row in levels] == [1, 2]
    assert all(row["tokens"] > 0 and row["tok_s"] > 0 for row in levels)
    parity = report["parity"][0]
    assert parity["identical"] == parity["prompts"] == 2  # the CPU path against itself
    assert report["embeddings"]["mean_cosine_vs_cpu"] > 0.9999
    assert report["profile"] == {"skipped": "no GPU"}
    assert "bench gpu" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_one_exits_2() -> None:
    result = _bench("--device", "cuda")
    assert result.returncode == 2
    assert "sees no CUDA GPU" in result.stdout + result.stderr
