"""The classification cascade's arithmetic: which inputs escalate, and what each threshold is worth."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.routing.classify_cascade import TierPredictions, cascade_row, cascade_table, escalate_mask

# columns: (negative, positive); truth 1 = positive
EDGE = np.array([[0.1, 0.9], [0.45, 0.55], [0.6, 0.4], [0.3, 0.7]])
CLOUD = np.array([[0.2, 0.8], [0.9, 0.1], [0.1, 0.9], [0.05, 0.95]])
TRUTH = np.array([1, 0, 1, 1])


def tiers() -> TierPredictions:
    return TierPredictions(EDGE, CLOUD, TRUTH)


def test_an_input_escalates_when_the_edges_top_probability_is_under_the_threshold() -> None:
    assert escalate_mask(EDGE, 0.65).tolist() == [False, True, True, False]
    assert not escalate_mask(EDGE, 0.0).any()


def test_escalating_the_unsure_inputs_takes_the_clouds_labels_for_them() -> None:
    row = cascade_row(tiers(), 0.65, "0.65")
    assert row.escalated == pytest.approx(0.5)
    assert row.accuracy == pytest.approx(1.0)  # the cloud fixes both unsure ones
    # random escalation of half the inputs: halfway between edge (0.5) and cloud (1.0) accuracy
    assert row.random_accuracy == pytest.approx(0.75)


def test_the_table_runs_from_edge_only_to_cloud_only() -> None:
    rows = cascade_table(tiers(), [0.65, 0.5], shares=(0.5,))
    assert rows[0].label == "edge only" and rows[0].escalated == 0.0 and rows[0].accuracy == 0.5
    assert rows[-1].label == "cloud only" and rows[-1].escalated == 1.0 and rows[-1].accuracy == 1.0
    assert [r.label for r in rows[1:3]] == ["0.5", "0.65"]
    half = next(r for r in rows if r.label.startswith("50% share"))
    assert half.escalated == pytest.approx(0.5)
