"""One streamed chat request as the hybrid scenario records it: the load generator's timings plus what
the comparison needs (the answer text, token usage for cost, and the tier and policy the gateway's
headers name). Runs through bench.load's closed loop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from edgecloud.bench.load import run_load_with
from edgecloud.bench.scenario_workload import Item


@dataclass
class Answer:
    index: int  # the workload item
    kind: str
    placement: str  # edge-only | cloud-only | hybrid
    ok: bool = True
    error: str = ""
    ttft_s: float = 0.0
    e2e_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    text: str = ""
    tier: str = ""  # where it ran: the gateway's header, else the placement's own tier
    policy: str = ""  # which gateway policy decided ("" outside the gateway)
    concurrency: int = 1
    rtt_s: float = 0.0
    suite: str = ""  # a labeled item's eval suite
    score: float | None = None  # a labeled item's score against its gold answer


async def stream_answer(client: httpx.AsyncClient, url: str, body: dict[str, Any], answer: Answer) -> Answer:
    started = time.perf_counter()
    parts: list[str] = []
    try:
        async with client.stream("POST", url, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                answer.ok, answer.error = False, f"http_{response.status_code}"
                return answer
            answer.tier = response.headers.get("x-edgecloud-tier", answer.tier)
            answer.policy = response.headers.get("x-edgecloud-policy", "")
            async for line in response.aiter_lines():
                if line.startswith("data: {"):
                    _take(json.loads(line[6:]), answer, parts, started)
    except httpx.TimeoutException:
        answer.ok, answer.error = False, "timeout"
    except httpx.HTTPError as exc:
        answer.ok, answer.error = False, f"connection:{exc.__class__.__name__}"
    answer.e2e_s = time.perf_counter() - started
    answer.text = "".join(parts)
    return answer


def _take(chunk: dict[str, Any], answer: Answer, parts: list[str], started: float) -> None:
    usage = chunk.get("usage")
    if usage:
        answer.prompt_tokens = int(usage.get("prompt_tokens", 0))
        answer.completion_tokens = int(usage.get("completion_tokens", 0))
    for choice in chunk.get("choices") or []:
        text = (choice.get("delta") or {}).get("content") or ""
        if text and not parts:
            answer.ttft_s = time.perf_counter() - started
        if text:
            parts.append(text)


async def run_items(
    url: str,
    items: Sequence[Item],
    bodies: Sequence[dict[str, Any]],
    *,
    placement: str,
    tier: str,
    concurrency: int,
    rtt_s: float,
    timeout: float = 120.0,
    on_done: Callable[[], None] | None = None,
) -> tuple[list[Answer], float]:
    """The items at a fixed concurrency against one placement; answers and the wall time."""
    by_body = {id(body): item for item, body in zip(items, bodies, strict=True)}

    async def send(client: httpx.AsyncClient, target: str, body: dict[str, Any]) -> Answer:
        item = by_body[id(body)]
        blank = Answer(item.index, item.kind, placement, tier=tier, concurrency=concurrency, rtt_s=rtt_s)
        answer = await stream_answer(client, target, body, blank)
        if item.labeled is not None and answer.ok:
            answer.suite, answer.score = item.labeled.suite, item.score(answer.text)
        return answer

    return await run_load_with(send, url, bodies, concurrency=concurrency, timeout=timeout, on_done=on_done)
