"""The learned router: federated training with DP-SGD over simulated sites, and the gateway policy
that places requests with it before generation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgecloud.gateway.placement import RequestView, TierState, TierStates
from edgecloud.router.federated import FederatedConfig, noise_multiplier, simulate
from edgecloud.router.model import RouterNet, accuracy, save_router, split, train_central

pytestmark = pytest.mark.slow
DATA = Path(__file__).parents[2] / "examples" / "router" / "smollm2-boolq-nq.jsonl"


def test_a_smaller_epsilon_means_more_noise() -> None:
    assert noise_multiplier(FederatedConfig(epsilon=1.0), 200) > noise_multiplier(
        FederatedConfig(epsilon=8.0), 200
    )


def _toy(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable data, so that what is tested is the training loop, not the dataset."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16)).astype(np.float32) + y[:, None].astype(np.float32) * 1.5
    return x, y


def test_federated_simulation_with_three_dp_sites_learns() -> None:
    x, y = _toy()
    data = split(x, y)
    result = simulate(data, FederatedConfig(sites=3, rounds=4, epsilon=8.0))
    assert len(result["history"]) == 4
    assert result["accuracy"] > 0.8  # FedAvg of DP-SGD sites still learns a separable problem
    assert all(s > 0 for s in result["noise_multipliers"])


def test_router_train_command_compares_central_and_federated(tmp_path: Path) -> None:
    out = tmp_path / "router"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgecloud",
            "router",
            "train",
            "--data",
            str(DATA),
            "--sites",
            "3",
            "--rounds",
            "3",
            "--epsilons",
            "8",
            "--limit",
            "240",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert {"central_no_dp", "majority_baseline", "federated"} <= set(report)
    assert 0.0 <= report["federated"]["epsilon=8"]["accuracy"] <= 1.0
    assert (out / "router.pt").is_file() and (out / "router.json").is_file()


def test_the_gateway_router_policy_places_before_generation(tmp_path: Path) -> None:
    from edgecloud.gateway.policies import build_chain

    x, y = _toy()
    net = train_central(x, y)
    assert accuracy(net, x, y) > 0.8
    save_router(RouterNet(384), tmp_path, {"dim": 384, "hidden": 64, "threshold": 0.5})
    chain = build_chain(["router"], {"router": {"path": str(tmp_path)}})
    tiers = TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0)
    decision = chain.place(
        RequestView(kind="chat", model="auto", text="Is water wet?", prompt_tokens=4, stream=True), tiers
    )
    assert decision.policy == "router" and decision.tier in ("edge", "cloud")
    assert "p=" in decision.reason
