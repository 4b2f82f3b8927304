"""The engine and cloud tier, run as an M/M/c queue, agree with Erlang C within 2%."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edgecloud.cli import app
from edgecloud.sim.mmc import erlang_c, simulate_mmc


def test_erlang_c_reduces_to_the_m_m_1_formulas() -> None:
    theory = erlang_c(1, 0.6, 1.0)
    assert theory.p_wait == pytest.approx(0.6)
    assert theory.mean_wait == pytest.approx(0.6 / (1.0 - 0.6))


def test_erlang_c_matches_a_published_value() -> None:
    # 10 servers, offered load 8 Erlangs: P(wait) = 0.4092 (standard Erlang C tables)
    assert erlang_c(10, 8.0, 1.0).p_wait == pytest.approx(0.4092, abs=5e-4)


def test_erlang_c_refuses_an_unstable_queue() -> None:
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(2, 2.0, 1.0)


@pytest.mark.parametrize(
    ("servers", "arrival_rate", "requests"),
    [(1, 0.5, 300_000), (4, 2.0, 1_000_000)],  # the mean wait is noisy: M/M/4 needs a million for 2%
)
def test_simulated_m_m_c_waits_match_erlang_c_within_two_percent(
    servers: int, arrival_rate: float, requests: int
) -> None:
    result = simulate_mmc(servers, arrival_rate, 1.0, requests=requests, seed=3)
    assert result["mean_wait"] == pytest.approx(result["erlang_c_mean_wait"], rel=0.02)
    assert result["p_wait"] == pytest.approx(result["erlang_c_p_wait"], rel=0.02)


def test_simulate_mmc_prints_json_with_mean_wait_and_p_wait() -> None:
    args = ["simulate", "--mmc", "--servers", "2", "--arrival-rate", "1", "--service-rate", "1",
            "--requests", "20000", "--seed", "1", "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert {"mean_wait", "p_wait", "erlang_c_mean_wait", "erlang_c_p_wait"} <= set(figures)
    assert figures["p_wait"] == pytest.approx(figures["erlang_c_p_wait"], rel=0.1)


def test_simulate_mmc_refuses_an_unstable_queue_with_exit_code_2() -> None:
    args = ["simulate", "--mmc", "--servers", "1", "--arrival-rate", "2", "--service-rate", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "unstable" in result.output
