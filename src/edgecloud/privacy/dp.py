"""Differentially private telemetry: what an edge device reports upstream (requests per tier and
policy, a latency histogram, the escalation rate) is released through OpenDP's Laplace or Gaussian
mechanism, and an accountant that persists on the device refuses releases past its budget.

Each request adds one to exactly one tier/policy count, one latency bin and at most one escalation, so
every released vector has L1 (and L2) sensitivity 1; the release's epsilon is split evenly over the
three vectors (basic composition), and the accountant composes releases the same way."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecloud.errors import EdgecloudError

LATENCY_BINS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)


class BudgetExceeded(EdgecloudError):
    status = 403
    error_type = "privacy_budget_exceeded"
    default_code = "privacy_budget_exceeded"


@dataclass
class PrivacyAccountant:
    """Sequential composition of (epsilon, delta) across releases, kept in a small JSON file."""

    epsilon_budget: float
    delta_budget: float = 0.0
    state: Path | None = None
    spent_epsilon: float = 0.0
    spent_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.state is not None and self.state.is_file():
            data = json.loads(self.state.read_text())
            self.spent_epsilon, self.spent_delta = float(data["epsilon"]), float(data["delta"])

    def charge(self, epsilon: float, delta: float = 0.0) -> None:
        """Records a release, or refuses it (nothing is spent) when it would pass the budget."""
        if epsilon <= 0 or delta < 0:
            raise ValueError("epsilon must be > 0 and delta >= 0")
        if (
            self.spent_epsilon + epsilon > self.epsilon_budget + 1e-12
            or self.spent_delta + delta > self.delta_budget + 1e-15
        ):
            raise BudgetExceeded(
                f"release of (epsilon={epsilon:g}, delta={delta:g}) refused: spent ({self.spent_epsilon:g}, "
                f"{self.spent_delta:g}) of the budget ({self.epsilon_budget:g}, {self.delta_budget:g})"
            )
        self.spent_epsilon += epsilon
        self.spent_delta += delta
        if self.state is not None:
            self.state.parent.mkdir(parents=True, exist_ok=True)
            self.state.write_text(json.dumps({"epsilon": self.spent_epsilon, "delta": self.spent_delta}))


def noisy_vector(
    values: Sequence[float],
    *,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
    sensitivity: float = 1.0,
) -> list[float]:
    """values + noise calibrated to (epsilon, delta) for the given L1 (Laplace) or L2 (Gaussian)
    sensitivity, sampled by OpenDP (floating-point-safe samplers)."""
    import opendp.prelude as dp

    dp.enable_features("contrib")
    domain = dp.vector_domain(dp.atom_domain(T=float, nan=False))
    if mechanism == "laplace":
        measurement = dp.m.make_laplace(domain, dp.l1_distance(T=float), scale=sensitivity / epsilon)
    elif mechanism == "gaussian":
        if not 0 < delta < 1:
            raise ValueError("the Gaussian mechanism needs 0 < delta < 1")

        def make(scale: float) -> Any:
            gaussian = dp.m.make_gaussian(domain, dp.l2_distance(T=float), scale=scale)
            return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gaussian), delta)

        scale = dp.binary_search_param(make, d_in=sensitivity, d_out=(epsilon, delta))
        measurement = make(scale)
    else:
        raise ValueError("mechanism must be 'laplace' or 'gaussian'")
    return [float(v) for v in measurement([float(v) for v in values])]


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Exact telemetry from decision-log records (stays on the device)."""
    placements: Counter[str] = Counter()
    latency = [0] * len(LATENCY_BINS_S)
    escalated = 0
    for record in records:
        placements[f"{record.get('tier')}/{record.get('policy')}"] += 1
        seconds = float(record.get("latency_s", 0.0))
        latency[next(i for i, edge in enumerate(LATENCY_BINS_S) if seconds <= edge)] += 1
        escalated += bool(record.get("escalated"))
    return {"placements": dict(placements), "latency_hist": latency, "escalated": escalated}


def release(
    records: Iterable[dict[str, Any]],
    accountant: PrivacyAccountant,
    *,
    epsilon: float,
    delta: float = 0.0,
    mechanism: str = "laplace",
) -> dict[str, Any]:
    """The noisy telemetry, after the accountant agreed to (epsilon, delta)."""
    accountant.charge(epsilon, delta)
    exact = summarize(records)
    share_eps, share_delta = epsilon / 3, delta / 3
    keys = sorted(exact["placements"])
    counts = (
        noisy_vector(
            [exact["placements"][k] for k in keys], epsilon=share_eps, delta=share_delta, mechanism=mechanism
        )
        if keys
        else []
    )
    hist = noisy_vector(exact["latency_hist"], epsilon=share_eps, delta=share_delta, mechanism=mechanism)
    escalated = noisy_vector([exact["escalated"]], epsilon=share_eps, delta=share_delta, mechanism=mechanism)[
        0
    ]
    total = max(sum(max(c, 0.0) for c in counts), 1.0)
    return {  # clamping and ratios are post-processing: they cost no privacy
        "mechanism": mechanism,
        "epsilon": epsilon,
        "delta": delta,
        "placements": {k: round(max(c, 0.0), 2) for k, c in zip(keys, counts, strict=True)},
        "latency_hist": {
            ("inf" if math.isinf(b) else f"<={b:g}s"): round(max(c, 0.0), 2)
            for b, c in zip(LATENCY_BINS_S, hist, strict=True)
        },
        "escalation_rate": round(min(max(escalated, 0.0) / total, 1.0), 4),
        "budget": {
            "spent_epsilon": accountant.spent_epsilon,
            "epsilon": accountant.epsilon_budget,
            "spent_delta": accountant.spent_delta,
            "delta": accountant.delta_budget,
        },
    }
