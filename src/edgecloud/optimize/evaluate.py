"""The report every optimize command ends with: the original and the optimized model measured side by
side in one run (HF folders through subjects/measure, GGUF files through llama.cpp), as one dict that
report.py writes to report.json and report.html."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgecloud.optimize.artifact import size_on_disk

Tick = Callable[[], None]


@dataclass(frozen=True)
class MeasureSettings:
    """How much to measure: the defaults take about a minute for MiniLM; tests use far less."""

    threads: int = 2
    sentences: int = 256  # held-out sentences for quality
    speed_sentences: int = 128  # sentences per speed repeat (4 batches of 32)
    single: int = 16  # batch 1 forwards per repeat
    repeats: int = 3
    gguf_tokens: int = 512  # fixed text length for perplexity
    gguf_new_tokens: int = 64  # decode tokens per repeat


def held_out_texts(n: int) -> list[str]:
    """Rotten Tomatoes test-split snippets: never in a training or calibration split."""
    from edgecloud.datasets.rotten_tomatoes import load_snippets

    return [snippet.text for snippet in load_snippets("test")[:n]]


def hf_steps(settings: MeasureSettings) -> int:
    return 2 * settings.repeats + 1


def measure_hf(original: Path, optimized: Path, settings: MeasureSettings, tick: Tick) -> dict[str, Any]:
    from edgecloud.optimize.measure import measure_speed, quality
    from edgecloud.optimize.subjects import load_subject

    base = load_subject(original, "original", threads=settings.threads)
    candidate = load_subject(optimized, "optimized", threads=settings.threads)
    texts = held_out_texts(max(settings.sentences, settings.speed_sentences))
    speeds = measure_speed(
        [base, candidate],
        texts[: settings.speed_sentences],
        repeats=settings.repeats,
        single=settings.single,
        tick=tick,
    )
    scores = quality(base, candidate, texts[: settings.sentences])
    tick()
    variants = [
        {
            "label": s.label,
            "path": str(s.path),
            "format": s.format,
            "size_bytes": s.size_bytes,
            "parameters": s.parameters,
            "load_seconds": s.load_seconds,
            **asdict(speeds[s.label]),
        }
        for s in (base, candidate)
    ]
    return {"kind": candidate.kind, "variants": variants, "quality": scores, "ratios": _ratios(variants)}


def _ratios(variants: list[dict[str, Any]]) -> dict[str, float]:
    """optimized / original for speeds, original / optimized for sizes and latencies (bigger = better)."""
    a, b = variants
    ratios: dict[str, float] = {}
    for key in ("throughput_b32", "throughput_b1", "decode_tok_s"):
        if a.get(key) and b.get(key):
            ratios[key] = b[key] / a[key]
    for key in ("size_bytes", "latency_ms_b1", "parameters"):
        if a.get(key) and b.get(key):
            ratios[key] = a[key] / b[key]
    return ratios


def gguf_steps(settings: MeasureSettings) -> int:
    return 2 * settings.repeats + 2


def measure_gguf(original: Path, optimized: Path, settings: MeasureSettings, tick: Tick) -> dict[str, Any]:
    from edgecloud.optimize.gguf import interleaved_decode, timed_open, token_scores, tokenize

    text = " ".join(held_out_texts(120))
    opened = {
        "original": timed_open(original, threads=settings.threads, n_ctx=settings.gguf_tokens + 64),
        "optimized": timed_open(optimized, threads=settings.threads, n_ctx=settings.gguf_tokens + 64),
    }
    models = {label: llm for label, (llm, _) in opened.items()}
    scores = {}
    for label, llm in models.items():
        scores[label] = token_scores(llm, tokenize(llm, text, settings.gguf_tokens))
        tick()
    rates = interleaved_decode(models, text, settings.gguf_new_tokens, settings.repeats, tick)
    variants = [
        {
            "label": label,
            "path": str(path),
            "format": "gguf",
            "size_bytes": size_on_disk(path),
            "load_seconds": opened[label][1],
            "decode_tok_s": statistics.median(rates[label]),
            "decode_tok_s_best": max(rates[label]),
            "perplexity": scores[label].perplexity,
        }
        for label, path in (("original", original), ("optimized", optimized))
    ]
    for llm in models.values():
        llm.close()
    agreement = float((scores["original"].argmax == scores["optimized"].argmax).mean())
    quality = {
        "perplexity_original": scores["original"].perplexity,
        "perplexity": scores["optimized"].perplexity,
        "greedy_agreement": agreement,
        "tokens": float(len(scores["original"].logprobs)),
    }
    return {"kind": "decoder", "variants": variants, "quality": quality, "ratios": _ratios(variants)}


def report_header(method: str, source: str, out: Path, settings: MeasureSettings) -> dict[str, Any]:
    return {
        "method": method,
        "source": source,
        "output": str(out),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "settings": asdict(settings),
    }
