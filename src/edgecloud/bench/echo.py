"""A fast OpenAI-compatible upstream for gateway benchmarks and fault tests: it answers instantly
(an echo of the prompt's words), streams SSE like a node, and can fail on purpose: a share of requests
answered 500/503 and a share of connections reset. Run: python -m edgecloud.bench.echo --port P."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import struct
import time

from aiohttp import web

MODEL = "echo-1"


class Faults:
    def __init__(self, error_rate: float, reset_rate: float, seed: int | None) -> None:
        self.error_rate = error_rate
        self.reset_rate = reset_rate
        self.delay_s = 0.0  # a slow upstream, for timeout tests
        self._random = random.Random(seed)

    def draw(self) -> str:
        roll = self._random.random()
        if roll < self.reset_rate:
            return "reset"
        if roll < self.reset_rate + self.error_rate:
            return self._random.choice(["500", "503"])
        return "ok"


def _reset(request: web.Request) -> None:
    """Close the TCP connection with RST (SO_LINGER 0), as a crashed server would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()


def _words(body: dict[str, object]) -> list[str]:
    messages = body.get("messages")
    if isinstance(messages, list) and messages:
        text = str(messages[-1].get("content", "")) if isinstance(messages[-1], dict) else ""
    else:
        text = str(body.get("prompt", ""))
    limit = body.get("max_tokens")
    words = text.split() or ["ok"]
    return words[: int(limit)] if isinstance(limit, int) else words


async def completion(request: web.Request) -> web.StreamResponse:
    faults: Faults = request.app["faults"]
    request.app["served"][0] += 1
    request.app["auth"][0] = request.headers.get("Authorization", "")
    raw = await request.read()
    request.app["captured"].append(raw.decode("utf-8", errors="replace"))
    body = json.loads(raw)
    outcome = faults.draw()
    if faults.delay_s:
        await asyncio.sleep(faults.delay_s)
    if outcome == "reset":
        _reset(request)
        return web.Response(status=500)
    if outcome != "ok":
        error = {
            "error": {
                "message": f"injected {outcome}",
                "type": "server_error",
                "param": None,
                "code": "injected",
            }
        }
        return web.json_response(error, status=int(outcome))
    chat = request.path.endswith("/chat/completions")
    words = _words(body)
    if body.get("stream"):
        return await _stream(request, body, words, chat)
    text = " ".join(words)
    choice = {
        "index": 0,
        "finish_reason": "stop",
        **({"message": {"role": "assistant", "content": text}} if chat else {"text": text}),
    }
    return web.json_response(
        {
            "id": "echo",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": MODEL,
            "choices": [choice],
            "usage": {
                "prompt_tokens": len(words),
                "completion_tokens": len(words),
                "total_tokens": 2 * len(words),
            },
        }
    )


async def _stream(
    request: web.Request, body: dict[str, object], words: list[str], chat: bool
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for i, word in enumerate(words):
        piece = word if i == 0 else " " + word
        delta = {"delta": {"content": piece}} if chat else {"text": piece}
        chunk = {
            "id": "echo",
            "object": "chat.completion.chunk",
            "model": MODEL,
            "choices": [{"index": 0, **delta, "finish_reason": "stop" if i == len(words) - 1 else None}],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        usage = {"prompt_tokens": len(words), "completion_tokens": len(words), "total_tokens": 2 * len(words)}
        await response.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    return response


async def embeddings(request: web.Request) -> web.Response:
    body = await request.json()
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = [{"object": "embedding", "index": i, "embedding": [1.0, 0.0, 0.0]} for i in range(len(inputs))]
    return web.json_response(
        {
            "object": "list",
            "data": data,
            "model": MODEL,
            "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
        }
    )


async def models(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "object": "list",
            "data": [
                {"id": MODEL, "object": "model", "kind": "chat", "context_length": 4096},
                {"id": "echo-embed", "object": "model", "kind": "embedding"},
            ],
        }
    )


async def stats(request: web.Request) -> web.Response:
    return web.json_response(
        {"requests": request.app["served"][0], "last_authorization": request.app["auth"][0]}
    )


async def captured(request: web.Request) -> web.Response:
    """Every request body received so far, as text: what a capturing upstream saw (leak tests)."""
    return web.json_response({"bodies": request.app["captured"]})


async def control(request: web.Request) -> web.Response:
    """Change the fault rates at run time (tests flip an upstream between broken and healthy)."""
    body = await request.json()
    faults: Faults = request.app["faults"]
    faults.error_rate = float(body.get("error_rate", faults.error_rate))
    faults.reset_rate = float(body.get("reset_rate", faults.reset_rate))
    faults.delay_s = float(body.get("delay_s", faults.delay_s))
    return web.json_response(
        {"error_rate": faults.error_rate, "reset_rate": faults.reset_rate, "delay_s": faults.delay_s}
    )


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "models": {MODEL: {"state": "ready", "queue_depth": 0}}})


def create_echo_app(
    error_rate: float = 0.0, reset_rate: float = 0.0, seed: int | None = None
) -> web.Application:
    app = web.Application()
    app["faults"] = Faults(error_rate, reset_rate, seed)
    app["served"] = [0]
    app["auth"] = [""]
    app["captured"] = []
    app.router.add_get("/captured", captured)
    app.router.add_get("/stats", stats)
    app.router.add_post("/control", control)
    app.router.add_post("/v1/chat/completions", completion)
    app.router.add_post("/v1/completions", completion)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--error-rate", type=float, default=0.0, help="share answered 500/503")
    parser.add_argument("--reset-rate", type=float, default=0.0, help="share of connections reset")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    web.run_app(
        create_echo_app(args.error_rate, args.reset_rate, args.seed),
        host=args.host,
        port=args.port,
        print=None,
        access_log=None,
    )


if __name__ == "__main__":
    main()
