"""`make demo`: a real node on loopback with the bundled edge chat model and MiniLM, driven by the
official openai client: a streamed answer, embeddings with their similarities, and the timings."""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.table import Table

from edgecloud.serving.launcher import NodeProcess

CHAT_MODEL = "smollm2-135m-instruct"
EMBED_MODEL = "all-minilm-l6-v2"
QUESTION = "What is the capital of France?"
SENTENCES = (
    "The edge device answers in milliseconds.",
    "Responses from the local device arrive almost instantly.",
    "The cloud cluster mines large text corpora overnight.",
    "Paris is the capital of France.",
)


def run_demo(port: int, console: Console) -> int:
    from openai import OpenAI

    out = Console()
    started = time.perf_counter()
    with NodeProcess([CHAT_MODEL, EMBED_MODEL], port=port) as node:
        with console.status("starting the node and loading models ...") as status:
            node.wait_ready(timeout=300, on_poll=lambda body: status.update(_loading_line(body)))
        load_seconds = time.perf_counter() - started
        out.print(f"[bold]node ready[/] on {node.url} in {load_seconds:.1f}s (process start + model load)")
        client = OpenAI(base_url=f"{node.url}/v1", api_key="edgecloud-demo")
        ttft, rate, tokens = _stream_chat(client, out)
        _embed(client, out)
        out.print(
            f"\n[bold]timings[/]  load {load_seconds:.1f}s · time to first token {ttft * 1000:.0f} ms · "
            f"{tokens} tokens at {rate:.1f} tokens/s"
        )
        code = node.terminate()
    out.print(f"node stopped cleanly (exit code {code})")
    return 0 if code == 0 else 1


def _loading_line(body: dict[str, object]) -> str:
    models = body.get("models")
    if not isinstance(models, dict):
        return "starting the node ..."
    states = ", ".join(f"{name}: {info.get('state')}" for name, info in models.items())
    return f"loading models ... {states}"


def _stream_chat(client: object, out: Console) -> tuple[float, float, int]:
    out.print(f"\n[bold]user[/] {QUESTION}\n[bold]{CHAT_MODEL}[/] ", end="")
    start = time.perf_counter()
    first: float | None = None
    usage = None
    stream = client.chat.completions.create(  # type: ignore[attr-defined]
        model=CHAT_MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        temperature=0,
        max_tokens=64,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            out.print(chunk.choices[0].delta.content, end="", highlight=False)
    end = time.perf_counter()
    out.print()
    tokens = usage.completion_tokens if usage else 0
    ttft = (first or end) - start
    rate = (tokens - 1) / (end - first) if first and tokens > 1 and end > first else 0.0
    return ttft, rate, tokens


def _embed(client: object, out: Console) -> None:
    response = client.embeddings.create(model=EMBED_MODEL, input=list(SENTENCES))  # type: ignore[attr-defined]
    vectors = np.array([item.embedding for item in response.data])
    similarity = vectors @ vectors.T
    table = Table(title=f"cosine similarity ({EMBED_MODEL}, {vectors.shape[1]} dims)")
    table.add_column("")
    for i in range(len(SENTENCES)):
        table.add_column(f"s{i}")
    for i, sentence in enumerate(SENTENCES):
        table.add_row(f"s{i} {sentence}", *(f"{similarity[i, j]:.2f}" for j in range(len(SENTENCES))))
    out.print()
    out.print(table)
