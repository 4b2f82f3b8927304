"""Differentially private telemetry: calibrated noise and an accountant that refuses past the budget."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from edgecloud.privacy.dp import BudgetExceeded, PrivacyAccountant, noisy_vector, release, summarize


def test_accountant_refuses_past_the_budget_and_remembers_across_restarts(tmp_path: Path) -> None:
    state = tmp_path / "acc.json"
    accountant = PrivacyAccountant(2.0, 1e-5, state)
    accountant.charge(1.0)
    accountant.charge(1.0)
    with pytest.raises(BudgetExceeded):
        accountant.charge(0.1)
    assert accountant.spent_epsilon == 2.0  # a refused release spends nothing
    again = PrivacyAccountant(2.0, 1e-5, state)
    with pytest.raises(BudgetExceeded):
        again.charge(0.5)
    with pytest.raises(BudgetExceeded):
        PrivacyAccountant(10.0, 1e-6, tmp_path / "d.json").charge(1.0, 1e-5)  # delta over budget


def test_laplace_noise_has_the_calibrated_scale() -> None:
    draws = noisy_vector([0.0] * 4000, epsilon=0.5)  # scale 1/0.5 = 2: mean |noise| = 2
    assert abs(statistics.fmean(draws)) < 0.2
    assert statistics.fmean(abs(d) for d in draws) == pytest.approx(2.0, rel=0.1)


def test_gaussian_noise_is_wider_for_a_smaller_epsilon() -> None:
    wide = statistics.pstdev(noisy_vector([0.0] * 2000, epsilon=0.5, delta=1e-5, mechanism="gaussian"))
    narrow = statistics.pstdev(noisy_vector([0.0] * 2000, epsilon=4.0, delta=1e-5, mechanism="gaussian"))
    assert wide > 3 * narrow


def _log() -> list[dict[str, object]]:
    rows = [{"tier": "edge", "policy": "task", "latency_s": 0.08, "escalated": False}] * 300
    rows += [{"tier": "cloud", "policy": "cascade", "latency_s": 1.7, "escalated": True}] * 100
    return rows


def test_summary_and_release_keep_the_shape_of_the_truth(tmp_path: Path) -> None:
    exact = summarize(_log())
    assert exact["placements"] == {"edge/task": 300, "cloud/cascade": 100}
    assert exact["escalated"] == 100
    noisy = release(_log(), PrivacyAccountant(5.0, 0.0, tmp_path / "a.json"), epsilon=3.0)
    assert noisy["placements"]["edge/task"] == pytest.approx(300, abs=40)
    assert 0.15 < noisy["escalation_rate"] < 0.35
    assert sum(noisy["latency_hist"].values()) == pytest.approx(400, abs=80)
    assert noisy["budget"]["spent_epsilon"] == 3.0


def test_cli_refuses_a_release_past_the_budget(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in _log()))
    command = [
        sys.executable,
        "-m",
        "edgecloud",
        "telemetry",
        "release",
        "--log",
        str(log),
        "--epsilon",
        "1",
        "--budget-epsilon",
        "1.5",
        "--state",
        str(tmp_path / "acc.json"),
    ]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "escalation_rate" in json.loads(first.stdout)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 3 and "refused" in second.stderr
