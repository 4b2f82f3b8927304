"""`edgecloud serve --runtime transformers` batches continuously: streams through a real node over HTTP
with the openai client, the same greedy answers alone and together, and 429 when the queue is full."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from openai import OpenAI

from edgecloud.serving.launcher import NodeProcess
from tests.conftest import CHAT, metric_value

pytestmark = pytest.mark.slow

QUESTIONS = [
    "What is the capital of France?",
    "Hi",
    "Write a haiku about the sea.",
    "Explain how a bicycle works, step by step, in simple words for a child of seven.",
]


@pytest.fixture(scope="module")
def cloud() -> Iterator[NodeProcess]:
    args = [
        "--runtime",
        "transformers",
        "--tier",
        "cloud",
        "--n-ctx",
        "2048",
        "--max-batch",
        "4",
        "--threads",
        "1",
    ]
    with NodeProcess([CHAT], args=[*args, "--max-queue", "2"]) as node:
        node.wait_ready(timeout=300)
        yield node


def _stream(url: str, question: str) -> tuple[str, int]:
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
    with client:
        stream = client.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": question}],
            max_tokens=16,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
        text, chunks, usage = "", 0, 0
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
                chunks += 1
        assert chunks > 1  # streamed token by token, not in one piece
        return text, usage


def test_concurrent_streams_get_the_answers_each_prompt_gets_alone(cloud: NodeProcess) -> None:
    alone = [_stream(cloud.url, question) for question in QUESTIONS]
    passes_before = metric_value(cloud.url, "edgecloud_forward_passes_total", {"model": CHAT})
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        together = list(pool.map(lambda q: _stream(cloud.url, q), QUESTIONS))
    assert together == alone
    passes = metric_value(cloud.url, "edgecloud_forward_passes_total", {"model": CHAT}) - passes_before
    tokens = sum(count for _, count in together)
    assert passes < tokens  # sequences shared decode steps
    assert "Paris" in together[0][0]


def test_a_full_queue_answers_429_with_retry_after(cloud: NodeProcess) -> None:
    body = {
        "model": CHAT,
        "messages": [{"role": "user", "content": QUESTIONS[3]}],
        "max_tokens": 24,
        "temperature": 0,
    }

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=cloud.url, timeout=300) as client:
            return list(
                await asyncio.gather(*(client.post("/v1/chat/completions", json=body) for _ in range(10)))
            )

    responses = asyncio.run(burst())
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 429} and statuses.count(200) <= 4 + 2  # a full batch and a full queue
    rejected = next(r for r in responses if r.status_code == 429)
    assert rejected.headers["Retry-After"] == "1"
    assert rejected.json()["error"]["code"] == "queue_full"
