"""Scenario files: the shipped ones load; mistakes are named with their field and file line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgecloud.cli import app
from edgecloud.errors import InvalidRequest
from edgecloud.sim.scenario import load_scenario

SCENARIOS = Path(__file__).parents[2] / "examples" / "scenarios"

MINIMAL = """\
requests: 100
duration_s: 60
devices:
  - name: kiosk
    count: 2
    traffic_share: 1
    decode_tok_s: 55
    prefill_tok_s: 450
    mix:
      - {share: 1, prompt_tokens: {median: 50}, answer_tokens: {median: 20}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_the_shipped_scenarios_load() -> None:
    fleet = load_scenario(SCENARIOS / "fleet-10k.yaml")
    assert sum(d.count for d in fleet.devices) == 10_000 and fleet.requests == 1_000_000
    assert load_scenario(SCENARIOS / "small.yaml").requests == 20_000


def test_a_minimal_scenario_takes_defaults_for_the_cloud_and_the_gateway(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, MINIMAL))
    assert scenario.cloud.replicas == 2 and scenario.gateway.policies[0] == "privacy"


def test_a_wrong_type_names_the_field_and_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("decode_tok_s: 55", "decode_tok_s: fast"))
    with pytest.raises(InvalidRequest) as caught:
        load_scenario(path)
    assert f"{path}:7: devices.0.decode_tok_s" in caught.value.message


def test_unknown_fields_missing_fields_and_bad_values_are_all_listed(tmp_path: Path) -> None:
    text = MINIMAL.replace("requests: 100\n", "").replace("count: 2", "count: 0\n    colour: red")
    with pytest.raises(InvalidRequest) as caught:
        load_scenario(_write(tmp_path, text))
    message = caught.value.message
    assert "requests: Field required" in message
    assert "devices.0.count: Input should be greater than or equal to 1" in message
    assert "devices.0.colour: Extra inputs are not permitted" in message


def test_a_policy_the_simulator_cannot_run_is_refused_with_the_ones_it_can(tmp_path: Path) -> None:
    text = MINIMAL + "gateway: {policies: [privacy, router]}\n"
    with pytest.raises(InvalidRequest, match=r"\['router'\] cannot be simulated; use privacy, hint"):
        load_scenario(_write(tmp_path, text))


def test_a_throughput_curve_must_rise_in_concurrency(tmp_path: Path) -> None:
    text = MINIMAL + "cloud: {throughput: [[4, 100], [1, 50]]}\n"
    with pytest.raises(InvalidRequest, match="concurrency points must be increasing"):
        load_scenario(_write(tmp_path, text))


def test_not_yaml_and_a_missing_file_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="not valid YAML"):
        load_scenario(_write(tmp_path, "devices: [unclosed"))
    with pytest.raises(InvalidRequest, match="cannot read scenario"):
        load_scenario(tmp_path / "absent.yaml")


def test_simulate_exits_2_with_the_message_and_no_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("count: 2", "count: -1"))
    result = CliRunner().invoke(app, ["simulate", str(path)])
    assert result.exit_code == 2
    assert "devices.0.count" in result.output and "Traceback" not in result.output
