"""report.json and report.html for an optimized folder: the variants side by side, the quality figures,
the ratios and the notes, with a bar chart (matplotlib, Agg) embedded as base64 so the page is one file."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

COLUMNS: tuple[tuple[str, str], ...] = (
    ("size_bytes", "size (MB)"),
    ("parameters", "parameters (M)"),
    ("load_seconds", "load (s)"),
    ("latency_ms_b1", "latency b1 (ms)"),
    ("throughput_b1", "b1 (sent/s)"),
    ("throughput_b32", "b32 (sent/s)"),
    ("decode_tok_s", "decode (tok/s)"),
    ("perplexity", "perplexity"),
)


def cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "size_bytes":
        return f"{value / 1e6:,.1f}"
    if key == "parameters":
        return f"{value / 1e6:,.2f}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def write_report(out: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / "report.json", out / "report.html"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    html_path.write_text(render_html(report))
    return json_path, html_path


def _columns(variants: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(key, title) for key, title in COLUMNS if any(v.get(key) is not None for v in variants)]


def render_html(report: dict[str, Any]) -> str:
    variants = report.get("variants", [])
    columns = _columns(variants)
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    rows = "".join(
        f"<tr><td>{html.escape(v['label'])}</td>"
        + "".join(f"<td>{cell(k, v.get(k))}</td>" for k, _ in columns)
        + "</tr>"
        for v in variants
    )
    pairs = lambda d: "".join(  # noqa: E731
        f"<tr><td>{html.escape(str(k))}</td><td>{cell(k, v)}</td></tr>" for k, v in d.items()
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.get("notes", []))
    chart = _chart(variants)
    image = f'<img alt="comparison chart" src="data:image/png;base64,{chart}">' if chart else ""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>edgecloud optimize report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}</style>
</head><body><h1>{html.escape(report.get("method", ""))}: {html.escape(report.get("source", ""))}</h1>
<p>output {html.escape(report.get("output", ""))}, {html.escape(report.get("created", ""))},
{report.get("settings", {}).get("threads", "?")} threads on both sides, measured in one run (interleaved)</p>
<h2>Variants</h2><table><tr><th>variant</th>{head}</tr>{rows}</table>
<h2>Quality against the original</h2><table>{pairs(report.get("quality", {}))}</table>
<h2>Ratios (bigger is better)</h2><table>{pairs(report.get("ratios", {}))}</table>
{image}<h2>Notes</h2><ul>{notes}</ul>
<h2>Details</h2><pre>{html.escape(json.dumps(report.get("details", {}), indent=2))}</pre></body></html>
"""


def _chart(variants: list[dict[str, Any]]) -> str:
    """Bars per metric, the original and the optimized model side by side; base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [(k, t) for k, t in _columns(variants) if k not in ("parameters", "load_seconds")]
    if not metrics or not variants:
        return ""
    figure, axes = plt.subplots(1, len(metrics), figsize=(3 * len(metrics), 3))
    for axis, (key, title) in zip([axes] if len(metrics) == 1 else list(axes), metrics, strict=True):
        values = [float(v.get(key) or 0) / (1e6 if key == "size_bytes" else 1) for v in variants]
        axis.bar([v["label"] for v in variants], values, color=["#888", "#2a7"][: len(values)])
        axis.set_title(title, fontsize=9)
        axis.tick_params(labelsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()
