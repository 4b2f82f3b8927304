"""The quality router (in the spirit of Hybrid LLM, ICLR'24, and RouteLLM): from the prompt's MiniLM
embedding alone, score how likely the edge's answer is as good as the cloud's, so a request is placed
before anything is generated (streaming included).

Four candidate models, all small enough to score a prompt in well under a millisecond once embedded:
logistic regression on "edge as good" labels, ridge regression on the cloud's gain, k nearest
neighbours (RouteLLM's similarity-weighted idea, unweighted), and the two-layer MLP the federated
trainer uses. Each is kept as plain arrays, so the gateway needs numpy only, not scikit-learn or torch.
A score is "edge suffices" (higher = edge); the gateway escalates below a threshold. Regularisation is
chosen by cross-validation on the training data; with a few hundred labels the strongly regularised
models win, the ones that mostly learn which kinds of prompt the cloud answers better."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edgecloud.routing.pairs import Pair

KINDS = ("logistic", "ridge-gain", "knn", "mlp")
TOLERANCE = 0.05  # on a 0-1 score: within this, the edge's answer counts as good as the cloud's


def labels(pairs: Sequence[Pair]) -> np.ndarray:
    """1 where the edge's answer is as good as the cloud's (both right, both wrong, or edge better)."""
    return np.array([p.edge >= p.cloud - TOLERANCE for p in pairs], dtype=np.int64)


def gains(pairs: Sequence[Pair]) -> np.ndarray:
    return np.array([p.gain for p in pairs], dtype=np.float64)


@dataclass(frozen=True)
class RouterModel:
    """A fitted router as arrays: `kind` says how `scores` reads them."""

    kind: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Edge-suffices score per row of x (embeddings)."""
        a = self.arrays
        if self.kind == "logistic":
            return _sigmoid(x @ a["w"] + a["b"])
        if self.kind == "ridge-gain":
            return -(x @ a["w"] + a["b"])
        if self.kind == "knn":
            k = int(a["k"])
            nearest = np.argsort(-(x @ a["x"].T), axis=1)[:, :k]
            return np.asarray(a["y"][nearest].mean(axis=1), dtype=np.float64)
        if self.kind == "mlp":
            hidden = np.maximum(x @ a["w1"].T + a["b1"], 0.0)
            return _sigmoid((hidden @ a["w2"].T + a["b2"]).ravel())
        raise ValueError(f"unknown router kind {self.kind!r}; known: {', '.join(KINDS)}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -50, 50))), dtype=np.float64)


def fit(kind: str, x: np.ndarray, pairs: Sequence[Pair], seed: int = 0) -> RouterModel:
    fitter = FITTERS.get(kind)
    if fitter is None:
        raise ValueError(f"unknown router kind {kind!r}; known: {', '.join(KINDS)}")
    return fitter(x, pairs, seed)


def _fit_logistic(x: np.ndarray, pairs: Sequence[Pair], seed: int) -> RouterModel:
    from sklearn.linear_model import LogisticRegressionCV

    y = labels(pairs)
    if len(set(y.tolist())) < 2:  # one class only: a constant score
        return RouterModel("logistic", {"w": np.zeros(x.shape[1]), "b": np.array(5.0 if y[0] else -5.0)})
    folds = max(2, min(3, int(np.bincount(y).min())))
    model = LogisticRegressionCV(  # the regularisation chosen by ranking (ROC AUC) on the training data
        Cs=[0.03, 0.1, 0.3, 1.0],
        cv=folds,
        scoring="roc_auc",
        class_weight="balanced",
        max_iter=2000,
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    ).fit(x, y)
    return RouterModel(
        "logistic", {"w": model.coef_[0].astype(np.float64), "b": np.array(model.intercept_[0])}
    )


def _fit_ridge(x: np.ndarray, pairs: Sequence[Pair], seed: int) -> RouterModel:
    from sklearn.linear_model import RidgeCV

    model = RidgeCV(alphas=[1.0, 3.0, 10.0, 30.0, 100.0]).fit(x, gains(pairs))  # leave-one-out choice
    return RouterModel(
        "ridge-gain", {"w": model.coef_.astype(np.float64), "b": np.array(float(model.intercept_))}
    )


def _fit_knn(x: np.ndarray, pairs: Sequence[Pair], seed: int) -> RouterModel:
    k = max(1, min(50, len(pairs) // 8))
    return RouterModel(
        "knn", {"x": x.astype(np.float32), "y": labels(pairs).astype(np.float32), "k": np.array(k)}
    )


def _fit_mlp(x: np.ndarray, pairs: Sequence[Pair], seed: int) -> RouterModel:
    from edgecloud.routing.router.model import get_weights, train_central

    net = train_central(x.astype(np.float32), labels(pairs), epochs=40, seed=seed)
    w1, b1, w2, b2 = (w.astype(np.float64) for w in get_weights(net))
    return RouterModel("mlp", {"w1": w1, "b1": b1, "w2": w2, "b2": b2})


FITTERS: dict[str, Callable[[np.ndarray, Sequence[Pair], int], RouterModel]] = {
    "logistic": _fit_logistic,
    "ridge-gain": _fit_ridge,
    "knn": _fit_knn,
    "mlp": _fit_mlp,
}


def out_of_fold(kind: str, x: np.ndarray, pairs: Sequence[Pair], folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each training item scored by a model that never saw it: what model choice and the threshold are
    picked on, so the held-out test split stays untouched until the end."""
    order = np.random.default_rng(seed).permutation(len(pairs))
    scores = np.zeros(len(pairs))
    for part in np.array_split(order, folds):
        rest = np.setdiff1d(order, part)
        model = fit(kind, x[rest], [pairs[i] for i in rest], seed)
        scores[part] = model.scores(x[part])
    return scores
