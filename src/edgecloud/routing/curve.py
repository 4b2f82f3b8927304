"""The cascade trade-off: with the edge's answers, the cloud's answers and an edge confidence signal
per item, escalating the least confident share s of items to the cloud gives one point (s, accuracy);
the curve over all s is what a threshold buys. Random routing (escalate a random share s) is the
baseline: its expected accuracy is the straight line between edge-only and cloud-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgecloud.errors import InvalidRequest
from edgecloud.eval.harness import Record
from edgecloud.routing.calibrate import Sample
from edgecloud.routing.metrics import quality_by_share
from edgecloud.routing.pairs import both_scored


@dataclass(frozen=True)
class TradeoffPoint:
    cloud_share: float
    accuracy: float
    random_baseline: float
    threshold: float | None  # escalate when the edge's signal is below this


@dataclass(frozen=True)
class Tradeoff:
    method: str
    signal: str
    edge_accuracy: float
    cloud_accuracy: float
    points: tuple[TradeoffPoint, ...]

    def at_share(self, share: float) -> TradeoffPoint:
        """The point with at most `share` of items sent to the cloud."""
        eligible = [p for p in self.points if p.cloud_share <= share + 1e-9]
        return eligible[-1]

    def share_for(self, quality: float) -> TradeoffPoint | None:
        """The fewest cloud calls that reach `quality` x the cloud-only accuracy."""
        goal = quality * self.cloud_accuracy
        return next((p for p in self.points if p.accuracy >= goal - 1e-9), None)


def pair_records(
    edge: Sequence[Record], cloud: Sequence[Record], method: str, signal: str
) -> list[tuple[float, float, float]]:
    """(edge signal, edge score, cloud score) for items both tiers answered and scored."""
    return [
        (mine.confidence[signal], mine.scores[method], other.scores[method])
        for mine, other in both_scored(edge, cloud, method)
        if signal in mine.confidence
    ]


def tradeoff(edge: Sequence[Record], cloud: Sequence[Record], method: str, signal: str) -> Tradeoff:
    rows = pair_records(edge, cloud, method, signal)
    if not rows:
        raise ValueError(f"no item has both tiers' {method!r} score and the edge's {signal!r} signal")
    signals, edge_scores, cloud_scores = (np.array(column, dtype=float) for column in zip(*rows, strict=True))
    # the least confident items go to the cloud first
    shares, quality, order = quality_by_share(edge_scores, cloud_scores, -signals)
    edge_acc, cloud_acc = float(edge_scores.mean()), float(cloud_scores.mean())
    thresholds = [float(signals[i]) for i in order] + [None]  # escalate below the k-th item's signal
    points = tuple(
        TradeoffPoint(float(share), float(q), (1 - share) * edge_acc + share * cloud_acc, threshold)
        for share, q, threshold in zip(shares, quality, thresholds, strict=True)
    )
    return Tradeoff(method, signal, edge_acc, cloud_acc, points)


def samples_from_eval(folder: Path, score: str = "mean") -> list[Sample]:
    """`edgecloud calibrate --from-eval`: an eval run's per-item edge confidence and both tiers'
    correctness, as calibration samples (the gateway's cascade reads the same mean/min token logprob)."""
    from edgecloud.eval.records import read_records

    edge_file, cloud_file = folder / "records.jsonl", folder / "records-cloud.jsonl"
    if not edge_file.is_file() or not cloud_file.is_file():
        raise InvalidRequest(f"{folder} has no records.jsonl and records-cloud.jsonl (run eval with --cloud)")
    edge, cloud = read_records(edge_file), read_records(cloud_file)
    method = next(
        (m for m in ("letter", "exact", "chrf", "classify") if any(m in r.scores for r in edge)), None
    )
    if method is None:
        raise InvalidRequest(f"{folder}: no scored items to calibrate on")
    signal = "max_prob" if method == "classify" else f"{score}_logprob"
    rows = pair_records(edge, cloud, method, signal)
    return [Sample(signal, edge_score >= 0.5, cloud_score >= 0.5) for signal, edge_score, cloud_score in rows]
