"""python -m edgecloud.bench.gpu.node MODEL... [--device cuda]: a node on loopback serving the models on
the device; prints its /health and /v1/models, one greedy chat answer and one embedding, then stops.
It shows on a bare GPU machine that the served node, not only the engine, runs there."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Annotated, Any

import httpx
import typer

from edgecloud.config import NodeSettings
from edgecloud.serving.app import build_context, create_app
from edgecloud.serving.server import EmbeddedServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _ready(client: httpx.AsyncClient, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        health = await client.get("/health")
        if health.status_code == 200 or time.monotonic() > deadline or health.json()["status"] == "failed":
            return dict(health.json())
        await asyncio.sleep(0.5)


async def check(models: list[str], device: str, timeout: float = 300.0) -> dict[str, Any]:
    port = _free_port()
    ctx = build_context(models, NodeSettings(device=device, port=port, tier="cloud"), runtime="transformers")
    server = EmbeddedServer(create_app(ctx), host="127.0.0.1", port=port)
    await server.start()
    report: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as client:
            report["health"] = await _ready(client, timeout)
            listed = (await client.get("/v1/models")).json()["data"]
            report["models"] = {m["id"]: {"kind": m["kind"], "device": m["device"]} for m in listed}
            for model in listed:
                report[model["id"]] = await _ask(client, model)
    finally:
        await server.stop()
    return report


async def _ask(client: httpx.AsyncClient, model: dict[str, Any]) -> Any:
    if model["kind"] == "embedding":
        body = {"model": model["id"], "input": ["edge and cloud as one service"]}
        response = await client.post("/v1/embeddings", json=body)
        return {"status": response.status_code, "dimensions": len(response.json()["data"][0]["embedding"])}
    body = {"model": model["id"], "max_tokens": 16, "temperature": 0,
            "messages": [{"role": "user", "content": "What is the capital of France?"}]}  # fmt: skip
    response = await client.post("/v1/chat/completions", json=body)
    return {"status": response.status_code, "answer": response.json()["choices"][0]["message"]["content"]}


def main(
    models: Annotated[list[str], typer.Argument(help="catalogue names or paths")],
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "cuda",
) -> None:
    report = asyncio.run(check(models, device))
    print(json.dumps(report, indent=2))
    healthy = report["health"]["status"] == "ok"
    answered = all(v.get("status") == 200 for k, v in report.items() if k not in ("health", "models"))
    raise typer.Exit(0 if healthy and answered else 1)


if __name__ == "__main__":
    typer.run(main)
