"""`edgecloud bench load`: load generation against any OpenAI-compatible endpoint.

Closed loop: C workers, each sending its next request when the last one finished. Open loop: Poisson
arrivals at a rate, each request started on time whether or not earlier ones have answered (so a slow
server builds a queue, as in production). Measures time to first token, inter-token latency,
end-to-end latency, output tokens/s, requests/s and errors by kind, and keeps the raw samples."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from edgecloud.stats import percentile

BUILTIN_PROMPTS = {
    "dialogue": (
        "Say hello and ask how my day was.",
        "What should I cook tonight?",
        "Tell me a short joke.",
        "How do I say thank you in Spanish?",
    ),
    "mining": (
        "List the main topics in these reviews: battery life, screen, price, support.",
        "Extract the people and places: Ana met Omar in Lisbon.",
        "Summarise: the edge answers fast; the cloud handles big models and data.",
    ),
}


@dataclass
class Sample:
    ok: bool
    error: str = ""
    ttft_s: float = 0.0
    e2e_s: float = 0.0
    output_tokens: int = 0
    inter_token_s: list[float] = field(default_factory=list)


def load_prompts(spec: str) -> list[str]:
    if spec.startswith("builtin:"):
        return list(BUILTIN_PROMPTS[spec.removeprefix("builtin:")])
    lines = Path(spec).read_text().splitlines()
    return [
        json.loads(line)["prompt"] if line.lstrip().startswith("{") else line
        for line in lines
        if line.strip()
    ]


async def one_request(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Sample:
    started = time.perf_counter()
    try:
        if body.get("stream"):
            return await _streamed(client, url, body, started)
        response = await client.post(url, json=body)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            return Sample(False, f"http_{response.status_code}", e2e_s=elapsed)
        usage = response.json().get("usage") or {}
        return Sample(
            True, ttft_s=elapsed, e2e_s=elapsed, output_tokens=int(usage.get("completion_tokens", 0))
        )
    except httpx.TimeoutException:
        return Sample(False, "timeout", e2e_s=time.perf_counter() - started)
    except httpx.HTTPError as exc:
        return Sample(False, f"connection:{exc.__class__.__name__}", e2e_s=time.perf_counter() - started)


async def _streamed(client: httpx.AsyncClient, url: str, body: dict[str, Any], started: float) -> Sample:
    sample = Sample(True)
    last: float | None = None
    async with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            await response.aread()
            return Sample(False, f"http_{response.status_code}", e2e_s=time.perf_counter() - started)
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                sample.output_tokens = int(chunk["usage"].get("completion_tokens", 0))
            if not any(_text(choice) for choice in chunk.get("choices", [])):
                continue
            now = time.perf_counter()
            if last is None:
                sample.ttft_s = now - started
            else:
                sample.inter_token_s.append(now - last)
            last = now
    sample.e2e_s = time.perf_counter() - started
    return sample


def _text(choice: dict[str, Any]) -> str:
    return str((choice.get("delta") or {}).get("content") or choice.get("text") or "")


T = TypeVar("T")
Send = Callable[[httpx.AsyncClient, str, dict[str, Any]], Awaitable[T]]


async def run_load(
    url: str,
    bodies: Sequence[dict[str, Any]],
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    timeout: float = 120.0,
    seed: int = 0,
    on_done: Callable[[], None] | None = None,
) -> tuple[list[Sample], float]:
    """All samples (one per body, in completion order) and the wall time of the run."""
    return await run_load_with(
        one_request,
        url,
        bodies,
        concurrency=concurrency,
        rate=rate,
        timeout=timeout,
        seed=seed,
        on_done=on_done,
    )


async def run_load_with(
    send: Send[T],
    url: str,
    bodies: Sequence[dict[str, Any]],
    *,
    concurrency: int | None = None,
    rate: float | None = None,
    timeout: float = 120.0,
    seed: int = 0,
    on_done: Callable[[], None] | None = None,
) -> tuple[list[T], float]:
    """The closed or open loop with any request function (the hybrid scenario records more per answer)."""
    limits = httpx.Limits(max_connections=max(concurrency or 64, 64), max_keepalive_connections=64)
    samples: list[T] = []
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:

        async def fire(body: dict[str, Any]) -> None:
            samples.append(await send(client, url, body))
            if on_done:
                on_done()

        if rate is not None:  # open loop: Poisson arrivals, never waiting for answers
            rng, tasks, due = random.Random(seed), [], 0.0
            for body in bodies:
                due += rng.expovariate(rate)
                await asyncio.sleep(max(0.0, started + due - time.perf_counter()))
                tasks.append(asyncio.create_task(fire(body)))
            await asyncio.gather(*tasks)
        else:
            queue = list(reversed(bodies))

            async def worker() -> None:
                while queue:
                    await fire(queue.pop())

            await asyncio.gather(*(worker() for _ in range(concurrency or 1)))
    return samples, time.perf_counter() - started


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    figures = {f"p{q}": percentile(values, q) for q in (50, 90, 95, 99)}
    return figures | {"mean": statistics.fmean(values)}


def summarize(samples: Sequence[Sample], wall_s: float, label: str) -> dict[str, Any]:
    good = [s for s in samples if s.ok]
    rates = [s.output_tokens / s.e2e_s for s in good if s.e2e_s > 0 and s.output_tokens]
    return {
        "label": label,
        "requests": len(samples),
        "succeeded": len(good),
        "wall_s": wall_s,
        "requests_per_s": len(samples) / wall_s if wall_s else 0.0,
        "output_tokens_per_s": sum(s.output_tokens for s in good) / wall_s if wall_s else 0.0,
        "ttft_s": percentiles([s.ttft_s for s in good]),
        "inter_token_s": percentiles([gap for s in good for gap in s.inter_token_s]),
        "e2e_s": percentiles([s.e2e_s for s in good]),
        "tokens_per_s_per_request": percentiles(rates),
        "errors": dict(Counter(s.error for s in samples if not s.ok)),
        "samples": [asdict(s) for s in samples],
    }
