"""The demo's last screen, from recorded answers: every placement side by side, whole when the output is a
file, and each goal said met or missed from the figures."""

from __future__ import annotations

import io

from rich.console import Console

from edgecloud.bench.scenario_client import Answer
from edgecloud.bench.scenario_report import ScenarioResults
from edgecloud.demo_story import print_story, verdicts

PRICES = {"edge": (0.0, 0.0), "cloud": (0.5, 1.5)}


def _answers(hybrid_right: int, hybrid_cloud: int) -> list[Answer]:
    """Ten labeled items: the edge gets 4 right, the cloud 8; hybrid gets `hybrid_right` right and sends
    `hybrid_cloud` to the cloud (answered in 2 s there, 0.5 s on the edge; cloud-only, queued, in 3 s)."""
    out = []
    for i in range(10):
        out.append(Answer(i, "labeled", "edge-only", tier="edge", ttft_s=0.5, suite="s", score=float(i < 4)))
        out.append(
            Answer(i, "labeled", "cloud-only", tier="cloud", ttft_s=3.0, suite="s", score=float(i < 8))
        )
        cloud = i < hybrid_cloud
        score = float(i < hybrid_right)
        ttft = 2.0 if cloud else 0.5
        out.append(
            Answer(
                i, "labeled", "hybrid", tier="cloud" if cloud else "edge", ttft_s=ttft, suite="s", score=score
            )
        )
    return out


def _results(answers: list[Answer]) -> ScenarioResults:
    return ScenarioResults({}, 0.04, answers, {}, [], PRICES)


def test_a_hybrid_that_does_its_job_meets_every_goal_and_the_table_is_whole_in_a_file() -> None:
    results = _results(_answers(hybrid_right=8, hybrid_cloud=4))
    lines = verdicts(results)
    assert all(line.startswith("[green]met") for line in lines), lines
    buffer = io.StringIO()
    print_story(results, Console(file=buffer, width=160))
    text = buffer.getvalue()
    assert all(p in text for p in ("edge-only", "cloud-only", "hybrid")) and "…" not in text
    assert "100.0% of cloud-only" in text and "40% of requests" in text


def test_a_goal_that_is_missed_is_said_plainly() -> None:
    lines = verdicts(_results(_answers(hybrid_right=5, hybrid_cloud=7)))
    missed = [line for line in lines if line.startswith("[yellow]missed")]
    assert len(missed) == 2  # 62.5% of cloud quality, 70% of requests on the cloud; TTFT still met
    assert "62.5% of cloud-only" in missed[0] and "70% of requests" in missed[1]
