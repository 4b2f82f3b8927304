"""One path to the echo upstream (direct, through the floor proxy, through a gateway) and what
`edgecloud bench gateway` measures on it: whole-answer latency and stream first-token latency on a
keep-alive http.client connection, and throughput with many clients at once (aiohttp, one pooled
session) — the same client code for every path, so what differs is the path."""

from __future__ import annotations

import asyncio
import http.client
import json
import time

import aiohttp

WHOLE = json.dumps(
    {"model": "echo-1", "messages": [{"role": "user", "content": "hello from the bench"}], "max_tokens": 8}
).encode()
STREAM = json.dumps(
    {
        "model": "echo-1",
        "messages": [{"role": "user", "content": "hello from the bench, streaming"}],
        "max_tokens": 8,
        "stream": True,
    }
).encode()
HEADERS = {"Content-Type": "application/json"}


class BenchPath:
    """One keep-alive connection and its samples: whole answers, and first tokens of streams."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.samples: list[float] = []
        self.first_token: list[float] = []
        self.throughput: list[float] = []  # requests/s, one figure per round

    def call(self) -> None:
        started = time.perf_counter()
        self.connection.request("POST", "/v1/chat/completions", body=WHOLE, headers=HEADERS)
        response = self.connection.getresponse()
        response.read()
        self.samples.append(time.perf_counter() - started)
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status}")

    def stream(self) -> None:
        """Time to the first `data:` event of a streamed answer; the rest is read (and not timed)."""
        started = time.perf_counter()
        self.connection.request("POST", "/v1/chat/completions", body=STREAM, headers=HEADERS)
        response = self.connection.getresponse()
        if response.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {response.status} on a stream")
        while not response.readline().startswith(b"data:"):
            pass
        self.first_token.append(time.perf_counter() - started)
        response.read()

    def clear(self) -> None:
        self.samples.clear()
        self.first_token.clear()


async def throughput(port: int, requests: int, concurrency: int) -> float:
    """Requests per second with `concurrency` clients asking whole answers until `requests` are done."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    left = [requests]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            while left[0] > 0:
                left[0] -= 1
                async with session.post(url, data=WHOLE, headers=HEADERS) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"port {port}: HTTP {response.status}")

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)
