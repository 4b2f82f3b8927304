"""What the dashboard shows at one moment: the feed's traffic figures beside the live state of every
tier and upstream, the cloud's spend against its budget and the thresholds in force."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from edgecloud.gateway.dashboard.controls import thresholds
from edgecloud.gateway.policies.cost import CostPolicy

if TYPE_CHECKING:
    from edgecloud.gateway.service import Gateway

log = logging.getLogger(__name__)
INTERVAL_S = 1.0


def snapshot(gateway: Gateway) -> dict[str, Any]:
    states = gateway.states()
    figures = gateway.feed.traffic(list(gateway.tiers))
    for name, tier in gateway.tiers.items():
        state = states.get(name)
        figures["tiers"][name].update(
            available=state.available,
            reason_down=state.reason_down,
            offline_by=tier.offline_by or None,
            model=tier.model_for("chat"),
            queue_depth=state.queue_depth,
            spend=round(state.spend, 6),
        )
    figures["upstreams"] = [
        {
            "name": u.name,
            "tier": name,
            "url": u.url,
            "up": u.up,
            "breaker": u.breaker.state.value,
            "queue_depth": u.queue_depth,
            "in_flight": u.in_flight.count(),
            "rtt_ms": round(u.rtt.value * 1000, 2) if u.rtt.value is not None else None,
            "last_error": u.last_error,
        }
        for name, tier in gateway.tiers.items()
        for u in tier.upstreams
    ]
    budget = next((p for p in gateway.chain.policies if isinstance(p, CostPolicy)), None)
    cloud = states.cloud
    figures["spend"] = {
        "tier": cloud,
        "spent": round(states.get(cloud).spend, 6),
        "budget": budget.budget if budget is not None else None,
        "period_s": budget.period_s if budget is not None else None,
    }
    figures["policies"] = list(gateway.chain.names)
    figures["thresholds"] = thresholds(gateway)
    figures["watchers"] = len(gateway.feed.watchers)
    return figures


async def publish_forever(gateway: Gateway) -> None:
    """Once a second, while anybody watches: one snapshot, sent to every watcher."""
    while True:
        await asyncio.sleep(INTERVAL_S)
        if not gateway.feed.watchers:
            continue
        try:
            gateway.feed.publish(snapshot(gateway))
        except Exception:  # a bad snapshot must not end the feed for good
            log.exception("dashboard snapshot failed")
