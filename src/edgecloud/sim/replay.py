"""Replaying a real gateway's decision log through the simulator's placement: each line's recorded
request features and tier states, mapped to the simulator's discretised inputs, through SimPlacer
(the gateway's chain, memoised), compared with the decision the gateway made. Also through the chain
on the exact recorded inputs, which must agree always."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgecloud.gateway.decisions import replay_inputs
from edgecloud.gateway.placement import Decision, RequestView, TierStates
from edgecloud.gateway.policies import build_chain, place_request, privacy_of
from edgecloud.sim.placer import CloudKey, EdgeKey, RequestKey, SimPlacer, to_steps
from edgecloud.sim.scenario import Gateway

NOT_REPLAYABLE = frozenset({"model", "scope"})  # pins after the chain, from model lists and API keys


@dataclass
class ReplayReport:
    total: int = 0
    skipped: int = 0  # lines without placement features, or decided after the chain (model pins)
    same_simulated: int = 0  # tier, policy, pinned and cascade equal through SimPlacer
    same_exact: int = 0  # the whole decision, reason text included, through the chain on exact inputs
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def replayed(self) -> int:
        return self.total - self.skipped

    @property
    def agreement(self) -> float:
        return self.same_simulated / self.replayed if self.replayed else 0.0

    @property
    def exact_agreement(self) -> float:
        return self.same_exact / self.replayed if self.replayed else 0.0


def simulated_keys(view: RequestView, states: TierStates) -> tuple[RequestKey, EdgeKey, CloudKey]:
    """A recorded placement's inputs as the simulator discretises them."""
    edge, cloud = states.get(states.edge), states.get(states.cloud)
    context = edge.context_length or 0
    needed = view.prompt_tokens + (view.max_tokens or 0)
    request: RequestKey = (
        view.kind,
        view.stream,
        view.task,
        view.privacy_hint,
        view.tier_hint,
        view.pii or (),
        view.prompt_tokens if context and needed > context else 0,
        view.max_tokens or 0,
    )
    edge_key: EdgeKey = (
        edge.available,
        edge.overloaded,
        edge.queue_depth,
        to_steps(edge.ewma_ttft),
        context,
        edge.reason_down,
        to_steps(edge.rtt),
    )
    cloud_key: CloudKey = (
        cloud.available,
        cloud.overloaded,
        cloud.queue_depth,
        to_steps(cloud.ewma_ttft),
        to_steps(cloud.rtt),
        0,
        cloud.reason_down,
    )
    return request, edge_key, cloud_key


def _same(a: Decision, b: Decision) -> bool:
    return (a.tier, a.policy, a.pinned, a.cascade) == (b.tier, b.policy, b.pinned, b.cascade)


def replay_log(path: Path, policies: list[str], settings: dict[str, dict[str, Any]]) -> ReplayReport:
    """`policies` and `settings`: the gateway topology's, as it ran."""
    chain = build_chain(policies, settings)
    privacy = privacy_of(chain)
    placer: SimPlacer | None = None
    report = ReplayReport()
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if "event" in record:
            continue  # an operator's change at run time, not an answer
        report.total += 1
        features = record.get("placement")
        if features is None or features["decision"]["policy"] in NOT_REPLAYABLE:
            report.skipped += 1
            continue
        view, states, recorded = replay_inputs(features)
        if placer is None:
            cloud = states.get(states.cloud)
            placer = SimPlacer(
                Gateway(policies=policies, policy_settings=settings),
                (cloud.price_in, cloud.price_out),
                cloud.context_length,
            )
        exact = place_request(chain, privacy, view, states)
        report.same_exact += exact == recorded
        request, edge_key, cloud_key = simulated_keys(view, states)
        cloud_key = (*cloud_key[:5], placer.spend_step(states.get(states.cloud).spend), cloud_key[6])
        simulated = placer.place(request, edge_key, cloud_key, states.now).decision
        if _same(simulated, recorded):
            report.same_simulated += 1
        elif len(report.mismatches) < 20:
            report.mismatches.append({"recorded": recorded.__dict__, "simulated": simulated.__dict__})
    return report
