"""The discrete-event engine and the cloud tier model: time order, ties, batching, queue limits,
cold starts; and the fleet run is seeded and its memo changes nothing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from edgecloud.sim.cloud import CloudTier, sequence_rates
from edgecloud.sim.engine import Engine
from edgecloud.sim.run import simulate
from edgecloud.sim.scenario import Arrivals, Cloud, load_scenario

SMALL = Path(__file__).parents[2] / "examples" / "scenarios" / "small.yaml"


def test_events_run_in_time_order_ties_in_scheduling_order_before_arrivals_at_the_same_instant() -> None:
    engine = Engine()
    seen: list[tuple[float, str]] = []
    engine.schedule(2.0, lambda t, p: seen.append((t, p)), "b")
    engine.schedule(1.0, lambda t, p: seen.append((t, p)), "a")
    engine.schedule(2.0, lambda t, p: seen.append((t, p)), "c")
    engine.run([0.5, 2.0, 3.0], lambda t, i: seen.append((t, f"arrival {i}")))
    assert seen == [
        (0.5, "arrival 0"),
        (1.0, "a"),
        (2.0, "b"),
        (2.0, "c"),
        (2.0, "arrival 1"),
        (3.0, "arrival 2"),
    ]
    assert engine.now == 3.0 and engine.events == 6


def test_an_event_scheduled_in_the_past_runs_now_and_handlers_may_schedule_more() -> None:
    engine = Engine()
    seen: list[float] = []

    def tick(now: float, left: int) -> None:
        seen.append(now)
        if left:
            engine.schedule(now + 1.0, tick, left - 1)

    engine.run([5.0], lambda t, i: engine.schedule(1.0, tick, 2))
    assert seen == [5.0, 6.0, 7.0]


def test_sequence_rates_follow_the_throughput_curve() -> None:
    rates = sequence_rates(Cloud(max_batch=4, throughput=[(1, 10.0), (2, 16.0), (4, 24.0)]))
    assert rates[1:] == pytest.approx([10.0, 8.0, 20.0 / 3, 6.0])


def _cloud(**changes: object) -> tuple[Engine, CloudTier]:
    spec = Cloud(
        **{
            "replicas": 1,
            "max_batch": 2,
            "throughput": [(1, 10.0), (2, 16.0)],
            "prefill_tok_s": 100.0,
            "queue_limit": 1,
            "cold_start_s": 0.0,
            **changes,
        }
    )  # type: ignore[arg-type]
    engine = Engine()
    return engine, CloudTier(engine, spec, 8)


def test_one_sequence_decodes_at_the_single_stream_rate_and_two_share_the_batch_rate() -> None:
    engine, cloud = _cloud()
    engine.run([0.0], lambda t, i: cloud.submit(t, 0, 0.0, 10.0) and None)  # 10 tokens at 10 tok/s
    assert cloud.done[0] == pytest.approx(1.0)
    engine, cloud = _cloud()
    engine.run([0.0, 0.0], lambda t, i: cloud.submit(t, i, 0.0, 8.0) and None)  # two at 8 tok/s each
    assert cloud.done[:2] == pytest.approx([1.0, 1.0])


def test_prefill_counts_as_work_and_delays_the_first_token() -> None:
    engine, cloud = _cloud()
    engine.run([0.0], lambda t, i: cloud.submit(t, 0, 100.0, 10.0) and None)  # 100 prompt tokens at 100/s
    assert cloud.first[0] == pytest.approx(1.1)
    assert cloud.done[0] == pytest.approx(2.0)


def test_a_full_queue_answers_429_and_a_freed_slot_takes_the_oldest_waiting() -> None:
    engine, cloud = _cloud(max_batch=1)
    accepted: list[bool] = []
    engine.run([0.0, 0.1, 0.2], lambda t, i: accepted.append(cloud.submit(t, i, 0.0, 10.0)))
    assert accepted == [True, True, False] and cloud.stats.rejected == 1
    assert cloud.admit[1] == pytest.approx(1.0) and cloud.done[1] == pytest.approx(2.0)
    assert math.isnan(cloud.admit[2])


def test_an_added_replica_serves_only_after_its_cold_start() -> None:
    engine, cloud = _cloud(replicas=0, max_replicas=1, cold_start_s=5.0, queue_limit=10, scale_up_queue=1)

    def arrive(now: float, i: int) -> None:
        cloud.submit(now, i, 0.0, 10.0)
        cloud.autoscale(now)

    engine.run([0.0], arrive)
    assert cloud.admit[0] == pytest.approx(5.0) and cloud.done[0] == pytest.approx(6.0)


def test_a_seeded_run_repeats_exactly_and_the_memo_changes_no_decision() -> None:
    scenario = load_scenario(SMALL)
    first = simulate(scenario, requests=3000)
    again = simulate(scenario, requests=3000)
    plain = simulate(scenario, requests=3000, memoise=False)
    assert first.summary["all"] == again.summary["all"]
    assert first.sim.placer.misses < first.sim.placer.calls / 2  # the memo does its job
    assert plain.sim.placer.misses == 3000
    decisions = [first.sim.placer.decisions[d] for d in first.outcome.decision]
    assert decisions == [plain.sim.placer.decisions[d] for d in plain.outcome.decision]
    assert np.array_equal(first.outcome.tier, plain.outcome.tier)


def test_closed_loop_clients_keep_exactly_their_number_of_requests_in_flight() -> None:
    scenario = load_scenario(SMALL)
    closed = Arrivals(process="closed", users=1)
    device = scenario.devices[0].model_copy(update={"count": 1, "offline": 0.0, "arrivals": closed})
    one = scenario.model_copy(update={"devices": [device]})
    result = simulate(one, requests=200)
    arrived = np.array(result.sim._arrived)
    ends = arrived + result.outcome.e2e
    ok = ~np.isnan(ends)
    assert np.all(arrived[1:][ok[:-1]] >= ends[:-1][ok[:-1]] - 1e-9)  # the next asks once an answer is in
    assert result.summary["requests"] == 200 and result.summary["failed"] < 200
