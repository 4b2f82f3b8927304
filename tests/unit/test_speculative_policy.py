"""The speculative policy places long or generation-task answers on the speculative tier when it is up,
and names the cloud as the tier to fail over to first."""

from __future__ import annotations

from edgecloud.gateway.placement import RequestView, TierState, TierStates
from edgecloud.gateway.policies import build_chain


def _states(speculative_up: bool = True) -> TierStates:
    tiers = {
        "edge": TierState("edge"),
        "cloud": TierState("cloud"),
        "speculative": TierState("speculative", available=speculative_up),
    }
    return TierStates(tiers, now=0.0)


def _request(max_tokens: int | None = None, task: str | None = None, kind: str = "chat") -> RequestView:
    return RequestView(
        kind=kind, model="auto", text="write", prompt_tokens=5, max_tokens=max_tokens, task=task
    )


def test_long_answers_and_generation_tasks_go_speculative() -> None:
    chain = build_chain(["speculative"], {"speculative": {"min_tokens": 200}})
    long = chain.place(_request(max_tokens=300), _states())
    assert (long.tier, long.policy, long.fallback) == ("speculative", "speculative", "cloud")
    assert "300 tokens" in long.reason
    assert chain.place(_request(task="code"), _states()).tier == "speculative"


def test_short_answers_embeddings_and_a_down_tier_are_left_to_others() -> None:
    chain = build_chain(["speculative"], {"speculative": {"min_tokens": 200}})
    assert chain.place(_request(max_tokens=50), _states()).policy != "speculative"
    assert chain.place(_request(max_tokens=300, kind="embedding"), _states()).policy != "speculative"
    assert chain.place(_request(max_tokens=300), _states(speculative_up=False)).policy != "speculative"
