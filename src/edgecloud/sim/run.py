"""One simulation run end to end: the seeded fleet and workload, the engine, the fleet model, and the
summary figures the report and the planner read."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgecloud.sim.engine import Engine
from edgecloud.sim.fleet import FleetSim, Outcome
from edgecloud.sim.scenario import Scenario
from edgecloud.sim.summary import summarise
from edgecloud.sim.workload import Workload, build_fleet, build_workload, busiest_window, window


@dataclass
class SimResult:
    scenario: Scenario
    workload: Workload
    outcome: Outcome
    summary: dict[str, Any]
    sim: FleetSim


def simulate(
    scenario: Scenario,
    *,
    requests: int | None = None,
    progress: Callable[[int], None] | None = None,
    memoise: bool = True,
) -> SimResult:
    """`requests`: fewer than the scenario's are its busiest stretch of that many consecutive requests
    (capacity is planned for the peak, and a diurnal day keeps its shape); more stretch the duration
    at the same rate. `memoise=False` asks the policy chain for every request (to check the memo)."""
    started = time.perf_counter()
    total = requests or scenario.requests
    if total > scenario.requests:
        scale = total / scenario.requests
        scenario = scenario.model_copy(update={"requests": total, "duration_s": scenario.duration_s * scale})
    rng = np.random.default_rng(scenario.seed)
    fleet = build_fleet(scenario, rng)
    workload = build_workload(scenario, fleet, rng, scenario.requests)
    if total < scenario.requests and not scenario.closed_users:
        workload = busiest_window(workload, total)
        span = float(workload.time[-1]) if total > 1 else 1.0
        scenario = scenario.model_copy(update={"requests": total, "duration_s": max(span, 1e-3)})
    elif total < scenario.requests:
        workload = window(workload, 0, total)
        scenario = scenario.model_copy(update={"requests": total})
    drawn = time.perf_counter()
    engine = Engine()
    sim = FleetSim(scenario, fleet, workload, engine)
    sim.placer.memoise = sim.placer.memoise and memoise
    outcome = sim.run(progress)
    ran = time.perf_counter()
    summary = summarise(scenario, workload, outcome, sim)
    summary["run"] = {
        "requests": total,
        "events": engine.events,
        "wall_s": round(ran - started, 3),
        "workload_s": round(drawn - started, 3),
        "events_per_s": round(engine.events / max(ran - drawn, 1e-9)),
        "placement_calls": sim.placer.calls,
        "chain_evaluations": sim.placer.misses,
        "memoised": sim.placer.memoise,
    }
    return SimResult(scenario, workload, outcome, summary, sim)
