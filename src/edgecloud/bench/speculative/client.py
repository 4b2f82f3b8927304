"""One streamed greedy generation against a node, timed, with its tokens and the target's top-2 margins
(logprobs) so outputs can be compared token by token."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Generation:
    ttft_s: float = 0.0
    total_s: float = 0.0
    tokens: list[str] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)  # top-1 minus top-2 logprob at each token
    stats: dict[str, Any] | None = None

    @property
    def decode_tps(self) -> float | None:
        span = self.total_s - self.ttft_s
        return (len(self.tokens) - 1) / span if len(self.tokens) > 1 and span > 0 else None


def generate(url: str, model: str, messages: list[dict[str, str]], max_tokens: int) -> Generation:
    body = {
        "model": model,
        "messages": messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 2,
        "stream": True,
    }
    out = Generation()
    started = time.perf_counter()
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if "error" in chunk:
                raise RuntimeError(f"{url}: {chunk['error'].get('message')}")
            _take(chunk, out, started)
    out.total_s = time.perf_counter() - started
    return out


def _take(chunk: dict[str, Any], out: Generation, started: float) -> None:
    if chunk.get("speculative") is not None:
        out.stats = chunk["speculative"]
    for choice in chunk.get("choices", ()):
        content = (choice.get("logprobs") or {}).get("content") or []
        if content and not out.tokens:
            out.ttft_s = time.perf_counter() - started
        for entry in content:
            out.tokens.append(entry["token"])
            top = entry.get("top_logprobs") or []
            out.margins.append(top[0]["logprob"] - top[1]["logprob"] if len(top) > 1 else float("inf"))


def first_divergence(reference: list[str], other: list[str]) -> int | None:
    """The index of the first token where two greedy outputs differ (None: identical)."""
    for i, (a, b) in enumerate(zip(reference, other, strict=False)):
        if a != b:
            return i
    return None if len(reference) == len(other) else min(len(reference), len(other))
