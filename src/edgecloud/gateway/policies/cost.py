"""cost: when this period's cloud spend reaches the budget, the edge only."""

from __future__ import annotations

from edgecloud.gateway.placement import Decision, RequestView, TierStates


class CostPolicy:
    name = "cost"

    def __init__(self, cloud_budget: float | None = None, period_s: float = 86_400.0) -> None:
        self.budget = cloud_budget
        self.period_s = period_s

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        cloud = tiers.get(tiers.cloud)
        if self.budget is None or cloud.spend < self.budget:
            return None
        return Decision(
            tiers.edge,
            self.name,
            f"cloud budget of {self.budget:g} for this period is spent ({cloud.spend:.4g})",
        )
