"""The planner: SLO strings, and on a tiny cloud-bound scenario the fewest replicas that meet the SLO."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgecloud.cli import app
from edgecloud.errors import InvalidRequest
from edgecloud.sim.planner import Constraint, configured, parse_slo, plan_space, policy_orders, ranked, search
from edgecloud.sim.run import simulate
from edgecloud.sim.scenario import parse_scenario

# Every request is mining work (the task policy sends it to the cloud); 10 requests/s of 0.2 s each
# on replicas that serve one at a time: at least 3 replicas to keep up at all.
TINY = {
    "requests": 1500,
    "duration_s": 150,
    "seed": 5,
    "gateway": {"policies": ["privacy", "task", "offline", "latency", "cost"]},
    "cloud": {"replicas": 4, "max_batch": 1, "throughput": [[1, 50]], "prefill_tok_s": 1e6},
    "devices": [
        {
            "name": "kiosk",
            "count": 10,
            "traffic_share": 1,
            "decode_tok_s": 55,
            "prefill_tok_s": 450,
            "network": {"rtt_ms_median": 20, "rtt_sigma": 0},
            "mix": [{"task": "mining", "share": 1, "prompt_tokens": {"median": 20, "sigma": 0},
                     "answer_tokens": {"median": 10, "sigma": 0}}],
        }
    ],
}  # fmt: skip


def test_slo_strings_read_as_constraints_in_milliseconds_and_shares() -> None:
    assert parse_slo("p95_ttft<800ms, cloud_p99_e2e<=2s,ttft_attainment>90%") == [
        Constraint("p95_ttft", "<", 800.0),
        Constraint("cloud_p99_e2e", "<=", 2000.0),
        Constraint("ttft_attainment", ">", 0.9),
    ]


@pytest.mark.parametrize("text", ["p95_ttft", "p97_ttft<1s", "fast<1s", ""])
def test_unreadable_slos_are_refused_with_an_example(text: str) -> None:
    with pytest.raises(InvalidRequest, match="p95_ttft<800ms"):
        parse_slo(text)


def test_policy_orders_try_without_latency_and_cascade_and_moved_ahead() -> None:
    orders = policy_orders(["privacy", "task", "latency", "cost", "cascade"])
    assert orders[0] == ("privacy", "task", "latency", "cost", "cascade")
    assert ("privacy", "task", "cost", "cascade") in orders  # no latency
    assert ("privacy", "latency", "task", "cost", "cascade") in orders  # latency before task
    assert ("privacy", "task", "cost", "latency", "cascade") in orders  # the budget before latency


def test_the_plan_is_the_fewest_replicas_that_meet_the_slo() -> None:
    scenario = parse_scenario(TINY)
    slo = parse_slo("p95_ttft<1000ms")
    space = plan_space(scenario, 1500, max_replicas=8)
    runs = search(scenario, slo, requests=1500, space=space)
    best = ranked(runs, "cost")[0]
    assert best.meets and 3 <= best.replicas <= 8
    order = best.policies
    fewer = simulate(configured(scenario, best.replicas - 1, order, best.budget)).summary
    assert not all(c.holds(fewer) for c in slo)  # one replica fewer misses the SLO


def test_plan_prints_the_plan_and_runners_up(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    result = CliRunner().invoke(
        app, ["plan", str(path), "--slo", "p95_ttft<1000ms", "--requests", "1500", "--max-replicas", "6"]
    )
    assert result.exit_code == 0, result.output
    assert "plan" in result.output and "runner-up" in result.output
