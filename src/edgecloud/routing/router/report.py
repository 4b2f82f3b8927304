"""The router's held-out report: report.json and a self-contained report.html with the quality/cloud-share
curves (every candidate, random, cascade, oracle), RouteLLM's metrics and the per-suite view."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any


def curves_png(report: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.2, 4.6), dpi=110)
    for name, facts in report["curves"].items():
        style = "--" if name == "random" else (":" if name == "oracle" else "-")
        width = 2.4 if name == report["chosen"] else 1.2
        label = f"{name} (APGR {facts['apgr']:.2f})"
        ax.plot(
            [s * 100 for s in facts["shares"]],
            [q * 100 for q in facts["quality"]],
            style,
            lw=width,
            label=label,
        )
    point = report["operating_point"]
    ax.plot(
        [point["cloud_share"] * 100], [point["quality"] * 100], "o", color="black", label="shipped threshold"
    )
    ax.set_xlabel("share of requests sent to the cloud (%)")
    ax.set_ylabel("quality against gold answers (%)")
    ax.set_title(f"Quality routing on {report['test_items']} held-out items")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:.0%}" if percent else f"{value:.2f}"


def _curve_rows(report: dict[str, Any]) -> str:
    rows = []
    for name, c in report["curves"].items():
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_fmt(c['apgr'])}</td><td>{_fmt(c['cpt50'], True)}</td>"
            f"<td>{_fmt(c['cpt80'], True)}</td><td>{_fmt(c['quality_at_50pct'], True)}</td></tr>"
        )
    head = (
        "<tr><th>router</th><th>APGR</th><th>CPT(50%)</th><th>CPT(80%)</th><th>quality at 50% cloud</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _suite_rows(report: dict[str, Any]) -> str:
    rows = []
    for s in report["per_suite"]:
        rows.append(
            f"<tr><td>{html.escape(s['suite'])}</td><td>{s['n']}</td><td>{_fmt(s['edge'], True)}</td>"
            f"<td>{_fmt(s['cloud'], True)}</td>"
            f"<td>{'yes' if s['tiers_differ'] else 'no'} (p={s['p_value']:.2g})</td>"
            f"<td>{_fmt(s['router_apgr'])}</td><td>{_fmt(s['cascade_apgr'])}</td>"
            f"<td>{_fmt(s['oracle_apgr'])}</td></tr>"
        )
    head = (
        "<tr><th>suite</th><th>n</th><th>edge</th><th>cloud</th><th>tiers differ</th><th>router APGR</th>"
        "<th>cascade APGR</th><th>oracle APGR</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def write_report(out: Path, report: dict[str, Any], title: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    image = base64.b64encode(curves_png(report)).decode()
    point = report["operating_point"]
    body = (
        f"<h1>{html.escape(title)}</h1>"
        f"<p>Chosen router: <b>{html.escape(report['chosen'])}</b>. "
        f"At its threshold {point['threshold']:.3f}: "
        f"{point['cloud_share']:.0%} of requests to the cloud, quality {point['quality']:.1%} = "
        f"{point['of_cloud_quality']:.1%} of cloud-only ({point['cloud_quality']:.1%}); edge-only "
        f"{point['edge_quality']:.1%}.</p>"
        f'<img alt="quality against cloud share" src="data:image/png;base64,{image}">'
        f"<h2>Pooled over {report['test_items']} held-out items</h2>{_curve_rows(report)}"
        "<p>APGR: area under the share of the edge-cloud gap recovered, over cloud share 0-100%; "
        "random = 0.5. "
        "CPT(x): cloud share needed to recover x of the gap.</p>"
        f"<h2>Per suite (the chosen router)</h2>{_suite_rows(report)}"
    )
    style = (
        "<style>body{font-family:sans-serif;max-width:960px}td,th{padding:2px 10px;text-align:right}</style>"
    )
    page = f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>{style}{body}"
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
