"""The rules that judge answers, the suites' contents, and the cascade trade-off arithmetic."""

from __future__ import annotations

import pytest

from edgecloud.eval.harness import Record
from edgecloud.eval.scoring import (
    chrf,
    contains_answer,
    exact_match,
    extract_letter,
    paired_difference,
    wilson_interval,
)
from edgecloud.eval.suites import ChoiceItem, OpenItem, TranslationItem, load_suite
from edgecloud.routing.curve import tradeoff


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", 1),
        ("B.", 1),
        ("(C) a marsh", 2),
        ("The answer is D", 3),
        ("a tundra", 1),
        ("E", None),
        ("", None),
    ],
)
def test_a_generated_answer_picks_an_option_by_letter_or_by_its_exact_text(text: str, expected: int | None):
    assert extract_letter(text, 4, ("a marsh", "a tundra", "the plains", "a desert")) == expected


def test_exact_match_normalises_case_articles_and_punctuation_and_judges_the_first_line():
    assert exact_match("The Nile.\nIt is long.", ["nile"])
    assert not exact_match("the river Nile", ["nile"])
    assert contains_answer("It is the river Nile.", ["Nile"])


def test_wilson_interval_brackets_the_proportion_and_stays_inside_zero_and_one():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.404, abs=1e-3) and high == pytest.approx(0.596, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_chrf_is_100_for_identical_text_and_lower_for_a_different_one():
    assert chrf(["Le chat dort."], ["Le chat dort."]) == pytest.approx(100.0)
    assert chrf(["Le chien mange."], ["Le chat dort."]) < 50


def test_suites_come_from_the_wheels_with_answers_in_range():
    for name in ("mmlu", "openbookqa", "commonsenseqa", "boolq", "sentiment"):
        items = load_suite(name, limit=50)
        assert len(items) == 50
        assert all(isinstance(i, ChoiceItem) and 0 <= i.answer < len(i.options) for i in items)
    nq = load_suite("nq-open", limit=10)
    assert all(isinstance(i, OpenItem) and i.answers for i in nq)
    translation = load_suite("translation")
    assert len(translation) == 50 and all(isinstance(i, TranslationItem) and i.reference for i in translation)


def test_a_limited_suite_is_the_same_seeded_sample_every_time():
    assert [i.id for i in load_suite("mmlu", limit=5, seed=3)] == [
        i.id for i in load_suite("mmlu", limit=5, seed=3)
    ]


def _records(rows: list[tuple[str, float, float]]) -> tuple[list[Record], list[Record]]:
    edge = [
        Record(i, "", scores={"letter": e}, confidence={"mean_logprob": -float(n)})
        for n, (i, e, _) in enumerate(rows)
    ]
    cloud = [Record(i, "", scores={"letter": c}) for i, _, c in rows]
    return edge, cloud


def test_escalating_the_least_confident_items_first_beats_random_routing_when_confidence_is_informative():
    # confidence falls with n; the edge is wrong exactly on its two least confident items
    edge, cloud = _records([("a", 1, 1), ("b", 1, 0), ("c", 0, 1), ("d", 0, 1)])
    curve = tradeoff(edge, cloud, "letter", "mean_logprob")
    assert curve.edge_accuracy == 0.5 and curve.cloud_accuracy == 0.75
    half = curve.at_share(0.5)
    assert half.accuracy == 1.0 and half.random_baseline == pytest.approx(0.625)
    assert curve.points[0].accuracy == 0.5 and curve.points[-1].accuracy == 0.75
    reached = curve.share_for(0.95)
    assert reached is not None and reached.cloud_share == 0.25


def test_an_eval_run_becomes_calibration_samples_for_the_gateway_cascade(tmp_path):
    from edgecloud.eval.records import write_records
    from edgecloud.routing.calibrate import choose_threshold
    from edgecloud.routing.curve import samples_from_eval

    edge, cloud = _records([("a", 1, 1), ("b", 1, 0), ("c", 0, 1), ("d", 0, 1)])
    write_records(tmp_path / "records.jsonl", edge)
    write_records(tmp_path / "records-cloud.jsonl", cloud)
    samples = samples_from_eval(tmp_path, "mean")
    assert [(s.edge_correct, s.cloud_correct) for s in sorted(samples, key=lambda s: -s.confidence)] == [
        (True, True),
        (True, False),
        (False, True),
        (False, True),
    ]
    assert choose_threshold(samples, 0.95).chosen.cloud_share == 0.25  # only "d" must escalate


def test_the_paired_comparison_uses_mcnemars_exact_test_on_right_or_wrong_scores() -> None:
    # 20 items only the cloud got right, 5 only the edge: p = 2 * P(X <= 5 | n=25, 1/2) = 0.00408
    pairs = [(0.0, 1.0)] * 20 + [(1.0, 0.0)] * 5 + [(1.0, 1.0)] * 30 + [(0.0, 0.0)] * 45
    result = paired_difference(pairs)
    assert (result.n, result.mean_a, result.mean_b) == (100, 0.35, 0.5)
    assert result.p_value == pytest.approx(0.0040773, rel=1e-4) and result.significant
    assert result.ci_low < result.difference < result.ci_high and result.ci_low > 0


def test_equal_tiers_are_not_significantly_different_and_continuous_scores_use_a_sign_flip() -> None:
    same = paired_difference([(1.0, 1.0), (0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])
    assert same.difference == 0 and same.p_value == 1.0 and not same.significant
    noisy = paired_difference([(0.40, 0.42), (0.50, 0.47), (0.30, 0.33), (0.60, 0.58)])
    assert 0 < noisy.p_value <= 1 and not noisy.significant
    better = paired_difference([(0.3 + i / 100, 0.5 + i / 100) for i in range(30)])
    assert better.significant and better.ci_low == pytest.approx(0.2)


def test_a_comparison_with_no_common_items_is_an_error() -> None:
    with pytest.raises(ValueError, match="no item"):
        paired_difference([])
