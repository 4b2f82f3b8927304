"""task: real-time work to the edge, big-data work to the cloud, prompts too long for the edge model
to the cloud."""

from __future__ import annotations

from collections.abc import Mapping

from edgecloud.gateway.placement import Decision, RequestView, TierStates

REALTIME = ("dialogue", "speech", "chat")
BIG_DATA = ("mining", "knowledge-graph", "summarize-long", "batch")
QUALITY = ("translate",)  # small edge models translate poorly (see `edgecloud eval --suite translation`)


class TaskPolicy:
    name = "task"

    def __init__(self, profiles: Mapping[str, str] | None = None) -> None:
        default = {task: "edge" for task in REALTIME} | {task: "cloud" for task in BIG_DATA + QUALITY}
        self.profiles = dict(default, **(profiles or {}))

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        edge_context = tiers.get(tiers.edge).context_length
        needed = request.prompt_tokens + (request.max_tokens or 0)
        if edge_context and needed > edge_context:
            return Decision(
                tiers.cloud, self.name, f"~{needed} tokens exceed the edge model's context of {edge_context}"
            )
        if request.task is None:
            return None
        tier = self.profiles.get(request.task)
        if tier is None:
            return None
        kind = "real-time" if tier == tiers.edge else "quality" if request.task in QUALITY else "big-data"
        return Decision(tier, self.name, f"task {request.task!r} is {kind} work")
