"""`edgecloud optimize compare`: several optimized variants in one table, read from their report.json.
Each row is a variant with its own original measured in the same run, so the ratios are comparable
across rows even where the absolute speeds of separate runs are not."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Column, Table

from edgecloud.errors import ModelFileError
from edgecloud.optimize.report import cell

_QUALITY = ("mean_cosine", "nn_agreement", "label_agreement", "perplexity", "greedy_agreement")


def load_reports(dirs: Sequence[Path]) -> list[dict[str, Any]]:
    reports = []
    for folder in dirs:
        path = folder / "report.json" if folder.is_dir() else folder
        if not path.is_file():
            raise ModelFileError(f"{folder}: no report.json (run an `edgecloud optimize` command first)")
        try:
            reports.append(json.loads(path.read_text()))
        except json.JSONDecodeError as exc:
            raise ModelFileError(f"{path}: not valid JSON ({exc})") from None
    return reports


def report_table(reports: Sequence[dict[str, Any]]) -> Table:
    table = Table(
        Column("variant", no_wrap=True),
        "method",
        "size MB",
        "params M",
        "b1 ms",
        "b32 sent/s",
        "decode tok/s",
        "speed-up",
        "size ×",
        *_QUALITY,
        title="edgecloud optimize: each row vs its original, same run",
    )
    for report in reports:
        original, optimized = report["variants"][0], report["variants"][-1]
        sizes = (cell("size_bytes", v.get("size_bytes")) for v in (optimized, original))
        size = "{} (of {})".format(*sizes)
        ratios, quality = report.get("ratios", {}), report.get("quality", {})
        speedup = ratios.get("throughput_b32") or ratios.get("decode_tok_s")
        table.add_row(
            Path(report.get("output", "?")).name,
            report.get("method", "?"),
            size,
            cell("parameters", optimized.get("parameters")),
            cell("latency_ms_b1", optimized.get("latency_ms_b1")),
            cell("throughput_b32", optimized.get("throughput_b32")),
            cell("decode_tok_s", optimized.get("decode_tok_s")),
            "-" if speedup is None else f"{speedup:.2f}×",
            "-" if not ratios.get("size_bytes") else f"{ratios['size_bytes']:.2f}×",
            *(cell(key, quality.get(key)) for key in _QUALITY),
        )
    return table
