"""report.json and report.html for a run: the summary figures, and plots (matplotlib, Agg backend,
embedded as base64 PNG so the page is one self-contained file)."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.sim.fleet import CLOUD, EDGE
from edgecloud.sim.run import SimResult

COLOURS = {"edge": "#2a9d8f", "cloud": "#e76f51"}


def write_report(result: SimResult, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path = out / "report.json"
    json_path.write_text(json.dumps(result.summary, indent=2) + "\n")
    html_path = out / "report.html"
    html_path.write_text(render_html(result))
    return json_path, html_path


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _latency_plot(result: SimResult, field: str, title: str) -> str:
    import matplotlib.pyplot as plt

    outcome = result.outcome
    values = getattr(outcome, field)
    figure, axis = plt.subplots(figsize=(6.4, 3.4))
    for code, name in ((EDGE, "edge"), (CLOUD, "cloud")):
        seconds = values[(outcome.tier == code) & ~np.isnan(values)]
        if len(seconds):
            shares = np.linspace(0.0, 1.0, 1001)  # the CDF at 1,001 quantiles, not a point per request
            axis.plot(np.quantile(seconds, shares) * 1e3, shares, label=name, color=COLOURS[name])
    if field == "ttft":
        axis.axvline(result.scenario.slo.ttft_ms, color="grey", linestyle="--", label="SLO")
    axis.set_xscale("log")
    axis.set_xlabel("milliseconds")
    axis.set_ylabel("share of requests")
    axis.set_title(title)
    axis.legend(loc="lower right")
    return _png(figure)


def _queue_plot(result: SimResult) -> str:
    import matplotlib.pyplot as plt

    samples = np.array(result.outcome.queue_samples or [(0.0, 0, 0, 0)], dtype=float)
    minutes = samples[:, 0] / 60
    figure, axis = plt.subplots(figsize=(6.4, 3.0))
    axis.plot(minutes, samples[:, 3], color="#457b9d", label="decoding")
    axis.plot(minutes, samples[:, 1], color=COLOURS["cloud"], label="queued")
    capacity = samples[:, 2] * result.scenario.cloud.max_batch
    axis.step(minutes, capacity, color="grey", where="post", linestyle="--", label="batch slots")
    axis.set_xlabel("minutes")
    axis.set_ylabel("sequences")
    axis.set_title("cloud: sequences decoding and queued (at each probe), batch slots")
    axis.legend(loc="upper right")
    return _png(figure)


def _bar_plot(labels: list[str], values: list[float], title: str, unit: str) -> str:
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6.4, 0.45 * len(labels) + 1.2))
    axis.barh(labels[::-1], values[::-1], color="#457b9d")
    axis.set_xlabel(unit)
    axis.set_title(title)
    return _png(figure)


def render_html(result: SimResult) -> str:
    import matplotlib

    matplotlib.use("Agg")
    summary = result.summary
    placements = summary["placements"]["by_policy"]
    energy = summary["energy"]
    slo = summary["slo"]
    plots = [
        _latency_plot(result, "ttft", "time to first token per tier (CDF)"),
        _latency_plot(result, "e2e", "end-to-end latency per tier (CDF)"),
        _bar_plot(
            ["all", "edge", "cloud"],
            [
                slo["ttft_attainment"] or 0,
                slo["edge_ttft_attainment"] or 0,
                slo["cloud_ttft_attainment"] or 0,
            ],
            f"TTFT SLO attainment (<= {slo['ttft_ms']:g} ms)",
            "share of requests",
        ),
        _queue_plot(result),
        _bar_plot(
            list(placements), list(placements.values()), "requests per placement (policy -> tier)", "share"
        ),
        _bar_plot(
            list(energy),
            [figures["joules_per_device"] for figures in energy.values()],
            "edge energy per device over the run",
            "joules",
        ),
    ]
    images = "\n".join(f'<img alt="plot" src="data:image/png;base64,{png}">' for png in plots)
    cost = summary["cost"]
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>edgecloud simulation: {html.escape(str(summary["scenario"]))}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}img{{display:block;margin:1em 0}}
pre{{background:#f4f4f4;padding:1em;overflow:auto;font-size:12px}}</style></head><body>
<h1>Fleet simulation: {html.escape(str(summary["scenario"]))}</h1>
<p>{summary["requests"]:,} requests over {summary["devices"]:,} devices;
TTFT SLO attainment {slo["ttft_attainment"]:.1%}; cost {cost["total"]:.2f}
(tokens {cost["tokens"]:.2f}, replicas {cost["replicas"]:.2f}).</p>
{images}
<h2>All figures (report.json)</h2>
<pre>{html.escape(json.dumps(summary, indent=2))}</pre>
</body></html>
"""
