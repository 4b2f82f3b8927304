"""Placement for simulated requests, decided by the gateway's own chain (built by `build_chain` from
the scenario's policy names and settings, and asked through `place_request`, as the gateway does).

A million requests cannot each build a RequestView and TierStates and walk seven policies in the time
budget, so decisions are memoised on the discretised inputs the policies read (READS below): the
request's features (kind, stream, task, hints, PII kinds, and its length only where it exceeds the edge
context, the one place a policy compares it), each tier's availability and overload, and for the
latency and cost policies each tier's queue depth, EWMA TTFT and RTT (on a 2% geometric grid) and
the spend (1% of the budget). On a miss the chain decides from exactly those inputs, so a hit returns
what the chain said for the same inputs. Two levels: when every policy the chain consulted before it
decided reads only the request and availability, the decision is kept under that short key (most
requests: privacy, hints, tasks, outages); otherwise under the full key. A policy without a READS entry
turns the memo off."""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from edgecloud.gateway.placement import Decision, PlacementChain, Policy, RequestView, TierState, TierStates
from edgecloud.gateway.policies import build_chain, place_request, privacy_of
from edgecloud.sim.scenario import Gateway

# What each policy reads (see gateway/policies/*): keep in step when a policy changes. "request":
# features of the request; "availability": available/overloaded (and the queue of a full edge);
# "load": queue depths, EWMA TTFTs, RTTs; "spend": the cloud's spend this period.
READS: dict[str, frozenset[str]] = {
    "privacy": frozenset({"request"}),
    "hint": frozenset({"request"}),
    "task": frozenset({"request"}),  # and the edge's context length, part of the request key here
    "offline": frozenset({"availability"}),
    "cascade": frozenset({"request", "availability"}),
    "latency": frozenset({"load", "availability"}),
    "cost": frozenset({"spend"}),
}
SHORT = frozenset({"request", "availability"})
GRID_RATIO = 1.02  # seconds are kept to within 1% (geometric steps: as fine at 2 ms as at 2 s)
GRID_FLOOR_S = 1e-4
_LOG_RATIO = math.log(GRID_RATIO)


def to_steps(seconds: float | None) -> int:
    """A duration on the geometric grid (-1: none measured yet); steps_to() reads it back."""
    if seconds is None:
        return -1
    return int(math.log(max(seconds, GRID_FLOOR_S) / GRID_FLOOR_S) / _LOG_RATIO + 0.5)


def steps_to(steps: int) -> float | None:
    return None if steps < 0 else GRID_FLOOR_S * GRID_RATIO**steps


_LONG = object()  # short-key memo entry: this request needs the full key
PII_KINDS = ("EMAIL_ADDRESS",)  # what a simulated PII prompt contains

# kind, stream, task, privacy hint, tier hint, PII kinds, prompt tokens (0 unless too long), max_tokens
RequestKey = tuple[str, bool, str | None, str | None, str | None, tuple[str, ...], int, int]
# available, overloaded, queue, EWMA TTFT steps (-1: none yet), context length (0: unknown), why down,
# RTT steps (-1: none; an edge device's model is local)
EdgeKey = tuple[bool, bool, int, int, int, str, int]
# available, overloaded, queue, EWMA TTFT steps, RTT steps (-1: none), spend steps, why down
CloudKey = tuple[bool, bool, int, int, int, int, str]


class _Noted:
    """A policy that notes its name when the chain asks it, then decides as itself."""

    def __init__(self, policy: Policy, asked: list[str]) -> None:
        self.name = policy.name
        self._policy = policy
        self._asked = asked

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        self._asked.append(self.name)
        return self._policy.decide(request, tiers)


@dataclass(frozen=True)
class Placed:
    """A decision with a small integer id, so runs count decisions without keeping strings."""

    id: int
    decision: Decision


class SimPlacer:
    def __init__(self, gateway: Gateway, cloud_price: tuple[float, float], cloud_context: int | None) -> None:
        self.chain = build_chain(gateway.policies, gateway.policy_settings)
        self.privacy = privacy_of(self.chain)
        self.memoise = all(name in READS for name in self.chain.names)
        self._consulted: list[str] = []
        # The same policy objects in the same PlacementChain, each noting that it was asked.
        self._recording = PlacementChain([_Noted(p, self._consulted) for p in self.chain.policies])
        self.cloud_price = cloud_price
        self.cloud_context = cloud_context
        cost = gateway.policy_settings.get("cost", {})
        self.budget: float | None = cost.get("cloud_budget")
        self.period_s = float(cost.get("period_s", 86_400.0))
        self.decisions: list[Decision] = []
        self._ids: dict[Decision, int] = {}
        self._short: dict[tuple[Any, ...], Any] = {}
        self._memo: dict[tuple[Any, ...], Placed] = {}
        self._views: dict[RequestKey, RequestView] = {}
        self._edges: dict[EdgeKey, TierState] = {}
        self._clouds: dict[CloudKey, TierState] = {}
        self.misses = 0
        self.calls = 0

    def spend_step(self, spend: float) -> int:
        """Spend as the cost policy needs it: in 1% steps of the budget, rounded down (0 without one)."""
        return int(spend * 100 / self.budget) if self.budget else 0

    def place(
        self, request: RequestKey, edge: EdgeKey, cloud: CloudKey, now: float, request_id: Hashable = None
    ) -> Placed:
        """`request_id`: any value that determines `request` (the fleet passes a small integer), so the
        memo hashes it instead of the whole tuple."""
        self.calls += 1
        if not self.memoise:
            return self._decide(request, edge, cloud, now)[0]
        short = (
            request if request_id is None else request_id,
            edge[0],
            edge[1],
            edge[2] if edge[1] else -1,
            edge[4],
            edge[5],
            *cloud[:2],
            cloud[6],
        )
        found = self._short.get(short)
        if found is not None and found is not _LONG:
            return found  # type: ignore[no-any-return,unused-ignore]
        key = (short, edge, cloud)
        if found is _LONG:
            placed = self._memo.get(key)
            if placed is not None:
                return placed
        placed, consulted = self._decide(request, edge, cloud, now)
        if all(READS[name] <= SHORT for name in consulted):
            self._short[short] = placed
        else:
            self._short[short] = _LONG
            self._memo[key] = placed
        return placed

    def _decide(
        self, request: RequestKey, edge: EdgeKey, cloud: CloudKey, now: float
    ) -> tuple[Placed, list[str]]:
        """The chain's decision (through place_request, as the gateway asks it) and the names of the
        policies it consulted, in order, up to the one with an opinion (all of them when none had)."""
        self.misses += 1
        self._consulted.clear()
        decision = place_request(
            self._recording, self.privacy, self.view(request), self.states(edge, cloud, now)
        )
        return Placed(self._id(decision), decision), list(self._consulted)

    def _id(self, decision: Decision) -> int:
        found = self._ids.get(decision)
        if found is None:
            found = self._ids[decision] = len(self.decisions)
            self.decisions.append(decision)
        return found

    def view(self, request: RequestKey) -> RequestView:
        found = self._views.get(request)
        if found is None:
            found = self._views[request] = self._view(request)
        return found

    @staticmethod
    def _view(request: RequestKey) -> RequestView:
        kind, stream, task, privacy_hint, tier_hint, pii, prompt_tokens, max_tokens = request
        return RequestView(
            kind=kind,
            model="auto",
            text="",
            prompt_tokens=prompt_tokens,
            max_tokens=max_tokens or None,
            stream=stream,
            tier_hint=tier_hint,
            task=task,
            privacy_hint=privacy_hint,
            wants_logprobs=False,
            pii=pii,
        )

    def states(self, edge: EdgeKey, cloud: CloudKey, now: float) -> TierStates:
        edge_state = self._edges.get(edge)
        if edge_state is None:
            edge_state = self._edges[edge] = self._edge_state(edge)
        cloud_state = self._clouds.get(cloud)
        if cloud_state is None:
            cloud_state = self._clouds[cloud] = self._cloud_state(cloud)
        return TierStates({"edge": edge_state, "cloud": cloud_state}, now=now)

    @staticmethod
    def _edge_state(edge: EdgeKey) -> TierState:
        up, full, queue, ewma, context, why, rtt = edge
        return TierState(
            "edge",
            available=up,
            overloaded=full,
            reason_down=why,
            queue_depth=queue,
            ewma_ttft=steps_to(ewma),
            rtt=steps_to(rtt),
            context_length=context or None,
        )

    def _cloud_state(self, cloud: CloudKey) -> TierState:
        up, full, queue, ewma, rtt, spend, why = cloud
        return TierState(
            "cloud",
            available=up,
            overloaded=full,
            reason_down=why,
            queue_depth=queue,
            ewma_ttft=steps_to(ewma),
            rtt=steps_to(rtt),
            context_length=self.cloud_context,
            spend=spend * self.budget / 100 if self.budget else 0.0,
            price_in=self.cloud_price[0],
            price_out=self.cloud_price[1],
        )
