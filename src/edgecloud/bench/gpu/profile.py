"""Where a decode step's time goes on a GPU: kernels launched and GPU time per step (torch.profiler),
the same step as one CUDA-graph replay, and the batch stepped directly (no scheduler thread).

An eager transformers forward launches one kernel per op, hundreds per step for a 30-layer model, and
a small model's kernels finish faster than the host launches them: the step is bound by the launch
rate, not by the GPU. A CUDA graph replays the whole captured step with one launch, which is what
vLLM-class servers do for decode; the gap between the two is the headroom left on the table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edgecloud.bench.gpu.engines import greedy_chat
from edgecloud.runtimes.transformers import TransformersDecoder


def _timed(fn: Callable[[], Any], sync: Callable[[], None], repeats: int) -> float:
    fn()
    sync()
    began = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return 1000 * (time.perf_counter() - began) / repeats


def kernels_per_step(decoder: TransformersDecoder, batch: int) -> dict[str, float]:
    """One single-token forward at `batch` rows: wall ms (eager), kernels launched, GPU busy ms."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    model, where = decoder.model, decoder.device.torch_device
    ids = torch.randint(100, 1000, (batch, 1), device=where)
    step = lambda: model(input_ids=ids, use_cache=False, logits_to_keep=1)  # noqa: E731
    with torch.inference_mode():
        eager = _timed(step, torch.cuda.synchronize, 20)
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
    events = prof.key_averages()
    launches = sum(
        e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC")
    )
    gpu_us = sum(getattr(e, "self_device_time_total", 0.0) for e in events)
    return {"eager_ms": eager, "kernel_launches": launches, "gpu_busy_ms": gpu_us / 1000}


def graph_step_ms(decoder: TransformersDecoder, batch: int) -> float:
    """The same single-token forward captured once as a CUDA graph and replayed."""
    import torch

    model, where = decoder.model, decoder.device.torch_device
    ids = torch.randint(100, 1000, (batch, 1), device=where)
    with torch.inference_mode():
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up outside capture: kernels chosen, workspaces allocated
                model(input_ids=ids, use_cache=False, logits_to_keep=1)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            model(input_ids=ids, use_cache=False, logits_to_keep=1)
        return _timed(graph.replay, torch.cuda.synchronize, 50)


def engine_step_ms(decoder: TransformersDecoder, prompts: list[str], steps: int) -> tuple[float, int]:
    """(ms per decode step, rows left at the end) of the continuous batch driven directly: no
    scheduler thread, no clients, no detokenising."""
    import torch

    batch = decoder.open_batch()
    for i, prompt in enumerate(prompts):
        batch.add(greedy_chat(decoder, prompt, steps + 8, f"profile-{i}"))
    batch.step()
    torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(steps):
        batch.step()
    torch.cuda.synchronize()
    return 1000 * (time.perf_counter() - began) / steps, len(batch)


def step_trace(decoder: TransformersDecoder, prompts: list[str], top: int = 15) -> list[dict[str, Any]]:
    """The ops of one continuous-batch decode step that cost the host the most time (torch.profiler):
    where a step spends what the bare forward does not."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    batch = decoder.open_batch()
    for i, prompt in enumerate(prompts):
        batch.add(greedy_chat(decoder, prompt, 64, f"trace-{i}"))
    batch.step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        batch.step()
        torch.cuda.synchronize()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [
        {
            "op": e.key,
            "calls": e.count,
            "self_cpu_ms": round(e.self_cpu_time_total / 1000, 3),
            "device_ms": round(getattr(e, "self_device_time_total", 0.0) / 1000, 3),
        }
        for e in events[:top]
    ]
