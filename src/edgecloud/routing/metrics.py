"""RouteLLM's measures of a router, on items both tiers answered: send the items a router ranks most
cloud-worthy to the cloud, a growing share at a time, and read the pooled quality at each share.

- PGR(share) = (quality - edge-only) / (cloud-only - edge-only): the part of the gap recovered.
- APGR: the area under PGR over cloud share 0..1 (trapezoid over every item count). Random routing's
  expected curve is the straight line, so its APGR is exactly 0.5; the oracle's can pass 1 where the
  edge beats the cloud on some items.
- CPT(x): the smallest cloud share whose PGR reaches x (RouteLLM's "call-performance threshold")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgecloud.routing.pairs import Pair

Scores = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Curve:
    name: str
    shares: tuple[float, ...]  # 0, 1/n, ..., 1
    quality: tuple[float, ...]  # pooled mean score with that share of items on the cloud
    edge_quality: float
    cloud_quality: float

    @property
    def gap(self) -> float:
        return self.cloud_quality - self.edge_quality

    def pgr(self) -> np.ndarray:
        if abs(self.gap) < 1e-12:
            return np.ones(len(self.quality))
        return (np.asarray(self.quality) - self.edge_quality) / self.gap

    def apgr(self) -> float:
        pgr, shares = self.pgr(), np.asarray(self.shares)
        return float(np.sum((pgr[1:] + pgr[:-1]) / 2 * np.diff(shares)))

    def cpt(self, recovered: float) -> float | None:
        reached = np.flatnonzero(self.pgr() >= recovered - 1e-9)
        return float(self.shares[reached[0]]) if len(reached) else None

    def quality_at(self, share: float) -> float:
        return float(np.interp(share, self.shares, self.quality))

    def summary(self) -> dict[str, float | None]:
        return {
            "apgr": self.apgr(),
            "cpt50": self.cpt(0.5),
            "cpt80": self.cpt(0.8),
            "quality_at_50pct": self.quality_at(0.5),
            "edge_quality": self.edge_quality,
            "cloud_quality": self.cloud_quality,
        }


def quality_by_share(
    edge: Sequence[float] | np.ndarray,
    cloud: Sequence[float] | np.ndarray,
    priority: Sequence[float] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shares 0..1, pooled quality, escalation order) when items go to the cloud in order of priority
    (highest first; ties keep item order): the one computation behind every routing curve."""
    if not len(edge) == len(cloud) == len(priority):
        raise ValueError("one edge score, cloud score and priority per item")
    if not len(edge):
        raise ValueError("no items to draw a curve from")
    e, c = np.asarray(edge, dtype=float), np.asarray(cloud, dtype=float)
    order = np.argsort(-np.asarray(priority, dtype=float), kind="stable")
    gains = np.concatenate([[0.0], np.cumsum((c - e)[order])])
    n = len(e)
    return np.arange(n + 1) / n, (e.sum() + gains) / n, order


def curve(name: str, pairs: Sequence[Pair], priority: Scores) -> Curve:
    """Escalate in order of priority (highest first; ties keep item order)."""
    edge = np.array([p.edge for p in pairs])
    cloud = np.array([p.cloud for p in pairs])
    shares, quality, _ = quality_by_share(edge, cloud, priority)
    return Curve(
        name, tuple(shares.tolist()), tuple(quality.tolist()), float(edge.mean()), float(cloud.mean())
    )


def random_curve(pairs: Sequence[Pair]) -> Curve:
    """The expected curve of escalating a random share: the straight line from edge-only to cloud-only."""
    n = len(pairs)
    edge = float(np.mean([p.edge for p in pairs]))
    cloud = float(np.mean([p.cloud for p in pairs]))
    shares = np.arange(n + 1) / n
    return Curve(
        "random", tuple(shares.tolist()), tuple((edge + shares * (cloud - edge)).tolist()), edge, cloud
    )


def oracle_curve(pairs: Sequence[Pair]) -> Curve:
    """Knowing both answers: the items where the cloud gains most go first."""
    return curve("oracle", pairs, [p.gain for p in pairs])


def cascade_curve(pairs: Sequence[Pair]) -> Curve:
    """The log-probability cascade: the edge's least confident answers go first (it needs the edge's
    answer before deciding; a pre-generation router does not)."""
    return curve(
        "cascade (edge logprob)", pairs, [-p.signal if p.signal is not None else np.inf for p in pairs]
    )
