"""Training and judging the quality router on paired labels.

Training sees the train split only: each candidate model is scored by 5-fold cross-validation there
(APGR of its out-of-fold scores), the best is refitted on the whole train split, and its threshold is
calibrated on the same out-of-fold scores for a target share of the cloud's quality. The test split is
read once, at the end, for every candidate beside random routing, the log-probability cascade and the
oracle — so the report shows how the choice would have come out, not only the winner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgecloud.errors import InvalidRequest
from edgecloud.eval.scoring import paired_difference
from edgecloud.routing.calibrate import Sample, choose_threshold
from edgecloud.routing.metrics import Curve, cascade_curve, curve, oracle_curve, random_curve
from edgecloud.routing.pairs import Pair
from edgecloud.routing.router.quality import KINDS, RouterModel, fit, out_of_fold

Embedder = Callable[[Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Trained:
    model: RouterModel
    meta: dict[str, Any]
    candidates: dict[str, RouterModel]  # every kind, fitted on the whole train split


def split(pairs: Sequence[Pair], name: str) -> list[Pair]:
    chosen = [p for p in pairs if p.split == name]
    if len(chosen) < 10:
        raise InvalidRequest(
            f"only {len(chosen)} {name} pairs; label more items with `edgecloud router label`"
        )
    return chosen


def train_router(
    pairs: Sequence[Pair],
    embedder: Embedder,
    meta: dict[str, str],
    *,
    kinds: Sequence[str] = KINDS,
    target: float = 0.95,
    seed: int = 0,
) -> Trained:
    train = split(pairs, "train")
    x = embedder([p.text for p in train])
    cv: dict[str, float] = {}
    oof: dict[str, np.ndarray] = {}
    for kind in kinds:
        oof[kind] = out_of_fold(kind, x, train, seed=seed)
        cv[kind] = curve(kind, train, -oof[kind]).apgr()
    chosen = max(cv, key=lambda k: cv[k])
    samples = [Sample(score, p.edge, p.cloud) for score, p in zip(oof[chosen], train, strict=True)]
    calibration = choose_threshold(samples, target)
    candidates = {kind: fit(kind, x, train, seed) for kind in kinds}
    info = {
        **meta,
        "threshold": calibration.chosen.threshold,
        "target": target,
        "train_items": len(train),
        "cv_apgr": cv,
        "calibrated_cloud_share": calibration.chosen.cloud_share,
        "trained": f"{chosen}, chosen by 5-fold cross-validated APGR on the train split",
    }
    return Trained(candidates[chosen], info, candidates)


def test_curves(
    routers: dict[str, RouterModel], test: Sequence[Pair], x: np.ndarray
) -> tuple[list[Curve], dict[str, np.ndarray]]:
    """Every router's curve on the test pairs, then random, the cascade and the oracle."""
    scores = {name: model.scores(x) for name, model in routers.items()}
    curves = [curve(name, test, -s) for name, s in scores.items()]
    curves += [random_curve(test), cascade_curve(test), oracle_curve(test)]
    return curves, scores


def operating_point(test: Sequence[Pair], scores: np.ndarray, threshold: float) -> dict[str, float]:
    """What the shipped threshold does on held-out items: cloud share and quality against cloud-only."""
    escalate = scores < threshold
    quality = float(np.mean([p.cloud if e else p.edge for p, e in zip(test, escalate, strict=True)]))
    cloud = float(np.mean([p.cloud for p in test]))
    return {
        "threshold": threshold,
        "cloud_share": float(escalate.mean()),
        "quality": quality,
        "cloud_quality": cloud,
        "edge_quality": float(np.mean([p.edge for p in test])),
        "of_cloud_quality": quality / cloud if cloud else float("nan"),
    }


def per_suite(test: Sequence[Pair], scores: np.ndarray) -> list[dict[str, Any]]:
    """APGR within each suite (the router's scores ranked inside it) and whether the tiers differ there."""
    rows = []
    for suite in sorted({p.suite for p in test}):
        index = [i for i, p in enumerate(test) if p.suite == suite]
        items = [test[i] for i in index]
        difference = paired_difference([(p.edge, p.cloud) for p in items])
        router = curve("router", items, -scores[index])
        rows.append(
            {
                "suite": suite,
                "n": len(items),
                "edge": router.edge_quality,
                "cloud": router.cloud_quality,
                "tiers_differ": bool(difference.significant),
                "p_value": difference.p_value,
                "router_apgr": router.apgr() if abs(router.gap) > 1e-12 else None,
                "cascade_apgr": cascade_curve(items).apgr() if abs(router.gap) > 1e-12 else None,
                "oracle_apgr": oracle_curve(items).apgr() if abs(router.gap) > 1e-12 else None,
            }
        )
    return rows


def evaluate(
    chosen: str, routers: dict[str, RouterModel], threshold: float, pairs: Sequence[Pair], embedder: Embedder
) -> dict[str, Any]:
    """The held-out report: curves and RouteLLM's metrics for every router and baseline, the chosen
    router's operating point at its threshold, and its APGR suite by suite."""
    test = split(pairs, "test")
    x = embedder([p.text for p in test])
    curves, scores = test_curves(routers, test, x)
    return {
        "chosen": chosen,
        "test_items": len(test),
        "suites": sorted({p.suite for p in test}),
        "curves": {c.name: {**c.summary(), "shares": c.shares, "quality": c.quality} for c in curves},
        "operating_point": operating_point(test, scores[chosen], threshold),
        "per_suite": per_suite(test, scores[chosen]),
    }
