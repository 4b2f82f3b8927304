"""The benchmark report format every `edgecloud bench` command writes: a title, headline figures,
sections of text, tables and figures, and the raw data. `write_report(report, DIR)` writes
`DIR/report.json` (everything but the pictures) and `DIR/report.html` (self-contained: plots are
base64 PNGs inline, styles inline, no script, nothing fetched), so a report can be mailed or archived.

Figures are matplotlib figures rendered with the Agg backend, without pyplot's global state."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # never a window, never a display: `make bench` opens nothing

from matplotlib.figure import Figure as MplFigure

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Figure:
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class Section:
    title: str
    text: str = ""
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()


@dataclass(frozen=True)
class Report:
    title: str
    kind: str  # engine | gateway | scenario-hybrid
    headline: Mapping[str, Cell] = field(default_factory=dict)  # the few numbers a reader wants first
    sections: tuple[Section, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)  # raw results and samples, JSON-able
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def new_figure(width: float = 7.0, height: float = 3.6) -> MplFigure:
    """A matplotlib figure not registered with pyplot (no global state, freed when dropped)."""
    return MplFigure(figsize=(width, height), layout="constrained")


def figure(fig: MplFigure, title: str, caption: str = "") -> Figure:
    """Renders a matplotlib figure to PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return Figure(title, buffer.getvalue(), caption)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Table:
    return Table(title, tuple(columns), tuple(tuple(row) for row in rows))


def cell_text(value: Cell) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):  # bool too
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "–"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "title": report.title,
        "kind": report.kind,
        "created": report.created,
        "headline": dict(report.headline),
        "sections": [
            {
                "title": section.title,
                "text": section.text,
                "tables": [
                    {"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
                    for t in section.tables
                ],
                "figures": [{"title": f.title, "caption": f.caption} for f in section.figures],
            }
            for section in report.sections
        ],
        "data": report.data,
    }


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222}
h1{margin-bottom:.2em} .meta{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.6em 0 1.2em} th,td{border:1px solid #ccc;padding:.25em .6em}
th{background:#f2f2f2;text-align:left} td.n{text-align:right;font-variant-numeric:tabular-nums}
.headline td:first-child{font-weight:600} figure{margin:1em 0} figcaption{color:#555;font-size:.9em}
img{max-width:100%;border:1px solid #eee} section{border-top:1px solid #ddd;margin-top:1.5em}
"""


def render_html(report: Report) -> str:
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(report.title)}</h1>",
        f'<p class="meta">{esc(report.kind)} · {esc(report.created)}</p>',
    ]
    if report.headline:
        rows = tuple((key, value) for key, value in report.headline.items())
        parts.append(_table_html(Table("", ("figure", "value"), rows), css="headline"))
    for section in report.sections:
        parts.append(f"<section><h2>{esc(section.title)}</h2>")
        if section.text:
            parts.extend(f"<p>{esc(paragraph)}</p>" for paragraph in section.text.split("\n\n"))
        parts.extend(_table_html(t) for t in section.tables)
        parts.extend(_figure_html(f) for f in section.figures)
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _table_html(t: Table, css: str = "") -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in t.columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{esc(cell_text(v))}</td>'
            if isinstance(v, int | float)
            else f"<td>{esc(cell_text(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in t.rows
    )
    caption = f"<caption>{esc(t.title)}</caption>" if t.title else ""
    return f'<table class="{css}">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure_html(f: Figure) -> str:
    data = base64.b64encode(f.png).decode("ascii")
    caption = html.escape(f.caption or f.title)
    image = f'<img alt="{html.escape(f.title)}" src="data:image/png;base64,{data}">'
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def write_report(report: Report, out_dir: Path) -> tuple[Path, Path]:
    """Writes DIR/report.json and DIR/report.html; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out_dir / "report.json", out_dir / "report.html"
    json_path.write_text(json.dumps(to_json(report), indent=2, default=_jsonable))
    html_path.write_text(render_html(report))
    return json_path, html_path


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_output(out: Path | None, raw: Mapping[str, Any], build: Callable[[], Report]) -> Path | None:
    """The `--out` convention of the bench commands: a `.json` path gets the raw results as before;
    any other path is a folder that gets report.json and report.html. Returns the HTML path, if any."""
    if out is None:
        return None
    if out.suffix == ".json":
        out.write_text(json.dumps(raw, indent=2, default=_jsonable))
        return None
    return write_report(build(), out)[1]
