"""`edgecloud simulate SCENARIO --out DIR` writes report.json with every figure and a self-contained
report.html with its plots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edgecloud.cli import app

SMALL = Path(__file__).parents[2] / "examples" / "scenarios" / "small.yaml"


def test_simulate_writes_the_json_and_html_reports(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", str(SMALL), "--requests", "4000", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"] == 4000
    assert {"edge", "cloud"} == set(report["tiers"])
    assert report["tiers"]["edge"]["ttft"]["p95_ms"] > 0 and report["tiers"]["cloud"]["e2e"]["p50_ms"] > 0
    assert 0 <= report["slo"]["ttft_attainment"] <= 1
    assert {"utilisation", "queue_wait", "rejected_429", "replica_hours"} <= set(report["cloud"])
    assert report["cost"]["total"] == pytest.approx(
        report["cost"]["tokens"] + report["cost"]["replicas"], abs=2e-4
    )
    assert report["energy"]["kiosk-smollm2-1t"]["joules"] > 0
    shares = report["placements"]["by_policy"]
    assert abs(sum(shares.values()) - 1) < 1e-3 and "task -> edge" in shares
    assert report["run"]["events_per_s"] > 0
    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 6
    assert "events/s" in result.output
