"""Placement as a pure function of (request, tier states, clock): the values policies read, the Decision
they return, and the chain that asks them in order. No I/O here, so the fleet simulator can run the
very same code with a simulated clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# The gateway rebuilds its tier states at most this often (requests arriving together share one
# snapshot); the fleet simulator does the same, so a burst is placed as the gateway would place it.
STATES_TTL_S = 0.025


@dataclass(frozen=True)
class Decision:
    tier: str  # "edge" | "cloud" | a named tier
    policy: str  # which rule decided
    reason: str  # human-readable, returned in the x-edgecloud-reason header
    redact: bool = False  # send through the reversible PII redactor first
    pinned: bool = False  # must not fail over to another tier (private data stays where it is)
    cascade: bool = False  # answer on this tier first; escalate when its confidence is low
    fallback: str | None = None  # the tier to fail over to first (default: the others in topology order)


@dataclass(frozen=True)
class RequestView:
    """What placement may know about a request: no I/O, no raw HTTP."""

    kind: str  # "chat" | "completion" | "embedding"
    model: str
    text: str  # the prompt text (messages joined), for detectors and length estimates
    prompt_tokens: int  # an estimate
    max_tokens: int | None = None
    stream: bool = False
    tier_hint: str | None = None  # x-edgecloud-tier header or metadata.tier
    task: str | None = None  # metadata.task or a model alias
    privacy_hint: str | None = None  # metadata.privacy, e.g. "local"
    wants_logprobs: bool = False
    # PII kinds found in the text, once detected: the gateway detects once per request, and the
    # simulator and a decision-log replay carry them without the prompt text. None: not yet detected.
    pii: tuple[str, ...] | None = None


@dataclass(frozen=True)
class TierState:
    """A tier as the gateway sees it now."""

    name: str
    available: bool = True  # some upstream is up and its breaker lets traffic through
    overloaded: bool = False  # every upstream reports a full queue
    reason_down: str = ""
    queue_depth: int = 0  # waiting or running: the node's report or this gateway's in-flight count
    ewma_ttft: float | None = None  # seconds: queue-free TTFT through the gateway (Upstream.observe_ttft)
    ewma_tpot: float | None = None  # seconds per output token
    rtt: float | None = None  # seconds, from the link probe
    context_length: int | None = None  # of the tier's chat model
    spend: float = 0.0  # this period's spend, in price units
    price_in: float = 0.0  # per 1k input tokens
    price_out: float = 0.0  # per 1k output tokens


@dataclass(frozen=True)
class TierStates:
    tiers: Mapping[str, TierState]
    now: float  # the injected clock
    edge: str = "edge"
    cloud: str = "cloud"

    def get(self, name: str) -> TierState:
        return self.tiers.get(name) or TierState(name, available=False, reason_down="not configured")

    def other(self, name: str) -> str:
        return self.cloud if name == self.edge else self.edge


class Policy(Protocol):
    """One placement rule. Returns None when it has no opinion."""

    name: str

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None: ...


@dataclass
class PlacementChain:
    """Asks each policy in order; the first decision wins. A decision for a tier that is down is
    moved to the other tier (policy "offline") unless it is pinned; pinned requests fail instead."""

    policies: Sequence[Policy]
    default_tier: str = "edge"
    _names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self._names = tuple(policy.name for policy in self.policies)

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def place(self, request: RequestView, tiers: TierStates) -> Decision:
        decision = self._first(request, tiers)
        chosen = tiers.get(decision.tier)
        if chosen.available or decision.pinned:
            return decision
        other = tiers.get(tiers.other(decision.tier))
        if not other.available:
            return decision  # both down: the proxy answers 503 with Retry-After
        why = chosen.reason_down or "unavailable"
        return Decision(
            other.name,
            "offline",
            f"{decision.tier} {why}; {decision.policy} wanted {decision.tier}: {decision.reason}",
        )

    def _first(self, request: RequestView, tiers: TierStates) -> Decision:
        for policy in self.policies:
            decision = policy.decide(request, tiers)
            if decision is not None:
                return decision
        return Decision(self.default_tier, "default", "no policy had an opinion")
