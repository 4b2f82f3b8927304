"""cascade: for non-streaming chat, the edge answers first with log-probabilities; when its confidence
is under the threshold the gateway asks the cloud instead (the proxy does the escalation)."""

from __future__ import annotations

from collections.abc import Sequence

from edgecloud.gateway.placement import Decision, RequestView, TierStates
from edgecloud.routing.signals import confidence

__all__ = ["CascadePolicy", "confidence"]


class CascadePolicy:
    name = "cascade"

    def __init__(self, threshold: float = -1.0, score: str = "mean") -> None:
        if score not in ("mean", "min"):
            raise ValueError("cascade score must be 'mean' or 'min'")
        self.threshold = threshold
        self.score = score

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.kind != "chat" or request.stream:
            return None
        if not tiers.get(tiers.cloud).available:
            return None
        return Decision(
            tiers.edge,
            self.name,
            f"edge first; escalates when {self.score} token logprob < {self.threshold:g}",
            cascade=True,
        )

    def escalate(self, logprobs: Sequence[float]) -> bool:
        return confidence(logprobs, self.score) < self.threshold
