"""Each placement policy decides as configured: pure functions of (request, tier states)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from edgecloud.gateway.placement import Decision, PlacementChain, RequestView, TierState, TierStates
from edgecloud.gateway.policies import build_chain
from edgecloud.gateway.policies.cascade import CascadePolicy, confidence
from edgecloud.gateway.policies.cost import CostPolicy
from edgecloud.gateway.policies.hint import HintPolicy
from edgecloud.gateway.policies.latency import LatencyPolicy, predicted_ttft
from edgecloud.gateway.policies.offline import OfflinePolicy
from edgecloud.gateway.policies.privacy import PrivacyPolicy
from edgecloud.gateway.policies.task import TaskPolicy


def view(text: str = "hello", **changes: object) -> RequestView:
    base = RequestView(kind="chat", model="auto", text=text, prompt_tokens=len(text) // 4 + 1)
    return replace(base, **changes)  # type: ignore[arg-type]


def tiers(edge: TierState | None = None, cloud: TierState | None = None) -> TierStates:
    return TierStates({"edge": edge or TierState("edge"), "cloud": cloud or TierState("cloud")}, now=0.0)


@pytest.mark.parametrize(
    "text,kind",
    [
        ("mail me at jane.doe@example.com", "EMAIL_ADDRESS"),
        ("call +44 20 7946 0958 tomorrow", "PHONE_NUMBER"),
        ("card 4111 1111 1111 1111 exp 12/29", "CREDIT_CARD"),
    ],
)
def test_privacy_keeps_pii_on_the_edge_pinned(text: str, kind: str) -> None:
    decision = PrivacyPolicy().decide(view(text), tiers())
    assert decision is not None
    assert (decision.tier, decision.policy, decision.pinned) == ("edge", "privacy", True)
    assert kind in decision.reason


def test_privacy_ignores_numbers_that_fail_luhn_and_plain_text() -> None:
    assert PrivacyPolicy().decide(view("order 4111 1111 1111 1112 shipped"), tiers()) is None
    assert PrivacyPolicy().decide(view("what is the capital of France?"), tiers()) is None


def test_privacy_local_hint_pins_to_edge() -> None:
    decision = PrivacyPolicy().decide(view(privacy_hint="local"), tiers())
    assert decision is not None and decision.pinned and decision.tier == "edge"


def test_hint_wins_for_known_tiers_only() -> None:
    assert HintPolicy().decide(view(tier_hint="cloud"), tiers()) == Decision(
        "cloud", "hint", "client asked for the cloud tier"
    )
    assert HintPolicy().decide(view(tier_hint=None), tiers()) is None


@pytest.mark.parametrize(
    "task,tier",
    [
        ("dialogue", "edge"),
        ("speech", "edge"),
        ("chat", "edge"),
        ("mining", "cloud"),
        ("knowledge-graph", "cloud"),
        ("summarize-long", "cloud"),
        ("batch", "cloud"),
    ],
)
def test_task_profiles(task: str, tier: str) -> None:
    decision = TaskPolicy().decide(view(task=task), tiers())
    assert decision is not None and decision.tier == tier


def test_task_sends_prompts_longer_than_the_edge_context_to_the_cloud() -> None:
    states = tiers(edge=TierState("edge", context_length=2048))
    decision = TaskPolicy().decide(view("word " * 2000, task="dialogue"), states)
    assert decision is not None and decision.tier == "cloud"
    assert "context of 2048" in decision.reason
    assert TaskPolicy().decide(view("short"), states) is None


def test_task_profiles_are_configurable() -> None:
    decision = TaskPolicy(profiles={"translation": "cloud"}).decide(view(task="translation"), tiers())
    assert decision is not None and decision.tier == "cloud"


def test_offline_moves_to_the_tier_that_is_up() -> None:
    down = TierState("cloud", available=False, reason_down="breaker open")
    decision = OfflinePolicy().decide(view(), tiers(cloud=down))
    assert decision is not None and decision.tier == "edge" and "breaker open" in decision.reason
    full = TierState("edge", overloaded=True, queue_depth=16)
    decision = OfflinePolicy().decide(view(), tiers(edge=full))
    assert decision is not None and decision.tier == "cloud" and "queue full" in decision.reason
    assert OfflinePolicy().decide(view(), tiers()) is None


def test_latency_prediction_uses_service_time_queue_and_rtt() -> None:
    state = TierState("cloud", ewma_ttft=0.30, rtt=0.10, queue_depth=2)
    assert predicted_ttft(state) == pytest.approx(0.20 * 3 + 0.10)


def test_latency_picks_the_faster_tier() -> None:
    states = tiers(
        TierState("edge", ewma_ttft=0.05, queue_depth=4), TierState("cloud", ewma_ttft=0.12, rtt=0.08)
    )
    decision = LatencyPolicy(slo_ttft_ms=800).decide(view(), states)
    assert decision is not None and decision.tier == "cloud"  # edge 250 ms queued vs cloud 120 ms
    assert "within the 800 ms SLO" in decision.reason


def test_latency_has_no_opinion_without_measurements() -> None:
    assert LatencyPolicy().decide(view(), tiers(TierState("edge", ewma_ttft=0.1))) is None


def test_cost_sends_everything_to_the_edge_once_the_budget_is_spent() -> None:
    assert CostPolicy(cloud_budget=1.0).decide(view(), tiers(cloud=TierState("cloud", spend=0.5))) is None
    decision = CostPolicy(cloud_budget=1.0).decide(view(), tiers(cloud=TierState("cloud", spend=1.2)))
    assert decision is not None and decision.tier == "edge" and "budget" in decision.reason
    assert CostPolicy().decide(view(), tiers(cloud=TierState("cloud", spend=99))) is None


def test_cascade_applies_to_non_streaming_chat_only() -> None:
    policy = CascadePolicy(threshold=-0.5)
    decision = policy.decide(view(), tiers())
    assert decision is not None and decision.cascade and decision.tier == "edge"
    assert policy.decide(view(stream=True), tiers()) is None
    assert policy.decide(view(kind="completion"), tiers()) is None


def test_cascade_confidence_mean_and_min() -> None:
    assert confidence([-0.1, -0.3], "mean") == pytest.approx(-0.2)
    assert confidence([-0.1, -0.3], "min") == pytest.approx(-0.3)
    assert confidence([], "mean") == -math.inf
    assert CascadePolicy(threshold=-0.5).escalate([-2.0, -0.1])
    assert not CascadePolicy(threshold=-0.5).escalate([-0.2, -0.1])
    assert CascadePolicy(threshold=-0.5, score="min").escalate([-0.6, -0.1])


def test_chain_first_opinion_wins_in_the_configured_order() -> None:
    pii = view("jane.doe@example.com", tier_hint="cloud")
    assert build_chain(["privacy", "hint"]).place(pii, tiers()).policy == "privacy"
    assert build_chain(["hint", "privacy"]).place(pii, tiers()).policy == "hint"
    assert build_chain([]).place(view(), tiers()) == Decision("edge", "default", "no policy had an opinion")


def test_chain_moves_an_unpinned_decision_off_a_down_tier() -> None:
    down = TierState("cloud", available=False, reason_down="unreachable")
    decision = build_chain(["hint"]).place(view(tier_hint="cloud"), tiers(cloud=down))
    assert (decision.tier, decision.policy) == ("edge", "offline")
    assert "hint wanted cloud" in decision.reason


def test_chain_never_moves_a_pinned_decision() -> None:
    down = TierState("edge", available=False)
    decision = build_chain(["privacy"]).place(view("jane@example.com"), tiers(edge=down))
    assert (decision.tier, decision.policy) == ("edge", "privacy")


def test_unknown_policy_name_is_refused() -> None:
    with pytest.raises(Exception, match="unknown policies"):
        build_chain(["privacy", "telepathy"])


def test_chain_is_a_placement_chain() -> None:
    assert isinstance(build_chain(), PlacementChain)
