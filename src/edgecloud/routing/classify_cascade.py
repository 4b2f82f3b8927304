"""The classification cascade measured offline on the held-out test split: the edge's model labels
every snippet; a snippet whose top probability is under the threshold is answered by the cloud's model
instead. Each threshold gives (share escalated, accuracy); random escalation at the same share is the
baseline a confidence signal has to beat. The gateway's /v1/classify applies the same rule online."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgecloud.datasets.rotten_tomatoes import load_snippets
from edgecloud.errors import ModelFileError
from edgecloud.runtimes.classifier import TransformersClassifier
from edgecloud.train.classifier import LABELS, OnProgress, label_ids, scores


@dataclass(frozen=True)
class TierPredictions:
    """Both tiers' probabilities (columns in LABELS order) for the same snippets, and the truth."""

    edge: np.ndarray
    cloud: np.ndarray
    truth: np.ndarray
    edge_name: str = "edge"
    cloud_name: str = "cloud"

    def title(self) -> str:
        return f"cascade on {len(self.truth)} test snippets: edge {self.edge_name} -> cloud {self.cloud_name}"


@dataclass(frozen=True)
class CascadeRow:
    label: str  # "edge only", "0.8", "50% share", "cloud only"
    threshold: float | None
    escalated: float  # share of inputs the cloud answered
    accuracy: float
    macro_f1: float
    random_accuracy: float  # expected accuracy escalating the same share at random

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def escalate_mask(edge: np.ndarray, threshold: float) -> np.ndarray:
    """The gateway's rule: escalate when the edge's top probability is under the threshold."""
    return np.asarray(edge.max(axis=1) < threshold)


def cascade_row(tiers: TierPredictions, threshold: float | None, label: str) -> CascadeRow:
    edge_pred = tiers.edge.argmax(axis=1)
    cloud_pred = tiers.cloud.argmax(axis=1)
    if threshold is None:  # cloud only
        mask = np.ones(len(tiers.truth), dtype=bool)
    else:
        mask = escalate_mask(tiers.edge, threshold)
    predicted = np.where(mask, cloud_pred, edge_pred)
    share = float(mask.mean()) if len(mask) else 0.0
    edge_acc = float((edge_pred == tiers.truth).mean())
    cloud_acc = float((cloud_pred == tiers.truth).mean())
    measured = scores(tiers.truth, predicted)
    return CascadeRow(
        label,
        threshold,
        share,
        measured.accuracy,
        measured.macro_f1,
        (1 - share) * edge_acc + share * cloud_acc,
    )


def cascade_table(
    tiers: TierPredictions, thresholds: Sequence[float], shares: Sequence[float] = (0.25, 0.5)
) -> list[CascadeRow]:
    """Edge only, each threshold, the thresholds that escalate the given shares, cloud only."""
    rows = [cascade_row(tiers, 0.0, "edge only")]
    rows += [cascade_row(tiers, t, f"{t:g}") for t in sorted(thresholds)]
    confidence = tiers.edge.max(axis=1)
    for share in shares:
        threshold = float(np.quantile(confidence, share)) if len(confidence) else 0.0
        rows.append(cascade_row(tiers, threshold, f"{share:.0%} share (t={threshold:.3f})"))
    rows.append(cascade_row(tiers, None, "cloud only"))
    return rows


def _probabilities(
    runtime: TransformersClassifier, texts: list[str], phase: str, on_progress: OnProgress
) -> np.ndarray:
    """Columns reordered to LABELS, whatever order the folder's id2label has."""
    chunks = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    rows = []
    for done, chunk in enumerate(chunks, 1):
        rows.append(runtime.probabilities(chunk))
        on_progress(phase, done, len(chunks))
    probabilities = np.concatenate(rows)
    order = [runtime.labels.index(label) for label in LABELS]
    return probabilities[:, order]


def quantize_int8(runtime: TransformersClassifier) -> None:
    """PyTorch dynamic int8 for every Linear (weights int8, activations quantised per batch)."""
    import torch

    runtime.model = torch.ao.quantization.quantize_dynamic(
        runtime.model, {torch.nn.Linear}, dtype=torch.qint8
    )


def measure_tiers(
    edge: Path,
    cloud: Path,
    *,
    limit: int | None = None,
    edge_int8: bool = False,
    on_progress: OnProgress | None = None,
) -> TierPredictions:
    for folder in (edge, cloud):
        if not (folder / "config.json").is_file():
            raise ModelFileError(f"{folder} is not a classifier folder (no config.json)")
    progress = on_progress or (lambda phase, done, total: None)
    snippets = load_snippets("test")[:limit]
    texts = [s.text for s in snippets]
    found = []
    for name, folder in (("edge", edge), ("cloud", cloud)):
        runtime = TransformersClassifier()
        runtime.load_folder(folder)
        if name == "edge" and edge_int8:
            quantize_int8(runtime)
        found.append(_probabilities(runtime, texts, f"{name}: {folder.name}", progress))
    edge_name = edge.name + (" (int8)" if edge_int8 else "")
    return TierPredictions(found[0], found[1], label_ids(snippets), edge_name, cloud.name)
