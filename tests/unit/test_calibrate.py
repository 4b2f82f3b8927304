from pathlib import Path

import pytest

from edgecloud.errors import InvalidRequest
from edgecloud.routing.calibrate import LabeledPrompt, Sample, choose_threshold, load_prompts, write_threshold


def test_threshold_escalates_the_least_confident_until_the_target_is_met() -> None:
    samples = [
        Sample(-3.0, edge_correct=False, cloud_correct=True),
        Sample(-2.0, edge_correct=False, cloud_correct=True),
        Sample(-0.5, edge_correct=True, cloud_correct=True),
        Sample(-0.1, edge_correct=True, cloud_correct=True),
    ]
    result = choose_threshold(samples, target=1.0)
    assert result.cloud_quality == 1.0 and result.edge_quality == 0.5
    assert result.chosen.cloud_share == 0.5  # the two wrong, unsure answers go to the cloud
    assert -2.0 < result.chosen.threshold < -0.5
    assert result.chosen.quality == 1.0


def test_a_lower_target_needs_fewer_cloud_calls() -> None:
    samples = [
        Sample(-3.0, False, True),
        Sample(-2.0, False, True),
        Sample(-1.0, True, True),
        Sample(-0.1, True, True),
    ]
    assert choose_threshold(samples, target=0.75).chosen.cloud_share == 0.25
    assert choose_threshold(samples, target=0.5).chosen.cloud_share == 0.0


def test_equal_confidences_are_never_split() -> None:
    samples = [Sample(-1.0, False, True), Sample(-1.0, True, True), Sample(-0.2, True, True)]
    shares = [o.cloud_share for o in choose_threshold(samples).options]
    assert shares == [0.0, 2 / 3, 1.0]


def test_labels_match_case_insensitively() -> None:
    assert LabeledPrompt("q", ("Paris",)).correct("The capital is PARIS.")
    assert not LabeledPrompt("q", ("Paris",)).correct("Lyon")


def test_prompt_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "a", "answers": ["b"]}\n{"oops": 1}\n')
    with pytest.raises(InvalidRequest, match=":2:"):
        load_prompts(path)


def test_threshold_is_written_into_the_topology(tmp_path: Path) -> None:
    config = tmp_path / "t.yaml"
    config.write_text("tiers:\n  edge: {upstreams: [{url: 'http://e'}]}\n")
    write_threshold(config, choose_threshold([Sample(-1.0, False, True), Sample(-0.1, True, True)]), "min")
    text = config.read_text()
    assert "threshold:" in text and "score: min" in text and "http://e" in text


def test_bundled_example_prompt_set_loads() -> None:
    prompts = load_prompts(Path(__file__).parents[2] / "examples" / "calibration" / "capitals.jsonl")
    assert len(prompts) == 40
