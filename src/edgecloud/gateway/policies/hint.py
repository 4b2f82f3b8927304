"""hint: the client's explicit x-edgecloud-tier header or metadata.tier."""

from __future__ import annotations

from edgecloud.gateway.placement import Decision, RequestView, TierStates


class HintPolicy:
    name = "hint"

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.tier_hint and request.tier_hint in tiers.tiers:
            return Decision(request.tier_hint, self.name, f"client asked for the {request.tier_hint} tier")
        return None
