"""The placement policies, each a small pure class, and the registry that builds a chain by name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.placement import Decision, PlacementChain, Policy, RequestView, TierStates
from edgecloud.gateway.policies.cascade import CascadePolicy
from edgecloud.gateway.policies.cost import CostPolicy
from edgecloud.gateway.policies.hint import HintPolicy
from edgecloud.gateway.policies.latency import LatencyPolicy
from edgecloud.gateway.policies.offline import OfflinePolicy
from edgecloud.gateway.policies.privacy import PrivacyPolicy
from edgecloud.gateway.policies.router import RouterPolicy
from edgecloud.gateway.policies.speculative import SpeculativePolicy
from edgecloud.gateway.policies.task import TaskPolicy

POLICIES: dict[str, type[Any]] = {
    "privacy": PrivacyPolicy,
    "hint": HintPolicy,
    "task": TaskPolicy,
    "offline": OfflinePolicy,
    "latency": LatencyPolicy,
    "cost": CostPolicy,
    "cascade": CascadePolicy,
    "router": RouterPolicy,  # the shipped router for the tiers' pair, or policy_settings.router.path
    "speculative": SpeculativePolicy,  # opt-in: a tier whose edge node drafts for the cloud's model
}
DEFAULT_ORDER = ("privacy", "hint", "task", "offline", "cost", "router", "latency", "cascade")


def build_chain(
    order: Sequence[str] = DEFAULT_ORDER, settings: Mapping[str, Mapping[str, Any]] | None = None
) -> PlacementChain:
    """Policies by name, in order, each with its settings (e.g. {"latency": {"slo_ttft_ms": 500}})."""
    settings = settings or {}
    unknown = [name for name in order if name not in POLICIES]
    if unknown:
        raise InvalidRequest(f"unknown policies {unknown}; known: {', '.join(POLICIES)}", param="policies")
    chain: list[Policy] = [POLICIES[name](**dict(settings.get(name, {}))) for name in order]
    return PlacementChain(chain)


def privacy_of(chain: PlacementChain) -> PrivacyPolicy | None:
    return next((p for p in chain.policies if isinstance(p, PrivacyPolicy)), None)


def place_request(
    chain: PlacementChain, privacy: PrivacyPolicy | None, request: RequestView, tiers: TierStates
) -> Decision:
    """The gateway's whole placement before model pinning: the chain, then keep-local privacy (PII
    never leaves the edge whatever the order). The simulator and the decision-log replay call this too."""
    decision = chain.place(request, tiers)
    return privacy.keep_local(decision, request, tiers) if privacy is not None else decision


__all__ = ["DEFAULT_ORDER", "POLICIES", "build_chain", "place_request", "privacy_of"]
