"""The hybrid report renders with its plots in a real browser (headless Chromium, when installed):
the screenshot carries the plot colours, which only the decoded inline PNGs can put there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from edgecloud.bench.plots import COLOURS
from edgecloud.bench.report import write_report
from edgecloud.bench.scenario_report import ScenarioResults, build_report
from tests.conftest import require_tool
from tests.unit.test_report import answers_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, require_tool(CHROMIUM, "chromium", "make system-deps")]


def share_of_colour(pixels: np.ndarray, hex_colour: str) -> float:
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    close = np.all(np.abs(pixels[..., :3] - rgb) < 0.02, axis=-1)
    return float(close.mean())


def test_headless_chromium_draws_the_report_with_its_plots(tmp_path: Path) -> None:
    main = [a for p in ("edge-only", "cloud-only", "hybrid") for c in (1, 4) for a in answers_for(p, c)]
    walls = {(p, c): 4.0 / c for p in ("edge-only", "cloud-only", "hybrid") for c in (1, 4)}
    results = ScenarioResults({}, 0.08, main, walls, main, {"edge": (0.0, 0.0), "cloud": (0.5, 1.5)})
    _, html = write_report(build_report(results), tmp_path)
    shot = tmp_path / "shot.png"
    assert CHROMIUM is not None
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            html.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pixels = image.imread(shot)
    assert share_of_colour(pixels, COLOURS["cloud-only"]) > 0.0005  # the CDF and sweep lines
    assert share_of_colour(pixels, COLOURS["edge-only"]) > 0.0005
