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
from edgecloud.routing.router import artifact
from edgecloud.routing.router.federated import FederatedConfig, noise_multiplier
from edgecloud.routing.router.model import accuracy, train_central

pytestmark = pytest.mark.slow


def test_a_smaller_epsilon_means_more_noise() -> None:
    assert noise_multiplier(FederatedConfig(epsilon=1.0), 200) > noise_multiplier(
        FederatedConfig(epsilon=8.0), 200
    )


def _toy(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Separable features, so that what is tested is the training loop, not the dataset."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 16)).astype(np.float32) + y[:, None].astype(np.float32) * 1.5
    return x, y


def _separable(path: Path, n: int = 240, seed: int = 0) -> Path:
    """Prompts whose label is plain from their topic (sums the edge gets right, essays it does not), so
    what is tested is the training: one Flower simulation, central and federated, through the command."""
    rng = np.random.default_rng(seed)
    topics = [
        "the fall of Rome",
        "the French Revolution",
        "quantum entanglement",
        "monetary policy",
        "the causes of the First World War",
        "protein folding",
        "Kant's ethics",
        "plate tectonics",
    ]
    rows = []
    for i in range(n):
        if i % 2:
            a, b = rng.integers(2, 99, 2)
            prompt = f"What is {a} plus {b}? Answer with the number."
        else:
            prompt = f"Write a detailed essay on {topics[int(rng.integers(len(topics)))]}, with sources."
        rows.append({"source": "toy", "prompt": prompt, "edge_answer": "", "edge_good": bool(i % 2)})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_router_train_command_learns_centrally_and_federated_with_dp(tmp_path: Path) -> None:
    out = tmp_path / "router"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edgecloud",
            "router",
            "federated",
            "--data",
            str(_separable(tmp_path / "toy.jsonl")),
            "--sites",
            "3",
            "--rounds",
            "3",
            "--epsilons",
            "8",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["majority_baseline"] < 0.65
    assert report["central_no_dp"]["accuracy"] > 0.9
    federated = report["federated"]["epsilon=8"]
    assert len(federated["accuracy_by_round"]) == 3 and federated["noise_multiplier"] > 0
    # FedAvg of DP-SGD sites still learns a separable problem: it ranks every prompt right (its bias
    # moves slowly in 3 noisy rounds, so the threshold tuned on the training split is the one to read)
    assert federated["roc_auc"] > 0.95 and federated["balanced_accuracy"] > 0.9
    saved = artifact.load(out)  # in the gateway's format: valid for the labelling edge with any cloud
    assert saved.model.kind == "mlp" and saved.pair == ("smollm2-135m-instruct", "*")


def test_central_training_learns_a_separable_set() -> None:
    x, y = _toy()
    assert accuracy(train_central(x, y), x, y) > 0.8


def test_the_gateway_router_policy_places_before_generation() -> None:
    """The shipped router, bound to its pair, places a review on the cloud and a trivia question that
    neither tier knows on the edge (the cloud gains on sentiment, nobody gains on NQ-open)."""
    from edgecloud.gateway.policies import build_chain
    from edgecloud.gateway.policies.router import RouterPolicy

    chain = build_chain(["router"])
    policy = chain.policies[0]
    assert isinstance(policy, RouterPolicy) and policy.router is None  # unbound: abstains
    tiers = TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0)
    review = 'Movie review: "a gorgeous, moving film"\nIs the sentiment of this review positive or negative?'
    view = RequestView(kind="chat", model="auto", text=review, prompt_tokens=20, stream=True)
    assert chain.place(view, tiers).policy != "router"
    policy.bind("smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
    decision = chain.place(view, tiers)
    assert decision.policy == "router" and decision.tier == "cloud" and "score" in decision.reason
    policy.bind("smollm2-135m-instruct", "another-cloud")
    assert policy.router is None


def test_a_primed_prompt_is_placed_without_embedding_again() -> None:
    """The gateway embeds a prompt in a worker thread before placing it; `decide` on the event loop
    then reads that embedding instead of running MiniLM itself."""
    from edgecloud.gateway.policies.router import PRIMED, RouterPolicy

    policy = RouterPolicy()
    policy.bind("smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct")
    policy.prime("warm-up")
    assert policy._encoder is not None
    calls: list[int] = []
    embed = policy._encoder.embed
    policy._encoder.embed = lambda texts: calls.append(len(texts)) or embed(texts)
    text = "Question: which gas do plants take in?\nAnswer with the letter of the correct option only."
    policy.prime(text)
    tiers = TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0)
    view = RequestView(kind="chat", model="auto", text=text, prompt_tokens=20, stream=False)
    first = policy.decide(view, tiers)
    assert calls == [1] and first is not None  # primed once, decided without a second embedding
    for i in range(PRIMED + 1):
        policy.prime(f"prompt {i}")
    assert policy.decide(view, tiers) == first and calls[-1] == 1 and len(calls) == PRIMED + 3  # evicted
