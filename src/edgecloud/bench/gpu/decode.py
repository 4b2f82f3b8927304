"""Decode throughput and time to first token through the node's own scheduler (ContinuousBatcher), at
several concurrencies, against the same requests one after another.

Sequential is the same scheduler with one request at a time, measured on the first `sequential`
prompts: its tokens/s is a rate, so it is the baseline of every level without running 256 requests in
turn. A forward-only probe times the bare model step at each batch size (no scheduling, sampling or
detokenising) to show how much of a step the host spends around the GPU."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from edgecloud.bench.gpu.engines import greedy_chat
from edgecloud.runtimes.transformers import TransformersDecoder
from edgecloud.serving.batching import ContinuousBatcher
from edgecloud.serving.metrics import NodeMetrics


@dataclass(frozen=True)
class Answer:
    tokens: int
    ttft: float  # seconds from the burst's start to this request's first delta
    seconds: float  # from the burst's start to its last delta


@dataclass(frozen=True)
class Level:
    concurrency: int
    tokens: int
    wall_s: float
    tok_s: float
    ttft_p50_s: float
    ttft_p95_s: float
    step_ms: float  # wall time per decode step of the scheduler (steps = longest answer)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _ask(batcher: ContinuousBatcher, decoder: TransformersDecoder, prompt: str, max_tokens: int,
               request_id: str, started: float) -> Answer:  # fmt: skip
    job = batcher.submit(greedy_chat(decoder, prompt, max_tokens, request_id))
    first: float | None = None
    tokens = 0
    async for result in job.results():
        first = first if first is not None else time.perf_counter() - started
        tokens = result.completion_tokens
    return Answer(tokens, first or 0.0, time.perf_counter() - started)


async def burst(batcher: ContinuousBatcher, decoder: TransformersDecoder, prompts: list[str],
                max_tokens: int) -> tuple[list[Answer], float]:  # fmt: skip
    """All prompts submitted at once; (answers, wall seconds)."""
    started = time.perf_counter()
    answers = await asyncio.gather(
        *(_ask(batcher, decoder, p, max_tokens, f"gpu-{i}", started) for i, p in enumerate(prompts))
    )
    return list(answers), time.perf_counter() - started


async def one_after_another(batcher: ContinuousBatcher, decoder: TransformersDecoder, prompts: list[str],
                            max_tokens: int) -> list[Answer]:  # fmt: skip
    answers = []
    for i, prompt in enumerate(prompts):
        answers.append(await _ask(batcher, decoder, prompt, max_tokens, f"seq-{i}", time.perf_counter()))
    return answers


def level_of(concurrency: int, answers: list[Answer], wall: float) -> Level:
    tokens = sum(a.tokens for a in answers)
    ttfts = [a.ttft for a in answers]
    steps = max(a.tokens for a in answers) or 1
    return Level(concurrency, tokens, wall, tokens / wall, statistics.median(ttfts),
                 _percentile(ttfts, 0.95), 1000 * wall / steps)  # fmt: skip


def open_batcher(decoder: TransformersDecoder, max_batch: int, max_batch_tokens: int) -> ContinuousBatcher:
    batcher = ContinuousBatcher("bench-gpu", decoder, NodeMetrics(), max_batch=max_batch,
                                max_batch_tokens=max_batch_tokens, max_queue=max_batch)  # fmt: skip
    batcher.start()
    return batcher


def forward_step_ms(decoder: TransformersDecoder, batch: int, width: int, repeats: int = 10) -> float:
    """Milliseconds of one bare decode forward at `batch` sequences over a `width`-token cache."""
    import torch
    from transformers import DynamicCache

    from edgecloud.runtimes import hf_cache

    model = decoder.model
    where = decoder.device.torch_device
    ids = torch.randint(100, 1000, (batch, width), device=where)
    with torch.inference_mode():
        _, cache = hf_cache.forward(model, DynamicCache(config=model.config), input_ids=ids)
        step = ids[:, -1:]
        sync: Callable[[], None] = torch.cuda.synchronize if where.type == "cuda" else (lambda: None)
        hf_cache.forward(model, cache, input_ids=step)  # warm-up (kernels chosen, memory taken)
        sync()
        began = time.perf_counter()
        for _ in range(repeats):
            hf_cache.forward(model, cache, input_ids=step)
        sync()
    return 1000 * (time.perf_counter() - began) / repeats
