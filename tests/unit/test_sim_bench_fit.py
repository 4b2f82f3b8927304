"""Fitting a scenario to a hybrid bench run: engine speeds from its edge-only and cloud-only answers,
the mix from its hybrid answers, closed-loop clients as in the bench."""

from __future__ import annotations

from typing import Any

import pytest

from edgecloud.sim.bench_fit import compare, fit_scenario


def _answer(placement: str, kind: str, ttft: float, e2e: float, tier: str = "") -> dict[str, Any]:
    return {"placement": placement, "kind": kind, "ok": True, "ttft_s": ttft, "e2e_s": e2e,
            "prompt_tokens": 40, "completion_tokens": 21, "concurrency": 1, "tier": tier}  # fmt: skip


# edge: 20 decode steps in 1 s (20 tok/s); 40 prompt tokens in 0.4 s once a step is taken off the TTFT
# cloud: 20 tok/s too, behind 80 ms RTT; 40 prompt tokens in 0.2 s
REPORT = {
    "data": {
        "rtt_s": 0.08,
        "answers": [_answer("edge-only", "dialogue", 0.45, 1.45)] * 3
        + [_answer("cloud-only", "dialogue", 0.33, 1.33)] * 3
        + [
            _answer("hybrid", kind, 0.4, 1.4, "edge")
            for kind in ("dialogue", "private", "mining", "dialogue")
        ],
    }
}


def test_engine_speeds_come_from_the_single_tier_answers() -> None:
    scenario = fit_scenario(REPORT, 1)
    device = scenario.devices[0]
    assert device.decode_tok_s == pytest.approx(20.0)
    assert device.prefill_tok_s == pytest.approx(100.0)
    assert scenario.cloud.throughput == [(1, pytest.approx(20.0))]
    assert scenario.cloud.prefill_tok_s == pytest.approx(200.0)
    assert device.network.rtt_ms_median == pytest.approx(80.0)
    assert device.arrivals.process == "closed" and device.arrivals.users == 1


def test_the_mix_follows_the_hybrid_answers() -> None:
    mix = {(m.task, m.pii): m.share for m in fit_scenario(REPORT, 1).devices[0].mix}
    assert mix == {(None, 0.0): 2, (None, 1.0): 1, ("mining", 0.0): 1}


def test_compare_reports_measured_and_simulated_percentiles() -> None:
    (row,) = compare(REPORT)
    assert row["measured_p50_ms"] == pytest.approx(400.0)
    assert row["simulated_p50_ms"] > 0 and "error_p95" in row


def _at(answer: dict[str, Any], concurrency: int) -> dict[str, Any]:
    return answer | {"concurrency": concurrency}


def test_a_cloud_that_decodes_as_fast_under_load_is_fitted_as_one_at_a_time() -> None:
    """At concurrency 4 each cloud answer still decodes at 20 tok/s and waits longer for its first
    token: queueing at a sequential worker (llama.cpp), not a batch sharing its steps."""
    queued = [_at(_answer("cloud-only", "dialogue", 2.0, 3.0), 4)] * 3
    hybrid = [_at(a, 4) for a in REPORT["data"]["answers"] if a["placement"] == "hybrid"]
    report = {"data": {"rtt_s": 0.08, "answers": REPORT["data"]["answers"] + queued + hybrid}}
    scenario = fit_scenario(report, 4)
    assert scenario.cloud.max_batch == 1
    assert scenario.cloud.throughput == [(1, pytest.approx(20.0))]
    assert scenario.cloud.prefill_tok_s == pytest.approx(200.0)  # the single-request rate
    assert scenario.devices[0].mix_order == "cycle"


def test_a_cycle_mix_spreads_each_kind_evenly_in_time_order() -> None:
    import numpy as np

    from edgecloud.sim.workload import spread_evenly

    order = spread_evenly(np.array([0.5, 0.25, 0.25]), 16).tolist()
    assert order[:4] == [0, 1, 2, 0] and order[4:8] == order[:4]
    assert [order.count(k) for k in range(3)] == [8, 4, 4]


def test_rates_are_scaled_to_the_occupancy_a_busy_one_at_a_time_server_showed() -> None:
    """At concurrency 4 the edge's queue never empties: 8 requests in 12 s is 1.5 s each, where the
    fitted rates (40 prompt tokens at 100 tok/s, 21 tokens at 20 tok/s) account for 1.45 s."""
    from edgecloud.sim.bench_fit import occupancy_scale

    busy = [_at(_answer("edge-only", "dialogue", 4.0, 5.0), 4)] * 8
    report = {"data": {"answers": busy, "levels": {"edge-only": {"4": {"requests": 8, "wall_s": 12.0}}}}}
    assert occupancy_scale(report, "edge-only", 100.0, 20.0) == pytest.approx(1.45 / 1.5)
    assert occupancy_scale({"data": {"answers": busy}}, "edge-only", 100.0, 20.0) == 1.0


def test_the_fit_replays_the_bench_cycle_and_its_rounds() -> None:
    from edgecloud.bench.scenario import round_size
    from edgecloud.bench.scenario_stack import SETTLE_S

    cycle = ["dialogue", "private", "dialogue", "mining"]
    report = {"data": REPORT["data"] | {"settings": {"cycle": cycle}}}
    device = fit_scenario(report, 1).devices[0]
    kinds = [(device.mix[m].task, device.mix[m].pii) for m in device.mix_cycle or []]
    assert kinds == [(None, 0.0), (None, 1.0), (None, 0.0), ("mining", 0.0)]
    assert device.arrivals.round_requests == round_size(4, 1)
    assert device.arrivals.round_gap_s == SETTLE_S
    assert fit_scenario(REPORT, 1).devices[0].mix_cycle is None  # no cycle recorded: spread by share
