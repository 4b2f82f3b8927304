"""The GPU bench's sections in order of value, each within a time budget: decode throughput through the
scheduler, the bare forward step, greedy parity against the CPU path, then embeddings. A section that
fails is recorded and the next one runs; the report is rewritten after each, so a run cut short still
leaves what it measured."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from edgecloud.bench.batching import prompts
from edgecloud.bench.gpu import decode, embed, parity, profile
from edgecloud.bench.gpu.engines import load_decoder, load_encoder, local_spec
from edgecloud.catalogue import Catalogue
from edgecloud.config import default_cache_dir
from edgecloud.runtimes.device import CPU, Device, resolve_device

Say = Callable[[str], None]


@dataclass(frozen=True)
class GpuBenchConfig:
    model: str = "smollm2-135m-instruct"
    embed_model: str = "all-minilm-l6-v2"
    device: str = "auto"
    precision: str = "auto"
    levels: tuple[int, ...] = (1, 16, 64, 256)
    max_tokens: int = 128
    sequential: int = 16  # prompts answered one after another for the baseline rate
    parity_prompts: int = 16
    parity_tokens: int = 64
    embed_texts: int = 2048
    embed_batch: int = 32
    threads: int | None = None  # CPU threads for the CPU baselines (default: all cores)
    budget_s: float = 420.0
    sections: tuple[str, ...] = ("decode", "forward_step_ms", "profile", "parity", "embeddings")
    out: Path | None = None
    cache_dir: Path = field(default_factory=default_cache_dir)


def environment(device: Device) -> dict[str, Any]:
    import torch
    import transformers

    return {
        "device": device.label,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }


def run_gpu_bench(config: GpuBenchConfig, say: Say) -> dict[str, Any]:
    """Every section's figures in one dict (also written to config.out as it grows)."""
    device = resolve_device(config.device, config.precision)
    report: dict[str, Any] = {"config": _plain(config), "environment": environment(device), "errors": {}}
    say(f"environment: {report['environment']}")
    started = time.perf_counter()
    catalogue = Catalogue(config.cache_dir)
    spec = local_spec(catalogue, config.model)
    decoder = load_decoder(spec, device, n_ctx=2048, threads=config.threads)
    say(f"loaded {config.model} on {device.label} in {time.perf_counter() - started:.1f}s")
    sections: list[tuple[str, Callable[[], Any]]] = [
        ("decode", lambda: _decode(decoder, device, config, started, say)),
        ("forward_step_ms", lambda: _forward(decoder, config, say)),
        ("profile", lambda: _profile(decoder, device, config, say)),
        ("parity", lambda: _parity(decoder, spec, device, config, say)),
        ("embeddings", lambda: _embeddings(catalogue, device, config, say)),
    ]
    for name, section in sections:
        if name not in config.sections:
            continue
        if time.perf_counter() - started > config.budget_s:
            report["errors"][name] = "skipped: the time budget was spent"
            continue
        try:
            report[name] = section()
        except Exception as exc:  # one broken section must not cost the others' figures
            report["errors"][name] = f"{type(exc).__name__}: {exc}"
            say(f"[red]{name} failed[/]: {type(exc).__name__}: {exc}")
        report["seconds"] = round(time.perf_counter() - started, 1)
        _write(config.out, report)
    return report


def _decode(decoder: Any, device: Device, config: GpuBenchConfig, started: float, say: Say) -> dict[str, Any]:
    defaults = device.batch_defaults
    batcher = decode.open_batcher(decoder, max(max(config.levels), 1), defaults.max_batch_tokens)
    texts = prompts(max(max(config.levels), config.sequential))
    try:
        asyncio.run(decode.burst(batcher, decoder, texts[:2], 4))  # warm-up: allocations, kernel choice
        alone = asyncio.run(
            decode.one_after_another(batcher, decoder, texts[: config.sequential], config.max_tokens)
        )
        sequential = sum(a.tokens for a in alone) / sum(a.seconds for a in alone)
        result: dict[str, Any] = {
            "sequential_tok_s": sequential,
            "sequential_ttft_p50_s": sorted(a.ttft for a in alone)[len(alone) // 2],
            "levels": [],
        }
        say(f"sequential: {sequential:.1f} tok/s over {len(alone)} requests")
        for level in config.levels:
            if time.perf_counter() - started > config.budget_s:
                say(f"C={level} skipped: the time budget was spent")
                break
            answers, wall = asyncio.run(decode.burst(batcher, decoder, texts[:level], config.max_tokens))
            row = decode.level_of(level, answers, wall).as_dict()
            row["speedup"] = row["tok_s"] / sequential
            result["levels"].append(row)
            say(f"C={level}: {row['tok_s']:.0f} tok/s ({row['speedup']:.1f}x sequential), TTFT p50 "
                f"{row['ttft_p50_s'] * 1000:.0f} ms p95 {row['ttft_p95_s'] * 1000:.0f} ms, "
                f"{row['step_ms']:.1f} ms/step")  # fmt: skip
        return result
    finally:
        batcher.stop(timeout=30)


def _forward(decoder: Any, config: GpuBenchConfig, say: Say) -> dict[str, float]:
    steps = {str(b): decode.forward_step_ms(decoder, b, width=64) for b in config.levels}
    say("bare forward step (ms): " + ", ".join(f"B={b}: {ms:.2f}" for b, ms in steps.items()))
    return steps


def _profile(decoder: Any, device: Device, config: GpuBenchConfig, say: Say) -> dict[str, Any]:
    """Launch-bound or GPU-bound: kernels per step, eager vs CUDA-graph step, the batch without the
    scheduler thread (GPU only: the CPU has no kernel launches to count)."""
    if device.kind != "cuda":
        return {"skipped": "no GPU"}
    result: dict[str, Any] = {}
    for size in config.levels:
        row: dict[str, Any] = {}
        probes: dict[str, Callable[[], Any]] = {  # timings first: a profiler run may slow what follows
            "engine": lambda: profile.engine_step_ms(decoder, prompts(size), 32),  # noqa: B023
            "graph_ms": lambda: profile.graph_step_ms(decoder, size),  # noqa: B023
            "eager": lambda: profile.kernels_per_step(decoder, size),  # noqa: B023
        }
        for key, probe in probes.items():
            try:  # each probe on its own: a CUDA-graph capture fails on a model that syncs in forward
                row[key] = probe()
            except Exception as exc:
                row[key] = f"failed: {type(exc).__name__}: {exc}"[:300]
        result[str(size)] = row
        say(f"profile B={size}: {row}")
    try:
        result["trace"] = profile.step_trace(decoder, prompts(max(config.levels)))
        say(f"one step at B={max(config.levels)}, costliest ops: {result['trace']}")
    except Exception as exc:
        result["trace"] = f"failed: {type(exc).__name__}: {exc}"[:300]
    return result


def _parity(
    decoder: Any, spec: Any, device: Device, config: GpuBenchConfig, say: Say
) -> list[dict[str, Any]]:
    texts = prompts(config.parity_prompts)
    cpu = load_decoder(spec, CPU, n_ctx=2048, threads=config.threads)
    reference = parity.greedy_tokens(cpu, texts, config.parity_tokens)
    results = [parity.compare(reference, parity.greedy_tokens(decoder, texts, config.parity_tokens),
                              (CPU.label, device.label))]  # fmt: skip
    if device.kind == "cuda":  # fp32 on the GPU too: kernels alone, without bf16's rounding
        fp32 = replace(device, dtype="float32", label=device.label.rsplit(" ", 1)[0] + " fp32")
        exact = load_decoder(spec, fp32, n_ctx=2048, threads=config.threads)
        results.append(parity.compare(reference, parity.greedy_tokens(exact, texts, config.parity_tokens),
                                      (CPU.label, fp32.label)))  # fmt: skip
    for item in results:
        say(f"greedy {item.candidate} vs {item.reference}: {item.identical}/{item.prompts} identical, "
            f"{item.agreeing_tokens}/{item.compared_tokens} tokens before the first divergence")  # fmt: skip
    return [item.as_dict() for item in results]


def _embeddings(catalogue: Catalogue, device: Device, config: GpuBenchConfig, say: Say) -> dict[str, Any]:
    spec = local_spec(catalogue, config.embed_model)
    texts = embed.sentences(config.embed_texts)
    here, vectors = embed.rate(load_encoder(spec, device, config.threads), texts, config.embed_batch)
    cpu_texts = texts[: max(config.embed_batch, config.embed_texts // 8)]  # the CPU is the slow side
    there, cpu_vectors = embed.rate(load_encoder(spec, CPU, config.threads), cpu_texts, config.embed_batch)
    cosine = embed.mean_cosine(vectors[: len(cpu_texts)], cpu_vectors)
    say(f"embeddings at batch {config.embed_batch}: {here.texts_per_s:.0f}/s on {here.device}, "
        f"{there.texts_per_s:.0f}/s on {there.device} ({here.texts_per_s / there.texts_per_s:.1f}x), "
        f"mean cosine {cosine:.5f}")  # fmt: skip
    return {"device": here.as_dict(), "cpu": there.as_dict(), "speedup": here.texts_per_s / there.texts_per_s,
            "mean_cosine_vs_cpu": cosine}  # fmt: skip


def _plain(config: GpuBenchConfig) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()}


def _write(out: Path | None, report: dict[str, Any]) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str))
