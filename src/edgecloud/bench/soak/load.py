"""The soak's steady load: an open loop at a fixed rate (arrivals do not wait for answers, as real
clients do not), cycling through plain chat, streamed chat, embeddings and cloud-bound mining chat.
Every request is answered whole (200, a stream that ends with [DONE]) or counted lost, by kind.

One exception, as a careful client behaves: a stream the gateway ended with an OpenAI error event (its
upstream broke mid-answer, e.g. when the link flapped after the first token: the gateway cannot move a
half-sent answer to the other tier) is asked again once. It is counted in `retried` with its reason, and
lost only if the second answer is not whole. A request that fails without that clean signal (no
[DONE], a dropped connection, a non-200) is lost at once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

CHAT_MODEL = "auto"
KINDS = ("chat", "stream", "embedding", "mining")


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)  # one line per lost request: kind and why
    retried: list[str] = field(default_factory=list)  # streams ended by an error event, asked again

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())


def request_for(kind: str, index: int, embed_model: str) -> tuple[str, dict[str, Any]]:
    if kind == "embedding":
        return "/v1/embeddings", {"model": embed_model, "input": [f"soak sentence {index}", "another one"]}
    body: dict[str, Any] = {
        "model": CHAT_MODEL,
        "messages": [{"role": "user", "content": f"Say the number {index} and nothing else."}],
        "max_tokens": 8,
        "temperature": 0,
    }
    if kind == "stream":
        body["stream"] = True
    if kind == "mining":
        body["metadata"] = {"task": "mining"}  # the task policy sends it to the cloud, across the link
    return "/v1/chat/completions", body


async def _ask(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> tuple[int, str]:
    """(status, verdict): verdict is "whole", "error event" (a stream ended cleanly by an error event)
    or "broken"."""
    if not body.get("stream"):
        response = await client.post(path, json=body)
        return response.status_code, "whole" if response.status_code == 200 else "broken"
    async with client.stream("POST", path, json=body) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
    if response.status_code != 200 or not lines or lines[-1] != "data: [DONE]":
        return response.status_code, "broken"
    return 200, "error event" if any('"error"' in line for line in lines) else "whole"


async def _one(client: httpx.AsyncClient, kind: str, index: int, embed_model: str, tally: Tally) -> None:
    path, body = request_for(kind, index, embed_model)
    tally.sent[kind] += 1
    try:
        status, verdict = await _ask(client, path, body)
        if verdict == "error event":
            tally.retried.append(f"{kind} #{index}: the stream ended with an error event")
            status, verdict = await _ask(client, path, body)
    except httpx.HTTPError as exc:
        tally.lost.append(f"{kind} #{index}: {exc.__class__.__name__}")
        return
    if verdict == "whole":
        tally.answered[kind] += 1
    else:
        tally.lost.append(f"{kind} #{index}: HTTP {status} ({verdict})")


async def steady_load(url: str, rate: float, seconds: float, embed_model: str, tally: Tally) -> None:
    """`rate` requests a second for `seconds`, each on its own task; waits for the stragglers."""
    tasks: list[asyncio.Task[None]] = []
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        index = 0
        while time.perf_counter() - started < seconds:
            kind = KINDS[index % len(KINDS)]
            tasks.append(asyncio.create_task(_one(client, kind, index, embed_model, tally)))
            index += 1
            await asyncio.sleep(max(0.0, started + index / rate - time.perf_counter()))
        await asyncio.gather(*tasks)
