"""What a simulated device's gateway sees, as the live gateway sees it: tier states rebuilt at most
every STATES_TTL_S, the edge's queue as max(in-flight, last probe), a bench's rounds with what the
gateway learned carried across them, and a fixed prompt cycle."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.placement import STATES_TTL_S
from edgecloud.sim.engine import Engine
from edgecloud.sim.fleet import FleetSim
from edgecloud.sim.placer import Placed
from edgecloud.sim.scenario import Scenario, parse_scenario
from edgecloud.sim.workload import build_fleet, build_workload


def _fixed(tokens: int) -> dict[str, float]:
    return {"median": tokens, "sigma": 0}


def _bench_like(users: int, round_requests: int = 0, gap_s: float = 0.0, **device: Any) -> Scenario:
    """One device, closed-loop clients, dialogue (edge or cloud by latency) and mining (the cloud)."""
    return parse_scenario({
        "name": "bench-like", "seed": 3, "requests": 32, "duration_s": 3600,
        "gateway": {"policies": ["privacy", "task", "latency"], "probe_interval_s": 0.5},
        "cloud": {"replicas": 1, "max_batch": 1, "throughput": [[1, 40]], "prefill_tok_s": 100,
                  "queue_limit": 100, "cold_start_s": 0},
        "devices": [{
            "name": "bench-edge", "count": 1, "traffic_share": 1,
            "decode_tok_s": 100, "prefill_tok_s": 200, "max_queue": 100,
            "network": {"rtt_ms_median": 80, "rtt_sigma": 0},
            "arrivals": {"process": "closed", "users": users, "round_requests": round_requests,
                         "round_gap_s": gap_s},
            "mix": [{"share": 3, "stream": 1.0, "max_tokens": 16,
                     "prompt_tokens": _fixed(30), "answer_tokens": _fixed(16)},
                    {"share": 1, "task": "mining", "stream": 1.0, "max_tokens": 16,
                     "prompt_tokens": _fixed(50), "answer_tokens": _fixed(16)}],
            "mix_order": "cycle", "mix_cycle": [0, 0, 0, 1],
            **device,
        }],
    })  # fmt: skip


Seen = list[tuple[float, tuple[Any, ...], tuple[Any, ...]]]  # (time, edge key, cloud key) per placement


def _run_recording(scenario: Scenario) -> tuple[FleetSim, Seen]:
    """The run, with every placement's time, edge key and cloud key (what the policies were shown)."""
    rng = np.random.default_rng(scenario.seed)
    fleet = build_fleet(scenario, rng)
    sim = FleetSim(scenario, fleet, build_workload(scenario, fleet, rng, scenario.requests), Engine())
    seen: Seen = []
    place = sim.placer.place

    def recording(request: Any, edge: Any, cloud: Any, now: float, request_id: Any = None) -> Placed:
        seen.append((now, edge, cloud))
        return place(request, edge, cloud, now, request_id)

    sim.placer.place = recording  # type: ignore[method-assign]
    sim.run()
    return sim, seen


def test_requests_arriving_together_are_placed_on_the_figures_the_first_one_found() -> None:
    """The gateway caches its tier states for STATES_TTL_S: a round's four clients, sent at once, are
    all placed seeing an idle edge, not each the queue the previous one made."""
    _, seen = _run_recording(_bench_like(users=4))
    at_start = [edge for now, edge, _ in seen if now == 0.0]
    assert len(at_start) == 4
    assert {edge[2] for edge in at_start} == {0}
    later = [edge[2] for now, edge, _ in seen if now > STATES_TTL_S]
    assert max(later) >= 2  # afterwards the queue the others made is seen


def test_the_edge_queue_seen_is_the_larger_of_in_flight_and_the_last_probe() -> None:
    scenario = _bench_like(users=1)
    rng = np.random.default_rng(0)
    fleet = build_fleet(scenario, rng)
    sim = FleetSim(scenario, fleet, build_workload(scenario, fleet, rng, 4), Engine())
    sim._probe_at = 1.0
    sim._pending[0].extend([(0.2, 0.9), (0.5, 1.3), (0.9, 1.6), (1.2, 2.0)])
    # At 1.4: running (0.9-1.6) and (1.2-2.0); the probe at 1.0 saw (0.5-1.3) and (0.9-1.6) too.
    assert sim._edge_load(0, 1.4) == (2, 2)
    # At 1.7 only (1.2-2.0) runs, but the probe at 1.0 still reports its two.
    assert sim._edge_load(0, 1.7) == (1, 2)
    sim._probe_at = 1.7  # a newer probe: what ended before it is forgotten
    assert sim._edge_load(0, 1.7) == (1, 1) and len(sim._pending[0]) == 1


def test_rounds_start_together_after_the_last_answer_and_the_gap() -> None:
    sim, _ = _run_recording(_bench_like(users=4, round_requests=8, gap_s=1.0))
    arrived = np.array(sim._arrived)
    outcome = sim._outcome()
    answered = arrived + outcome.e2e
    assert np.all(np.isfinite(answered))
    for start in range(0, 32, 8):
        first = arrived[start : start + 4]
        assert np.all(first == first[0])  # the round's clients ask at once
        if start:
            assert first[0] == pytest.approx(answered[start - 8 : start].max() + 1.0)
        rest = arrived[start + 4 : start + 8]
        assert np.all(rest < answered[start : start + 8].max())  # the round's others follow answers


def test_what_the_gateway_learned_carries_from_round_to_round() -> None:
    """The EWMAs live for the whole run: the second round's first decision already has both tiers'
    measured TTFT (the first round's first decisions had none)."""
    _, seen = _run_recording(_bench_like(users=4, round_requests=8, gap_s=1.0))
    first_round, second_round = seen[0], seen[8]
    assert first_round[1][3] == -1 and first_round[2][3] == -1  # none measured yet
    assert second_round[1][3] >= 0 and second_round[2][3] >= 0


def test_a_mix_cycle_fixes_the_order_of_the_kinds() -> None:
    scenario = _bench_like(users=1, mix_order="cycle", mix_cycle=[0, 0, 1, 0])
    rng = np.random.default_rng(0)
    workload = build_workload(scenario, build_fleet(scenario, rng), rng, 10)
    assert workload.mix.tolist() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 0]


def test_a_mix_cycle_naming_a_missing_entry_is_a_clear_error() -> None:
    with pytest.raises(InvalidRequest, match=r"mix_cycle names mix entries 0\.\.1"):
        _bench_like(users=1, mix_order="cycle", mix_cycle=[0, 2])
    with pytest.raises(InvalidRequest, match="mix_cycle needs mix_order: cycle"):
        _bench_like(users=1, mix_order="random", mix_cycle=[0, 1])
