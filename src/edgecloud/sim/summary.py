"""The figures a run produces (report.json): latency distributions per tier, SLO attainment, cloud
utilisation and queueing, cost, energy per device class and the share of requests per placement
reason. Reasons carry measured figures ("predicted TTFT edge 312 ms, ..."), so they are grouped with
their numbers masked."""

from __future__ import annotations

import re
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from edgecloud.sim.fleet import CLOUD, EDGE, FAILED, Outcome
from edgecloud.sim.scenario import Scenario
from edgecloud.sim.workload import Workload

if TYPE_CHECKING:
    from edgecloud.sim.fleet import FleetSim

PERCENTILES = (50, 90, 95, 99)
TIER_NAMES = {EDGE: "edge", CLOUD: "cloud"}


def distribution(seconds: NDArray[np.float64]) -> dict[str, float | None]:
    values = seconds[~np.isnan(seconds)]
    if not len(values):
        return {"count": 0, "mean_ms": None, **{f"p{p}_ms": None for p in PERCENTILES}}
    cuts = np.percentile(values, PERCENTILES)
    figures: dict[str, float | None] = {
        "count": len(values),
        "mean_ms": round(float(values.mean()) * 1e3, 2),
    }
    figures.update({f"p{p}_ms": round(float(c) * 1e3, 2) for p, c in zip(PERCENTILES, cuts, strict=True)})
    return figures


def summarise(scenario: Scenario, workload: Workload, outcome: Outcome, sim: FleetSim) -> dict[str, Any]:
    n = len(workload)
    tiers = {
        name: {
            "requests": int((outcome.tier == code).sum()),
            "share": round(float((outcome.tier == code).mean()), 5),
            "ttft": distribution(outcome.ttft[outcome.tier == code]),
            "e2e": distribution(outcome.e2e[outcome.tier == code]),
        }
        for code, name in TIER_NAMES.items()
    }
    return {
        "scenario": scenario.name,
        "requests": n,
        "devices": int(sum(d.count for d in scenario.devices)),
        "duration_s": scenario.duration_s,
        "all": {"ttft": distribution(outcome.ttft), "e2e": distribution(outcome.e2e)},
        "tiers": tiers,
        "failed": int((outcome.tier == FAILED).sum()),
        "escalated": int(outcome.escalated.sum()),
        "failovers": int(outcome.failover.sum()),
        "slo": _slo(scenario, outcome),
        "cloud": _cloud(scenario, outcome, sim),
        "cost": _cost(scenario, workload, outcome, sim),
        "energy": _energy(scenario, workload, outcome),
        "placements": _placements(outcome, sim),
    }


def _slo(scenario: Scenario, outcome: Outcome) -> dict[str, Any]:
    slo = scenario.slo
    met = np.nan_to_num(outcome.ttft, nan=np.inf) <= slo.ttft_ms / 1e3
    figures: dict[str, Any] = {"ttft_ms": slo.ttft_ms, "ttft_attainment": round(float(met.mean()), 5)}
    for code, name in TIER_NAMES.items():
        rows = outcome.tier == code
        figures[f"{name}_ttft_attainment"] = round(float(met[rows].mean()), 5) if rows.any() else None
    if slo.e2e_ms is not None:
        e2e_met = np.nan_to_num(outcome.e2e, nan=np.inf) <= slo.e2e_ms / 1e3
        figures |= {"e2e_ms": slo.e2e_ms, "e2e_attainment": round(float(e2e_met.mean()), 5)}
    return figures


def _cloud(scenario: Scenario, outcome: Outcome, sim: FleetSim) -> dict[str, Any]:
    cloud = sim.cloud
    end = max(sim.engine.now, scenario.duration_s)
    hours = cloud.replica_hours(end)
    busy = sum(cloud.stats.busy_s) / max(hours * 3600, 1e-9)
    concurrency = sum(cloud.stats.sequence_s) / max(hours * 3600, 1e-9)
    waits = outcome.cloud_wait[~np.isnan(outcome.cloud_wait)]
    queue = np.array([q for _, q, _, _ in outcome.queue_samples] or [0])
    return {
        "replicas_start": scenario.cloud.replicas,
        "replicas_end": cloud.replicas,
        "replica_hours": round(hours, 4),
        "utilisation": round(busy, 4),  # share of replica time with a sequence running
        "mean_concurrency": round(concurrency, 3),
        "batch_occupancy": round(concurrency / scenario.cloud.max_batch, 4),
        "queue_wait": distribution(waits),
        "p_wait": round(float((waits > 1e-9).mean()), 5) if len(waits) else None,
        "queue_mean": round(float(queue.mean()), 3),
        "queue_max": int(cloud.stats.max_queue),
        "rejected_429": cloud.stats.rejected,
        "queue_series": [
            [round(t, 1), q, r, b] for t, q, r, b in outcome.queue_samples[:: max(1, len(queue) // 400)]
        ],
    }


def _cost(scenario: Scenario, workload: Workload, outcome: Outcome, sim: FleetSim) -> dict[str, Any]:
    price = scenario.cloud.price
    cloud = outcome.tier == CLOUD
    tokens_in = int(workload.prompt_tokens[cloud].sum())
    tokens_out = int(workload.answer_tokens[cloud].sum())
    token_cost = tokens_in / 1000 * price.input_per_1k + tokens_out / 1000 * price.output_per_1k
    end = max(sim.engine.now, scenario.duration_s)
    replica_cost = sim.cloud.replica_hours(end) * price.replica_per_hour
    total = token_cost + replica_cost
    return {
        "cloud_tokens_in": tokens_in,
        "cloud_tokens_out": tokens_out,
        "tokens": round(token_cost, 4),
        "replicas": round(replica_cost, 4),
        "total": round(total, 4),
        "per_1k_requests": round(total / len(workload) * 1000, 6),
    }


def _energy(scenario: Scenario, workload: Workload, outcome: Outcome) -> dict[str, Any]:
    figures = {}
    for c, device in enumerate(scenario.devices):
        rows = (workload.device_class == c) & (outcome.tier == EDGE) | (
            (workload.device_class == c) & outcome.escalated
        )
        joules = float(outcome.edge_busy_s[rows].sum()) * device.active_power_w
        on_edge = int(rows.sum())
        figures[device.name] = {
            "edge_requests": on_edge,
            "joules": round(joules, 1),
            "kwh": round(joules / 3.6e6, 6),
            "joules_per_edge_request": round(joules / on_edge, 3) if on_edge else None,
            "joules_per_device": round(joules / device.count, 3),
        }
    return figures


def _placements(outcome: Outcome, sim: FleetSim) -> dict[str, Any]:
    decisions = sim.placer.decisions
    counts = np.bincount(outcome.decision, minlength=len(decisions))
    by_policy: Counter[str] = Counter()
    by_reason: Counter[tuple[str, str, str]] = Counter()
    for d, count in enumerate(counts.tolist()):
        if not count:
            continue
        decision = decisions[d]
        by_policy[f"{decision.policy} -> {decision.tier}"] += count
        by_reason[(decision.tier, decision.policy, re.sub(r"\d+(\.\d+)?", "#", decision.reason))] += count
    total = max(int(counts.sum()), 1)
    return {
        "by_policy": {key: round(value / total, 5) for key, value in by_policy.most_common()},
        "by_reason": [
            {"tier": t, "policy": p, "reason": r, "share": round(c / total, 5)}
            for (t, p, r), c in by_reason.most_common(20)
        ],
    }
