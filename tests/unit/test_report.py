"""The benchmark report format: a self-contained HTML page with its plots inline and a JSON twin, and
the hybrid scenario's figures computed from recorded answers."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from edgecloud.bench import plots
from edgecloud.bench.report import Report, Section, render_html, table, write_report
from edgecloud.bench.scenario_analysis import (
    agreement,
    cloud_share,
    cost_per_1k,
    labeled_pairs,
    paired_quality,
    quality,
    routing_curves,
    tier_split,
    ttft_ratio,
)
from edgecloud.bench.scenario_analysis import levels as level_summaries
from edgecloud.bench.scenario_client import Answer
from edgecloud.bench.scenario_report import ScenarioResults, build_report, results_from_json
from edgecloud.bench.scenario_workload import body_for, build_workload, exact_match, parse_mix, token_f1
from edgecloud.routing.pairs import split_of

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PRICES = {"edge": (0.0, 0.0), "cloud": (0.5, 1.5)}
# The figures below are worked out for a mix without labeled items (those get their own test).
CYCLE = ("dialogue", "private", "dialogue", "mining", "dialogue", "private", "dialogue", "mining")


def answers_for(placement: str, concurrency: int, rtt_s: float = 0.08) -> list[Answer]:
    """Answers shaped like a real run's: the edge is fast, the cloud pays the RTT; the gateway keeps
    private prompts on the edge and sends mining to the cloud."""
    out = []
    for item in build_workload(16, CYCLE):
        on_cloud = placement == "cloud-only" or (placement == "hybrid" and item.kind == "mining")
        tier = "cloud" if on_cloud else "edge"
        policy = (
            {"private": "privacy", "mining": "task"}.get(item.kind, "latency")
            if placement == "hybrid"
            else ""
        )
        ttft = (0.05 + rtt_s + 0.01 * concurrency) if on_cloud else 0.02 + 0.002 * item.index
        text = f"answer {item.index}" if on_cloud else f"edge says {item.index}"
        out.append(
            Answer(
                item.index,
                item.kind,
                placement,
                True,
                "",
                ttft,
                ttft + 0.3,
                20,
                10,
                text,
                tier,
                policy,
                concurrency,
                rtt_s,
            )
        )
    return out


@pytest.fixture
def results() -> ScenarioResults:
    main = [a for p in ("edge-only", "cloud-only", "hybrid") for c in (1, 4) for a in answers_for(p, c)]
    walls = {(p, c): 4.0 / c for p in ("edge-only", "cloud-only", "hybrid") for c in (1, 4)}
    sweep = [
        a for p in ("edge-only", "cloud-only", "hybrid") for r in (0.0, 0.08) for a in answers_for(p, 1, r)
    ]
    return ScenarioResults({"requests": 16}, 0.08, main, walls, sweep, PRICES)


def test_a_report_renders_as_one_self_contained_page_with_png_plots(tmp_path: Path) -> None:
    figure = plots.cdf({"edge-only": [0.01, 0.02, 0.03], "cloud-only": [0.1, 0.2]}, "TTFT", "ms", scale=1000)
    report = Report(
        "a report",
        "test",
        {"ratio": 0.25},
        (Section("Latency", "why it matters", (table("t", ("a", "b"), [("x <b>", 1.5)]),), (figure,)),),
        {"samples": [1, 2, 3]},
    )
    json_path, html_path = write_report(report, tmp_path / "out")
    page = html_path.read_text()
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert len(images) == 1 and base64.b64decode(images[0]).startswith(PNG_MAGIC)
    assert "x &lt;b&gt;" in page and "<script" not in page and "http://" not in page
    saved = json.loads(json_path.read_text())
    assert saved["headline"] == {"ratio": 0.25} and saved["data"] == {"samples": [1, 2, 3]}
    assert saved["sections"][0]["figures"] == [{"title": "TTFT", "caption": ""}]


def test_the_hybrid_report_has_every_section_and_plot(results: ScenarioResults) -> None:
    report = build_report(results)
    titles = [section.title for section in report.sections]
    assert titles == [
        "Latency per placement at 80 ms RTT",
        "Time to first token vs RTT",
        "Throughput vs concurrency",
        "Tier split per policy",
        "Cost per 1k requests",
        "Answer agreement with cloud-only (quality proxy)",
    ]
    page = render_html(report)
    assert page.count("<img ") == sum(len(section.figures) for section in report.sections) == 9
    json.dumps(report.data)  # the raw data is JSON as it stands


def test_hybrid_figures_follow_from_the_answers(results: ScenarioResults) -> None:
    summary = level_summaries(results.answers, results.walls)
    assert summary["hybrid"][4]["requests_per_s"] == 16 / 1.0
    # Mining is a quarter of the mix and must run on the cloud: it sets hybrid's p95, not its median.
    assert ttft_ratio(summary, 1, "p95") == pytest.approx(1.0)
    median = ttft_ratio(summary, 1, "p50")
    assert median is not None and median < 0.5
    assert cloud_share(results.answers) == 0.25  # 2 mining prompts in every 8
    split = tier_split(results.answers)
    assert split["hybrid: privacy"] == {"edge": 8} and split["hybrid: task"] == {"cloud": 8}
    costs = cost_per_1k(results.answers, PRICES)
    assert costs["edge-only"] == 0.0 and costs["cloud-only"] == pytest.approx(1000 * (0.01 + 0.015))
    assert costs["hybrid"] == pytest.approx(costs["cloud-only"] / 4)
    agree = agreement(results.answers)
    assert agree["hybrid/mining"]["exact_match"] == 1.0 and agree["edge-only"]["exact_match"] == 0.0
    assert agree["hybrid"]["exact_match"] == 0.25


def test_agreement_proxies_compare_words_not_formatting() -> None:
    assert exact_match("The capital is Paris.", "the capital is  paris")
    assert token_f1("Paris is the capital", "The capital is Paris") == 1.0
    assert token_f1("Paris", "Lyon") == 0.0
    assert 0.0 < token_f1("the capital is Paris", "the capital is Lyon") < 1.0


def test_the_workload_mixes_labeled_dialogue_private_and_mining_prompts() -> None:
    items = build_workload(16)
    kinds = [item.kind for item in items]
    assert kinds.count("labeled") == 8 and kinds.count("dialogue") == 4
    assert kinds.count("private") == 2 and kinds.count("mining") == 2
    assert all(item.metadata == {"task": "mining"} for item in items if item.kind == "mining")
    labeled = [item.labeled for item in items if item.labeled is not None]
    assert len({entry.suite for entry in labeled}) == 7  # every suite, in turn
    assert all(split_of(entry.item.id) == "test" for entry in labeled)  # never the router's training items
    translation = next(item for item in items if item.labeled and item.labeled.suite == "translation")
    body = body_for(translation, "m", 16, gateway=False)  # a node frames translation by its task
    assert body["metadata"]["task"] == "translate" and body["max_tokens"] == 64


def test_labeled_answers_are_scored_against_gold_and_compared_item_by_item() -> None:
    items = [item for item in build_workload(16) if item.labeled is not None]
    answers = []
    for placement, right in (("edge-only", {0}), ("cloud-only", {0, 1, 2, 3}), ("hybrid", {0, 1, 2})):
        for n, item in enumerate(items[:4]):
            gold = item.labeled.item if item.labeled else None
            text = _right_answer(gold) if n in right else "zzz"
            score = item.score(text)
            tier = "cloud" if placement == "cloud-only" or (placement == "hybrid" and n in (1, 2)) else "edge"
            answers.append(Answer(item.index, "labeled", placement, tier=tier, suite="x", score=score))
    measured = quality(answers)
    assert measured["edge-only"]["quality"] == 0.25 and measured["cloud-only"]["quality"] == 1.0
    assert measured["hybrid"]["quality"] == 0.75 and measured["hybrid"]["cloud_share"] == 0.5
    difference = paired_quality(answers)
    assert difference is not None and difference.n == 4 and difference.difference == -0.25
    pairs = labeled_pairs(answers)
    assert [(p.edge, p.cloud) for p in pairs] == [(1.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0)]
    curves = {c.name: c for c in routing_curves(answers, {item.index: 0.5 for item in items[:4]})}
    assert set(curves) == {"router", "random", "oracle"} and curves["random"].apgr() == pytest.approx(0.5)


def _right_answer(item: object) -> str:
    from edgecloud.eval.suites import LETTERS, ChoiceItem, OpenItem, TranslationItem

    if isinstance(item, ChoiceItem):
        return LETTERS[item.answer]
    if isinstance(item, OpenItem):
        return item.answers[0]
    assert isinstance(item, TranslationItem)
    return item.reference


def test_a_saved_report_reads_back_into_the_same_report(results: ScenarioResults, tmp_path: Path) -> None:
    json_path, _ = write_report(build_report(results), tmp_path)
    again = build_report(results_from_json(json.loads(json_path.read_text())))
    assert again.headline == build_report(results).headline


def test_a_mix_spreads_each_kind_evenly_through_its_cycle() -> None:
    cycle = parse_mix("dialogue=8,private=3,mining=1")
    assert len(cycle) == 12 and cycle.count("private") == 3 and cycle.count("mining") == 1
    assert "private" in cycle[:4] and "private" in cycle[-4:]  # spread out, not bunched
    assert {item.kind for item in build_workload(12, parse_mix("mining=1"))} == {"mining"}
    with pytest.raises(ValueError):
        parse_mix("chitchat=3")
