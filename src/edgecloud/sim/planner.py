"""Capacity planning: the cheapest configuration (cloud replicas, the cloud budget threshold the cost
policy enforces, and the policy order) whose simulated figures meet an SLO such as "p95_ttft<800ms".

For each policy order and budget the planner bisects the replica count: more replicas never make the
cloud slower, so the fewest that meet the SLO are the cheapest for that pair. Every candidate is a
full simulation run (on `requests` requests drawn from the same seed)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from edgecloud.errors import InvalidRequest
from edgecloud.sim.run import simulate
from edgecloud.sim.scenario import Scenario

_SLO = re.compile(
    r"^\s*(?P<metric>[a-z0-9_]+)\s*(?P<op><=|>=|<|>)\s*(?P<value>[0-9.]+)\s*(?P<unit>ms|s|%)?\s*$"
)
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
OBJECTIVES = ("cost", "p95_ttft", "replicas")


@dataclass(frozen=True)
class Constraint:
    metric: str  # e.g. p95_ttft, cloud_p99_e2e, ttft_attainment
    op: str
    value: float  # milliseconds for latencies, a share for attainment

    def holds(self, summary: dict[str, Any]) -> bool:
        found = metric(summary, self.metric)
        return found is not None and OPS[self.op](found, self.value)

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"


def parse_slo(text: str) -> list[Constraint]:
    """'p95_ttft<800ms,ttft_attainment>=0.9' -> constraints; latencies in ms (or s), shares as 0.9 or 90%."""
    constraints = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _SLO.match(part)
        if match is None:
            raise InvalidRequest(
                f"cannot read SLO {part!r}; write e.g. p95_ttft<800ms or ttft_attainment>0.95"
            )
        value = float(match["value"])
        value = value * 1000 if match["unit"] == "s" else value / 100 if match["unit"] == "%" else value
        constraint = Constraint(match["metric"], match["op"], value)
        if not _known(constraint.metric):
            raise InvalidRequest(
                f"unknown SLO metric {constraint.metric!r}: use p50, p90, p95 or p99 with _ttft or _e2e, "
                "or ttft_attainment, each optionally after edge_ or cloud_; e.g. p95_ttft<800ms"
            )
        constraints.append(constraint)
    if not constraints:
        raise InvalidRequest("the SLO is empty; write e.g. p95_ttft<800ms")
    return constraints


def _known(name: str) -> bool:
    return re.fullmatch(r"((edge|cloud)_)?(p(50|90|95|99)_(ttft|e2e)|ttft_attainment)", name) is not None


def metric(summary: dict[str, Any], name: str) -> float | None:
    """A figure from a run's summary by SLO name: p95_ttft (ms, all requests), cloud_p99_e2e, ..."""
    if name.endswith("ttft_attainment"):
        value = summary["slo"].get(name)
        return None if value is None else float(value)
    tier, _, rest = name.partition("_") if name.startswith(("edge_", "cloud_")) else ("", "", name)
    percentile, kind = rest.split("_")
    figures = summary["tiers"][tier][kind] if tier else summary["all"][kind]
    value = figures.get(f"{percentile}_ms")
    return None if value is None else float(value)


@dataclass
class Candidate:
    replicas: int
    policies: tuple[str, ...]
    budget: float | None
    summary: dict[str, Any]
    meets: bool

    def objective(self, name: str) -> float:
        if name == "replicas":
            return float(self.replicas)
        if name == "cost":
            return float(self.summary["cost"]["total"])
        return metric(self.summary, name) or float("inf")


def policy_orders(base: list[str]) -> list[tuple[str, ...]]:
    """The scenario's order, and the variants worth comparing: without latency, without cascade,
    and latency asked before task."""
    variants = [tuple(base)]
    for name in ("latency", "cascade"):
        if name in base:
            variants.append(tuple(p for p in base if p != name))
    if "latency" in base and "task" in base and base.index("latency") > base.index("task"):
        moved = [p for p in base if p != "latency"]
        moved.insert(moved.index("task"), "latency")
        variants.append(tuple(moved))
    if "cost" in base and "latency" in base and base.index("cost") > base.index("latency"):
        moved = [p for p in base if p != "cost"]
        moved.insert(moved.index("latency"), "cost")  # the budget can only bite before latency decides
        variants.append(tuple(moved))
    return list(dict.fromkeys(variants))


def budget_matters(order: tuple[str, ...]) -> bool:
    """The latency policy always has an opinion once both tiers are measured, so a budget checked
    after it never decides anything."""
    if "cost" not in order:
        return False
    return "latency" not in order or order.index("cost") < order.index("latency")


def configured(
    scenario: Scenario, replicas: int, policies: tuple[str, ...], budget: float | None
) -> Scenario:
    settings = {name: dict(values) for name, values in scenario.gateway.policy_settings.items()}
    cost = settings.setdefault("cost", {})
    cost.pop("cloud_budget", None)
    if budget is not None:
        cost["cloud_budget"] = budget
    cost.setdefault("period_s", scenario.duration_s)  # the budget covers the simulated span
    gateway = scenario.gateway.model_copy(update={"policies": list(policies), "policy_settings": settings})
    cloud = scenario.cloud.model_copy(update={"replicas": replicas, "max_replicas": None})
    return scenario.model_copy(update={"gateway": gateway, "cloud": cloud})


@dataclass(frozen=True)
class PlanSpace:
    max_replicas: int
    budgets: tuple[float | None, ...]
    orders: tuple[tuple[str, ...], ...]

    @property
    def pairs(self) -> Iterator[tuple[tuple[str, ...], float | None]]:
        for order in self.orders:
            for budget in self.budgets if budget_matters(order) else (None,):
                yield order, budget


def plan_space(scenario: Scenario, requests: int, max_replicas: int | None) -> PlanSpace:
    """Budgets as shares of what the scenario's own configuration spends on cloud tokens."""
    base = simulate(
        configured(scenario, max(scenario.cloud.replicas, 1), tuple(scenario.gateway.policies), None),
        requests=requests,
    )
    spent = float(base.summary["cost"]["tokens"])
    budgets: tuple[float | None, ...] = (None,)
    if "cost" in scenario.gateway.policies and spent > 0:
        budgets = (None, round(spent * 0.6, 6), round(spent * 0.3, 6))
    ceiling = max_replicas or max(4 * scenario.cloud.replicas, 8)
    return PlanSpace(ceiling, budgets, tuple(policy_orders(list(scenario.gateway.policies))))


def search(
    scenario: Scenario,
    slo: list[Constraint],
    *,
    requests: int,
    space: PlanSpace,
    on_run: Callable[[Candidate], None] | None = None,
) -> list[Candidate]:
    """Every candidate run, the fewest meeting replicas per (order, budget) found by bisection."""
    runs: list[Candidate] = []

    def run(replicas: int, order: tuple[str, ...], budget: float | None) -> Candidate:
        summary = simulate(configured(scenario, replicas, order, budget), requests=requests).summary
        candidate = Candidate(replicas, order, budget, summary, all(c.holds(summary) for c in slo))
        runs.append(candidate)
        if on_run is not None:
            on_run(candidate)
        return candidate

    for order, budget in space.pairs:
        low, high = 1, space.max_replicas
        if not run(high, order, budget).meets:
            continue  # not even the most replicas meet the SLO with this order and budget
        while low < high:
            middle = (low + high) // 2
            if run(middle, order, budget).meets:
                high = middle
            else:
                low = middle + 1
    return runs


def ranked(runs: list[Candidate], minimize: str) -> list[Candidate]:
    """Runs that meet the SLO, best first; ties go to fewer replicas, then the shorter policy list."""
    meeting = [c for c in runs if c.meets]
    return sorted(meeting, key=lambda c: (c.objective(minimize), c.replicas, len(c.policies)))
