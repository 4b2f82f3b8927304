"""The gateway's state and its one decision per request: tiers and their upstreams, the policy chain,
the clock, spend per period, and the accounting that follows each answer."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import aiohttp

from edgecloud.errors import Forbidden, InvalidRequest, ModelNotFound
from edgecloud.gateway.dashboard.feed import DashboardFeed
from edgecloud.gateway.decisions import DecisionLog, DecisionRecord, placement_features
from edgecloud.gateway.inbound import AUTO, Inbound, estimate_tokens, redacted, task_alias, tier_payload
from edgecloud.gateway.metrics import GatewayMetrics
from edgecloud.gateway.netprobe import probe_forever, probe_once
from edgecloud.gateway.placement import STATES_TTL_S, Decision, PlacementChain, RequestView, TierStates
from edgecloud.gateway.policies import build_chain, place_request
from edgecloud.gateway.policies.cascade import CascadePolicy
from edgecloud.gateway.policies.privacy import PrivacyPolicy
from edgecloud.gateway.policies.router import RouterPolicy
from edgecloud.gateway.proxy import Proxy
from edgecloud.gateway.topology import Topology
from edgecloud.gateway.upstreams import Tier, build_tiers
from edgecloud.privacy.redact import Redactor

log = logging.getLogger(__name__)
PLACED_KEPT = 4096  # placement features waiting for their answer's log line (bounded: some never answer)


class CostMeter:
    """Spend per tier in the current period; a new period starts from zero."""

    def __init__(self, period_s: float, clock: Callable[[], float]) -> None:
        self._period = period_s
        self._clock = clock
        self._start = clock()
        self._spend: dict[str, float] = {}

    def spend(self, tier: str) -> float:
        self._roll()
        return self._spend.get(tier, 0.0)

    def add(self, tier: str, amount: float) -> None:
        self._roll()
        self._spend[tier] = self._spend.get(tier, 0.0) + amount

    def _roll(self) -> None:
        if self._clock() - self._start >= self._period:
            self._start = self._clock()
            self._spend.clear()


@dataclass(frozen=True)
class Placement:
    decision: Decision
    models: dict[str, str]  # tier -> the concrete model name that tier receives
    view: RequestView
    request_id: str
    redactor: Redactor | None = None  # set when PII may leave the edge only in redacted form
    edge: str = "edge"

    def redacts_for(self, tier: str) -> bool:
        return self.redactor is not None and tier != self.edge


class Gateway:
    def __init__(self, topology: Topology, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.topology = topology
        self.clock = clock
        self.tiers: dict[str, Tier] = build_tiers(topology, clock)
        self.chain = build_chain(topology.policies, topology.policy_settings)
        self.cascade = next((p for p in self.chain.policies if isinstance(p, CascadePolicy)), None)
        self.privacy = next((p for p in self.chain.policies if isinstance(p, PrivacyPolicy)), None)
        self._bind_routers(self.chain, strict=True)
        self._tenant_chains: dict[str, tuple[PlacementChain, PrivacyPolicy | None]] = {}
        period = float(topology.policy_settings.get("cost", {}).get("period_s", 86_400.0))
        self.costs = CostMeter(period, clock)
        self.metrics = GatewayMetrics()
        self.log = DecisionLog(topology.decision_log, topology.log_prompts)
        self.feed = DashboardFeed(show_prompts=topology.log_prompts)
        self._states: tuple[float, TierStates] | None = None
        self._placed: OrderedDict[str, dict[str, object]] = OrderedDict()
        self._id_prefix = f"{int(time.time()):x}"
        self._ids = itertools.count(1)
        for tier in self.tiers.values():
            for upstream in tier.upstreams:
                upstream.breaker.on_change = self.invalidate
        self._session: aiohttp.ClientSession | None = None
        self._probe: asyncio.Task[None] | None = None
        self.proxy: Proxy | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True)
        # No cookie jar: upstream cookies mean nothing here, and the jar costs time on every response.
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar()
        )
        self.proxy = Proxy(self._session, self.tiers, self.topology.retries, self.metrics)
        upstreams = [u for tier in self.tiers.values() for u in tier.upstreams]
        await asyncio.gather(*(probe_once(self._session, u, models=True) for u in upstreams))
        self._bind_routers(self.chain, strict=False)
        for policy in self.chain.policies:
            if isinstance(policy, RouterPolicy):
                await asyncio.to_thread(policy.warm)
        self._probe = asyncio.create_task(
            probe_forever(self._session, upstreams, self.topology.probe_interval_s)
        )

    async def stop(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
        if self._session is not None:
            await self._session.close()
        self.log.close()

    def states(self) -> TierStates:
        """Tier states, rebuilt at most every STATES_TTL_S and at once when a breaker changes state:
        measured figures move slowly, availability must not lag."""
        now = self.clock()
        if self._states is not None and now < self._states[0]:
            return self._states[1]
        states = TierStates(
            {name: tier.state(self.costs.spend(name)) for name, tier in self.tiers.items()}, now=now
        )
        self._states = (now + STATES_TTL_S, states)
        return states

    def invalidate(self) -> None:
        self._states = None

    def refresh_gauges(self) -> None:
        """Upstream gauges for /metrics and /health; kept off the per-request path."""
        for tier in self.tiers.values():
            for upstream in tier.upstreams:
                self.metrics.upstream_up.labels(upstream.name).set(1 if upstream.up else 0)
                self.metrics.breaker_open.labels(upstream.name).set(
                    0 if upstream.breaker.would_allow() else 1
                )

    def place(
        self,
        inbound: Inbound,
        tier_header: str | None,
        request_id: str | None = None,
        privacy_mode: str | None = None,
    ) -> Placement:
        """`privacy_mode`: a tenant's own mode (from its API key) instead of the gateway's."""
        view = self._view(inbound, tier_header)
        states = self.states()
        chain, privacy = self._chain_for(privacy_mode)
        if privacy is not None:
            view = replace(view, pii=privacy.pii_kinds(view))  # detect once; every policy reads this
        decision = place_request(chain, privacy, view, states)
        redactor = None
        if privacy is not None and privacy.mode == "redact" and view.pii:
            redactor = Redactor(privacy.detectors)
        requested = AUTO if task_alias(inbound.model) else inbound.model
        models = {name: self._model_on(tier, requested, inbound.kind) for name, tier in self.tiers.items()}
        if requested != AUTO:
            decision = self._pin_to_model(decision, requested)
            models = {name: requested for name in self.tiers}
        self.metrics.child(self.metrics.placements, decision.tier, decision.policy).inc()
        request_id = request_id or f"gw-{self._id_prefix}-{next(self._ids):x}"
        if self.log.enabled:
            self._placed[request_id] = placement_features(view, states, decision)
            while len(self._placed) > PLACED_KEPT:
                self._placed.popitem(last=False)
        return Placement(decision, models, view, request_id, redactor, states.edge)

    def needs_priming(self, inbound: Inbound, privacy_mode: str | None = None) -> bool:
        """Whether placing this request embeds its prompt (a bound quality router on a chat request)."""
        return inbound.kind == "chat" and any(
            isinstance(p, RouterPolicy) and p.router is not None
            for p in self._chain_for(privacy_mode)[0].policies
        )

    def prime(self, inbound: Inbound, privacy_mode: str | None = None) -> None:
        """The slow part of placing, run before `place` in a worker thread: the router's embedding."""
        text = inbound.text()
        for policy in self._chain_for(privacy_mode)[0].policies:
            if isinstance(policy, RouterPolicy):
                policy.prime(text)

    def check_tier_name(self, name: str) -> None:
        """A tier a client names (header or metadata) must be one of this gateway's: a 400 otherwise."""
        if name not in self.tiers:
            raise InvalidRequest(
                f"unknown tier {name!r}; this gateway has {', '.join(self.tiers)}", param="x-edgecloud-tier"
            )

    def tenant_chains(self) -> list[PlacementChain]:
        """The chains built for tenants' own privacy modes (each a copy of the main chain's policies)."""
        return [chain for chain, _ in self._tenant_chains.values()]

    def _chain_for(self, privacy_mode: str | None) -> tuple[PlacementChain, PrivacyPolicy | None]:
        if privacy_mode is None or self.privacy is None or privacy_mode == self.privacy.mode:
            return self.chain, self.privacy
        if privacy_mode not in self._tenant_chains:
            settings = {**self.topology.policy_settings}
            settings["privacy"] = {**settings.get("privacy", {}), "mode": privacy_mode}
            chain = build_chain(self.topology.policies, settings)
            privacy = next(p for p in chain.policies if isinstance(p, PrivacyPolicy))
            self._bind_routers(chain, strict=False)
            self._tenant_chains[privacy_mode] = (chain, privacy)
        return self._tenant_chains[privacy_mode]

    def _bind_routers(self, chain: PlacementChain, *, strict: bool) -> None:
        """The router policy needs the pair of chat models the tiers serve: configured ones are known at
        construction (a router file for another pair stops the gateway there, with the reason); a pair
        only discovered at start leaves a mismatched router out, with an error in the log."""
        pair = tuple(t.model_for("chat") if (t := self.tiers.get(n)) else None for n in ("edge", "cloud"))
        if strict and None in pair:
            return
        for policy in chain.policies:
            if not isinstance(policy, RouterPolicy):
                continue
            try:
                policy.bind(pair[0], pair[1])
            except InvalidRequest as exc:
                if strict:
                    raise
                log.error("router left out: %s", exc.message)
                policy.router = None
            found = f"threshold {policy.threshold:.3f}" if policy.router else "none for the pair: abstains"
            log.info("router for edge %s, cloud %s: %s", pair[0], pair[1], found)

    def payload_for(
        self, placement: Placement, inbound: Inbound, *, logprobs: bool = False
    ) -> Callable[[str], bytes]:
        def payload(tier: str) -> bytes:
            source = inbound
            if placement.redactor is not None and placement.redacts_for(tier):
                source = redacted(inbound, placement.redactor)
            return tier_payload(
                source, placement.models.get(tier, inbound.model), want_usage=True, want_logprobs=logprobs
            )

        return payload

    def account(self, record: DecisionRecord) -> float:
        """Cost, metrics and the decision log once an answer is complete; returns the cost."""
        tier = self.tiers.get(record.tier)
        cost = 0.0
        if tier is not None:
            price = tier.config.price
            cost = (
                record.prompt_tokens / 1000 * price.input_per_1k
                + record.completion_tokens / 1000 * price.output_per_1k
            )
            self.costs.add(record.tier, cost)
            if cost:
                self.metrics.child(self.metrics.cost, record.tier).inc(cost)
        metrics = self.metrics
        metrics.child(metrics.requests, record.tier, record.model, str(record.status)).inc()
        metrics.child(metrics.tokens, record.tier, "prompt").inc(record.prompt_tokens)
        metrics.child(metrics.tokens, record.tier, "completion").inc(record.completion_tokens)
        self.feed.observe(record)
        if self.log.enabled:
            features = self._placed.pop(record.request_id, None)
            self.log.write(replace(record, cost=cost, placement=features))
        return cost

    def _view(self, inbound: Inbound, tier_header: str | None) -> RequestView:
        meta = inbound.metadata
        hint = tier_header or meta.get("tier")
        if hint is not None:
            self.check_tier_name(hint)
        text = inbound.text()
        max_tokens = inbound.body.get("max_tokens") or inbound.body.get("max_completion_tokens")
        return RequestView(
            kind=inbound.kind,
            model=inbound.model,
            text=text,
            prompt_tokens=estimate_tokens(text),
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
            stream=inbound.stream,
            tier_hint=hint,
            task=meta.get("task") or task_alias(inbound.model),
            privacy_hint=meta.get("privacy"),
            wants_logprobs=inbound.client_wants_logprobs(),
        )

    def _model_on(self, tier: Tier, requested: str, kind: str) -> str:
        if requested != AUTO:
            return requested
        return tier.model_for(kind) or AUTO

    def _pin_to_model(self, decision: Decision, model: str) -> Decision:
        """A concrete model that only one tier serves decides the tier (privacy permitting)."""
        serving = [name for name, tier in self.tiers.items() if tier.serves(model)]
        known = any(u.models for tier in self.tiers.values() for u in tier.upstreams)
        if not serving:
            if known:
                raise ModelNotFound(
                    f"The model '{model}' is not served by any tier; use 'auto' or one of "
                    f"{', '.join(self.model_ids())}",
                    param="model",
                )
            return decision  # nothing discovered yet: let the upstream judge
        if decision.tier in serving:
            return decision
        if decision.pinned:
            raise Forbidden(
                f"model {model!r} is only served by {', '.join(serving)}, but {decision.reason}",
                param="model",
                code="placement_conflict",
            )
        return Decision(serving[0], "model", f"only the {serving[0]} tier serves {model}", pinned=True)

    def model_ids(self) -> list[str]:
        ids: list[str] = []
        for tier in self.tiers.values():
            for upstream in tier.upstreams:
                ids += [str(m["id"]) for m in upstream.models if m["id"] not in ids]
        return ids
