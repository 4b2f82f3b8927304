"""The router network and its training: a small MLP on MiniLM sentence embeddings that predicts
"the edge's answer will be good enough". Central training (no DP) is the reference the federated,
differentially private training is measured against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


class RouterNet(nn.Module):
    def __init__(self, dim: int = 384, hidden: int = 64) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x).squeeze(-1)


@dataclass(frozen=True)
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def split(x: np.ndarray, y: np.ndarray, test_share: float = 0.25, seed: int = 0) -> Split:
    """Stratified: both classes keep their share in the test set."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in (0, 1):
        index = np.flatnonzero(y == label)
        rng.shuffle(index)
        test[index[: round(len(index) * test_share)]] = True
    return Split(x[~test], y[~test], x[test], y[test])


def train_central(
    x: np.ndarray, y: np.ndarray, *, epochs: int = 60, lr: float = 0.01, seed: int = 0
) -> RouterNet:
    torch.manual_seed(seed)
    net = RouterNet(x.shape[1])
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=1e-4)
    features, labels = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        for batch in torch.randperm(len(labels)).split(32):
            optimizer.zero_grad()
            loss_fn(net(features[batch]), labels[batch]).backward()
            optimizer.step()
    return net


def accuracy(net: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with torch.no_grad():
        predicted = (net(torch.from_numpy(x)) > 0).numpy()
    return float((predicted == y.astype(bool)).mean())


def probabilities(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(x))).numpy()


def roc_auc(scores: np.ndarray, y: np.ndarray) -> float:
    """Probability that a random positive scores above a random negative (Mann-Whitney U)."""
    positives, negatives = scores[y == 1], scores[y == 0]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    greater = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (
        positives[:, None] == negatives[None, :]
    ).sum()
    return float(greater / (len(positives) * len(negatives)))


def youden_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The threshold with the best balanced accuracy: with rare positives, 0.5 would never say "edge"."""
    best, threshold = -1.0, 0.5
    for candidate in np.unique(scores):
        predicted = scores >= candidate
        tpr = predicted[y == 1].mean() if (y == 1).any() else 0.0
        tnr = (~predicted)[y == 0].mean() if (y == 0).any() else 0.0
        if tpr + tnr - 1 > best:
            best, threshold = tpr + tnr - 1, float(candidate)
    return threshold


def balanced_accuracy(scores: np.ndarray, y: np.ndarray, threshold: float) -> float:
    predicted = scores >= threshold
    return float((predicted[y == 1].mean() + (~predicted)[y == 0].mean()) / 2)


def get_weights(net: nn.Module) -> list[np.ndarray]:
    return [value.detach().cpu().numpy().copy() for value in net.state_dict().values()]


def set_weights(net: nn.Module, weights: Sequence[np.ndarray]) -> None:
    keys = list(net.state_dict().keys())
    net.load_state_dict({k: torch.from_numpy(np.asarray(w)) for k, w in zip(keys, weights, strict=True)})
