"""eval's files: records as JSON lines, a summary JSON, and for cascades a self-contained HTML page
with the trade-off plot (matplotlib, embedded as PNG)."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edgecloud.eval.harness import SuiteSummary
from edgecloud.routing.curve import Tradeoff


def tradeoff_dict(curve: Tradeoff) -> dict[str, Any]:
    half = curve.at_share(0.5)
    reach = curve.share_for(0.95)
    return {
        "method": curve.method,
        "signal": curve.signal,
        "edge_accuracy": curve.edge_accuracy,
        "cloud_accuracy": curve.cloud_accuracy,
        "at_50pct_cloud": {"accuracy": half.accuracy, "random_baseline": half.random_baseline},
        "cloud_share_for_95pct_of_cloud": None if reach is None else reach.cloud_share,
        "points": [asdict(p) for p in curve.points],
    }


def tradeoff_png(curve: Tradeoff) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    shares = [p.cloud_share * 100 for p in curve.points]
    ax.plot(shares, [p.accuracy * 100 for p in curve.points], label=f"cascade on {curve.signal}")
    ax.plot(shares, [p.random_baseline * 100 for p in curve.points], "--", label="random routing")
    ax.axhline(curve.cloud_accuracy * 100, color="grey", lw=0.8, label="cloud only")
    ax.set_xlabel("share of requests sent to the cloud (%)")
    ax.set_ylabel(f"accuracy ({curve.method}, %)")
    ax.set_title("Cascade trade-off")
    ax.grid(alpha=0.3)
    ax.legend()
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def write_cascade_report(
    out: Path, edge: SuiteSummary, cloud: SuiteSummary, curves: Sequence[Tradeoff]
) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "edge": edge.to_dict(),
        "cloud": cloud.to_dict(),
        "tradeoffs": [tradeoff_dict(c) for c in curves],
    }
    (out / "report.json").write_text(json.dumps(payload, indent=2))
    sections = []
    for curve in curves:
        image = base64.b64encode(tradeoff_png(curve)).decode()
        facts = tradeoff_dict(curve)
        sections.append(
            f"<h2>{html.escape(curve.method)} by {html.escape(curve.signal)}</h2>"
            f"<p>edge {curve.edge_accuracy:.1%}, cloud {curve.cloud_accuracy:.1%}; at 50% cloud calls "
            f"{facts['at_50pct_cloud']['accuracy']:.1%} (random routing "
            f"{facts['at_50pct_cloud']['random_baseline']:.1%})</p>"
            f'<img alt="trade-off" src="data:image/png;base64,{image}">'
        )
    title = (
        f"edgecloud eval: {html.escape(edge.suite)} — {html.escape(edge.model)} vs {html.escape(cloud.model)}"
    )
    page = f"<!doctype html><meta charset=utf-8><title>{title}</title><h1>{title}</h1>{''.join(sections)}"
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
