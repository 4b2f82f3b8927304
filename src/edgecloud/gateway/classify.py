"""/v1/classify through the gateway: the classification cascade. The edge's (small, int8, frozen-head)
classifier labels every input; inputs whose top probability is under the threshold are sent, together
in one request, to the cloud's stronger classifier, and its answers replace the edge's for them.

The threshold is `policy_settings.classify.threshold` (default 0.8), or a request's
`metadata.threshold`. A placement that is explicit or forced (a tier hint, privacy, a model only one
tier serves, a tier down) is honoured as is: one tier answers everything, nothing escalates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.inbound import AUTO, Inbound
from edgecloud.gateway.placement import Decision
from edgecloud.gateway.proxy import Opened
from edgecloud.gateway.relay import decision_headers, read_whole, record_for, usage_of
from edgecloud.gateway.service import Gateway, Placement

PATH = "/v1/classify"
DEFAULT_THRESHOLD = 0.8
FORCED_POLICIES = frozenset({"hint", "offline", "privacy", "scope", "model"})


@dataclass(frozen=True)
class Answer:
    opened: Opened
    body: bytes
    data: dict[str, Any] | None


def threshold_for(gateway: Gateway, inbound: Inbound) -> float:
    settings = gateway.topology.policy_settings.get("classify", {})
    value = inbound.metadata.get("threshold", settings.get("threshold", DEFAULT_THRESHOLD))
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidRequest(
            "the classify threshold must be a number from 0 to 1", param="metadata.threshold"
        )
    return float(value)


def _cloud_of(gateway: Gateway, placement: Placement) -> str | None:
    """The tier to escalate to, when a cascade is possible at all."""
    decision = placement.decision
    if decision.pinned or decision.policy in FORCED_POLICIES:
        return None
    cloud = next((name for name in gateway.tiers if name != placement.edge), None)
    if cloud is None or placement.models.get(cloud, AUTO) == AUTO:
        return None
    if not gateway.states().get(cloud).available:
        return None
    return cloud


async def classify_answer(
    gateway: Gateway, inbound: Inbound, placement: Placement, started: float
) -> Response:
    """Edge first, low-confidence inputs to the cloud; otherwise the placed tier answers alone."""
    assert gateway.proxy is not None
    threshold = threshold_for(gateway, inbound)
    cloud = _cloud_of(gateway, placement)
    decision = placement.decision
    if cloud is not None and placement.models.get(placement.edge, AUTO) == AUTO:
        decision, cloud = Decision(cloud, "model", f"only the {cloud} tier serves a classifier"), None
    if cloud is not None:
        decision = Decision(
            placement.edge, "cascade", f"edge first; inputs under confidence {threshold:g} go to {cloud}"
        )
    first = await _ask(gateway, placement, inbound, decision, started)
    if cloud is None or first.data is None or first.opened.tier == cloud:
        return _respond(first.opened, first.body, first.opened.decision)
    items = list(first.data.get("data") or [])
    low = [i for i, item in enumerate(items) if float(item.get("score", 0.0)) < threshold]
    for item in items:
        item["tier"] = first.opened.tier
    if not low:
        reason = f"all {len(items)} inputs at confidence >= {threshold:g} on the edge"
        return _merged(first, first.data, Decision(first.opened.tier, "cascade", reason))
    gateway.metrics.escalations.inc()
    texts = _texts(inbound)
    body = {**inbound.body, "input": [texts[i] for i in low]}
    subset = Inbound(inbound.kind, body, json.dumps(body).encode(), inbound.key_id)
    reason = f"{len(low)} of {len(items)} inputs under confidence {threshold:g}; escalated to {cloud}"
    escalation = Decision(cloud, "cascade", reason)
    second = await _ask(gateway, placement, subset, escalation, started)
    if second.data is None or second.opened.tier != cloud:
        reason = f"{len(low)} inputs under {threshold:g}, but {cloud} did not answer; edge labels kept"
        return _merged(first, first.data, Decision(first.opened.tier, "cascade", reason))
    for position, item in zip(low, second.data.get("data") or [], strict=False):
        items[position] = {**item, "index": position, "tier": cloud}
    merged = {**first.data, "data": items, "usage": _usage_sum(first.data, second.data)}
    merged["model"] = f"{first.data.get('model')}+{second.data.get('model')}"
    return _merged(second, merged, escalation, escalated=True)


async def _ask(
    gateway: Gateway, placement: Placement, inbound: Inbound, decision: Decision, started: float
) -> Answer:
    """One tier's answer, read whole and accounted (an escalation is logged as one)."""
    assert gateway.proxy is not None
    opened = await gateway.proxy.open(
        decision, PATH, gateway.payload_for(placement, inbound), placement.request_id
    )
    body, data = await read_whole(gateway, opened, inbound, started)
    status = opened.response.status
    escalated = decision.policy == "cascade" and decision.tier != placement.edge
    gateway.account(record_for(opened, inbound, started, status, *usage_of(data), escalated=escalated))
    return Answer(opened, body, data)


def _texts(inbound: Inbound) -> list[str]:
    value = inbound.body.get("input")
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _usage_sum(*parts: dict[str, Any]) -> dict[str, int]:
    prompt = sum(int((part.get("usage") or {}).get("prompt_tokens", 0)) for part in parts)
    return {"prompt_tokens": prompt, "total_tokens": prompt}


def _merged(answer: Answer, data: dict[str, Any], decision: Decision, escalated: bool = False) -> Response:
    return _respond(answer.opened, json.dumps(data).encode(), decision, escalated)


def _respond(opened: Opened, body: bytes, decision: Decision, escalated: bool = False) -> Response:
    headers = decision_headers(decision, opened, escalated=escalated)
    return Response(body, status_code=opened.response.status, media_type="application/json", headers=headers)
