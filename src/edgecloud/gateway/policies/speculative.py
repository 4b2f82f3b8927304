"""speculative: long answers that need the cloud model go to the speculative tier, an edge node whose
draft model proposes tokens that the cloud verifies (`serve --draft-model ... --verify-url CLOUD`). The
text is the cloud model's; the cloud runs one forward pass per round instead of one per token.

Not in the default chain: on this project's 2-core CPU a verifier's pass over k tokens costs nearly k
times one token, so the speculative tier measured slower than the cloud alone (README, "Speculative
decoding"). Name it in `policies:` where the cloud verifies on an accelerator."""

from __future__ import annotations

from collections.abc import Sequence

from edgecloud.gateway.placement import Decision, RequestView, TierStates


class SpeculativePolicy:
    name = "speculative"

    def __init__(
        self,
        tier: str = "speculative",
        min_tokens: int = 256,
        tasks: Sequence[str] = ("generate", "code"),
        fallback: str = "cloud",
    ) -> None:
        self.tier = tier
        self.min_tokens = min_tokens
        self.tasks = tuple(tasks)
        self.fallback = fallback

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.kind not in ("chat", "completion"):
            return None
        state = tiers.tiers.get(self.tier)
        if state is None or not state.available:
            return None
        if request.task in self.tasks:
            why = f"task {request.task!r}"
        elif (request.max_tokens or 0) >= self.min_tokens:
            why = f"a long answer ({request.max_tokens} tokens)"
        else:
            return None
        return Decision(
            self.tier,
            self.name,
            f"{why} at cloud quality: the edge drafts, the cloud verifies (falls back to {self.fallback})",
            fallback=self.fallback,
        )
