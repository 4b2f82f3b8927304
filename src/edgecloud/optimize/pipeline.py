"""One optimize run from a model name to a measured folder: resolve the source through the catalogue,
apply the method, measure the result beside the original, write the report. The CLI only parses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecloud.catalogue import Catalogue, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.optimize.evaluate import (
    MeasureSettings,
    gguf_steps,
    hf_steps,
    measure_gguf,
    measure_hf,
    report_header,
)
from edgecloud.optimize.report import write_report

Progress = Callable[[str, int], Callable[[], None]]  # (stage, total steps) -> tick


@dataclass(frozen=True)
class Source:
    name: str  # what the user typed (catalogue name or path)
    spec: ModelSpec
    path: Path  # materialised file or folder


def resolve_source(model: str) -> Source:
    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(model)
    return Source(model, spec, catalogue.materialize(spec))


def measure_and_report(
    method: str,
    source: Source,
    out: Path,
    settings: MeasureSettings,
    progress: Progress,
    *,
    notes: list[str],
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Measures out against the source (llama.cpp for GGUF, else the HF path) and writes both reports."""
    from edgecloud.optimize.gguf import GGUF_FILE

    report = report_header(method, source.name, out, settings)
    if source.path.suffix == ".gguf":
        tick = progress("measure (llama.cpp)", gguf_steps(settings))
        report |= measure_gguf(source.path, out / GGUF_FILE, settings, tick)
    else:
        tick = progress("measure", hf_steps(settings))
        report |= measure_hf(source.path, out, settings, tick)
    report["notes"] = notes + _speed_notes(report)
    report["details"] = details or {}
    write_report(out, report)
    return report


def _speed_notes(report: dict[str, Any]) -> list[str]:
    threads = report["settings"]["threads"]
    if report.get("kind") == "decoder" and report["variants"][0].get("decode_tok_s") is not None:
        return [
            f"decode tok/s: greedy, one token per llama_decode after a prefill, median over repeats, "
            f"{threads} threads for both files; perplexity and greedy agreement from llama.cpp's logits "
            "on the same fixed held-out text"
        ]
    return [
        f"speed: model forward only (tokenization is the same on both sides), {threads} threads for both, "
        "repeats interleaved in one run; held-out Rotten Tomatoes test-split snippets"
    ]
