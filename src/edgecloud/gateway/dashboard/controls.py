"""What an operator may change at run time: take a tier out of service (placement avoids it, requests
already running there finish) or bring it back, and move a policy's threshold. Every change is applied
to every policy chain the gateway holds (tenants' included), written to the decision log with who made
it, and shown on the dashboard."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.policies.cascade import CascadePolicy
from edgecloud.gateway.policies.latency import LatencyPolicy
from edgecloud.gateway.policies.router import RouterPolicy

if TYPE_CHECKING:
    from edgecloud.gateway.service import Gateway

# name -> policy class: the cascade's logprob threshold, the router's score threshold (0..1), the latency
# policy's TTFT SLO in milliseconds
ADJUSTABLE: dict[str, type] = {"cascade": CascadePolicy, "router": RouterPolicy, "latency": LatencyPolicy}


def thresholds(gateway: Gateway) -> dict[str, float]:
    found: dict[str, float] = {}
    for policy in gateway.chain.policies:
        if isinstance(policy, CascadePolicy):
            found["cascade"] = policy.threshold
        elif isinstance(policy, RouterPolicy) and policy.router is not None:
            found["router"] = round(policy.threshold, 4)
        elif isinstance(policy, LatencyPolicy):
            found["latency"] = round(policy.slo * 1000, 1)
    return found


def set_offline(gateway: Gateway, tier: str, offline: bool, who: str) -> dict[str, Any]:
    found = gateway.tiers.get(tier)
    if found is None:
        raise InvalidRequest(
            f"unknown tier {tier!r}; this gateway has {', '.join(gateway.tiers)}", param="tier"
        )
    found.offline_by = who if offline else ""
    gateway.invalidate()  # placement sees it from the next request on
    return _record(gateway, who, "offline" if offline else "online", tier=tier)


def set_threshold(gateway: Gateway, policy: str, value: float | None, who: str) -> dict[str, Any]:
    if policy not in ADJUSTABLE:
        raise InvalidRequest(
            f"unknown policy {policy!r}; adjustable: {', '.join(ADJUSTABLE)}", param="policy"
        )
    if not isinstance(value, int | float) or isinstance(value, bool) or value != value:
        raise InvalidRequest("value must be a number", param="value")
    if policy == "router" and not 0.0 <= value <= 1.0:
        raise InvalidRequest("the router's threshold is a probability, 0..1", param="value")
    if policy == "latency" and not 0 < value <= 600_000:
        raise InvalidRequest("the latency SLO is in ms, above 0", param="value")
    chains = [gateway.chain, *gateway.tenant_chains()]
    matched = [p for chain in chains for p in chain.policies if isinstance(p, ADJUSTABLE[policy])]
    if not matched:
        raise InvalidRequest(f"the {policy} policy is not in this gateway's chain", param="policy")
    before = thresholds(gateway).get(policy)
    for found in matched:
        if isinstance(found, LatencyPolicy):
            found.slo = value / 1000.0
        elif isinstance(found, CascadePolicy | RouterPolicy):
            found.threshold = float(value)
    return _record(gateway, who, "threshold", policy=policy, before=before, after=float(value))


def _record(gateway: Gateway, who: str, action: str, **detail: Any) -> dict[str, Any]:
    event = {"event": "control", "time": time.time(), "who": who, "action": action, **detail}
    gateway.log.event(event)
    gateway.feed.control(event)
    return event
