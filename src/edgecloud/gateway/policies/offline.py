"""offline: the cloud unreachable or its breaker open -> edge; the edge overloaded -> cloud."""

from __future__ import annotations

from edgecloud.gateway.placement import Decision, RequestView, TierStates


class OfflinePolicy:
    name = "offline"

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        edge, cloud = tiers.get(tiers.edge), tiers.get(tiers.cloud)
        if not cloud.available and edge.available:
            return Decision(edge.name, self.name, f"cloud {cloud.reason_down or 'unreachable'}")
        if not edge.available and cloud.available:
            return Decision(cloud.name, self.name, f"edge {edge.reason_down or 'unreachable'}")
        if edge.overloaded and cloud.available and not cloud.overloaded:
            return Decision(cloud.name, self.name, f"edge queue full ({edge.queue_depth} waiting)")
        return None
