"""Training and judging the quality router on paired labels.

Training sees the train split only: each candidate model is scored by 5-fold cross-validation there,
repeated three times (mean APGR of its out-of-fold scores); the candidates within one standard error of
the best (bootstrap over items) count as tied and the preferred one of them is refitted on the whole
train split; its threshold is calibrated on the same out-of-fold scores for a target share of the
cloud's quality (within a cap on cloud calls). The test split is read once, at the end, for every
candidate beside random routing, the log-probability cascade and the oracle — so the report shows how
the choice would have come out, not only the winner."""

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
REPEATS = 3  # 5-fold cross-validation, repeated with other folds
# Among candidates within one standard error of the best, the first of these wins (the one-standard-error
# rule): a probability that the edge suffices reads plainly as a threshold; neighbours and a gain
# regression come next, the MLP last.
PREFERENCE = ("logistic", "knn", "ridge-gain", "mlp")


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
    max_share: float = 1.0,
    seed: int = 0,
) -> Trained:
    train = split(pairs, "train")
    x = embedder([p.text for p in train])
    cv: dict[str, float] = {}
    oof: dict[str, np.ndarray] = {}
    for kind in kinds:
        runs = [out_of_fold(kind, x, train, seed=seed + r) for r in range(REPEATS)]
        cv[kind] = float(np.mean([curve(kind, train, -run).apgr() for run in runs]))
        oof[kind] = np.mean(runs, axis=0)
    best = max(cv, key=lambda k: cv[k])
    margin = apgr_standard_error(train, oof[best], seed)
    chosen = next(k for k in (*PREFERENCE, *cv) if k in cv and cv[k] >= cv[best] - margin)
    samples = [Sample(score, p.edge, p.cloud) for score, p in zip(oof[chosen], train, strict=True)]
    calibration = choose_threshold(samples, target, max_share)
    candidates = {kind: fit(kind, x, train, seed) for kind in kinds}
    threshold = share_threshold(candidates[chosen].scores(x), calibration.chosen.cloud_share)
    info = {
        **meta,
        "threshold": threshold,
        "target": target,
        "max_cloud_share": max_share,
        "train_items": len(train),
        "cv_apgr": cv,
        "cv_apgr_standard_error": margin,
        "calibrated_cloud_share": calibration.chosen.cloud_share,
        "trained": f"{chosen}: repeated 5-fold cross-validated APGR on the train split, one-SE rule",
    }
    return Trained(candidates[chosen], info, candidates)


def share_threshold(scores: np.ndarray, share: float) -> float:
    """The score under which `share` of the training items fall. The share is what calibration chose on
    out-of-fold scores; the refitted model's scores sit elsewhere on the scale, so its threshold is
    placed to escalate the same share rather than copied."""
    if share <= 0:
        return float(scores.min() - 1.0)
    if share >= 1:
        return float(scores.max() + 1.0)
    ordered = np.sort(scores)
    k = round(share * len(ordered))
    return float((ordered[k - 1] + ordered[k]) / 2) if 0 < k < len(ordered) else float(ordered[k])


def apgr_standard_error(pairs: Sequence[Pair], scores: np.ndarray, seed: int, resamples: int = 200) -> float:
    """How much a router's APGR moves when other items of the same kind are drawn (bootstrap)."""
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        index = rng.integers(0, len(pairs), len(pairs))
        sample = [pairs[i] for i in index]
        if abs(np.mean([p.gain for p in sample])) > 1e-9:
            values.append(curve("bootstrap", sample, -scores[index]).apgr())
    return float(np.std(values)) if values else 0.0


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
        differ = abs(router.gap) > 1e-12  # no gap, nothing to recover: APGR is undefined
        rows.append(
            {
                "suite": suite,
                "n": len(items),
                "edge": router.edge_quality,
                "cloud": router.cloud_quality,
                "tiers_differ": bool(difference.significant),
                "p_value": difference.p_value,
                "router_apgr": router.apgr() if differ else None,
                "cascade_apgr": cascade_curve(items).apgr() if differ else None,
                "oracle_apgr": oracle_curve(items).apgr() if differ else None,
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
