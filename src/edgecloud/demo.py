"""`make demo`: the whole product on loopback with the bundled models. An edge node (Qwen2.5-Coder-0.5B
GGUF on llama.cpp, MiniLM), a cloud node (Qwen2.5-Coder-1.5B GGUF on llama.cpp, the model that knows
more: the catalogue's hybrid pair) and the gateway in front, routing chat by the router that ships for
that pair. The official openai client streams an answer, embeds sentences, and sends requests that the
gateway places on different tiers, each with its reason; then a hybrid scenario (bench.scenario) with the
cloud behind an emulated 40 ms link puts edge-only, cloud-only and hybrid side by side on held-out
labeled items, on one screen and in an HTML report. Everything stops cleanly at the end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from edgecloud.catalogue import default_model, hybrid_pair
from edgecloud.demo_story import print_story, router_line
from edgecloud.serving.launcher import GatewayProcess, NodeProcess, ServiceProcess

CHAT_MODEL, CLOUD_MODEL = (spec.name for spec in hybrid_pair())
EMBED_MODEL = default_model("edge", "embedding").name
RTT_S = 0.04
DEMO_REQUESTS = 32  # per placement: 16 labeled items, 8 dialogue, 4 private, 4 mining
QUESTION = "What is the capital of France?"
SENTENCES = (
    "The edge device answers in milliseconds.",
    "Responses from the local device arrive almost instantly.",
    "The cloud cluster mines large text corpora overnight.",
    "Paris is the capital of France.",
)
PLACEMENTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("dialogue", "Say hello to the user.", {"metadata": {"task": "dialogue"}}),
    ("question (router)", "What is the capital of Japan?", {}),
    ("private", "My email is jane.doe@example.com, please remind me of my appointment.", {}),
    ("mining", "Extract the main topics from these product reviews.", {"metadata": {"task": "mining"}}),
    ("pinned by the client", "Summarise this paragraph.", {"extra_headers": {"x-edgecloud-tier": "cloud"}}),
)


def run_demo(port: int, console: Console) -> int:
    from openai import OpenAI

    out = wide_console()
    started = time.perf_counter()
    # One engine thread per node: the two nodes share 2 cores, and two OpenMP threads per engine
    # collapse under contention (shared/DEPENDENCIES.md, "Threads on these 2-vCPU machines").
    edge = NodeProcess([CHAT_MODEL, EMBED_MODEL], port=port, args=["--tier", "edge", "--threads", "1"])
    cloud = NodeProcess([CLOUD_MODEL], args=["--tier", "cloud", "--n-ctx", "4096", "--threads", "1"])
    with edge, cloud:
        _wait(console, edge, f"edge node: {CHAT_MODEL} (llama.cpp) + {EMBED_MODEL}")
        edge_ready = time.perf_counter() - started
        _wait(console, cloud, f"cloud node: {CLOUD_MODEL} (llama.cpp)")
        with GatewayProcess(edge=edge.url, cloud=cloud.url) as gateway:
            _wait(console, gateway, "gateway")
            out.print(
                f"[bold]ready[/]: edge node {edge.url} (loaded in {edge_ready:.1f}s), "
                f"cloud node {cloud.url}, gateway {gateway.url} (dashboard: {gateway.url}/dashboard)"
            )
            client = OpenAI(base_url=f"{gateway.url}/v1", api_key="edgecloud-demo", max_retries=0)
            ttft, rate, tokens = _stream_chat(client, out)
            _embed(client, out)
            _placements(client, out)
            out.print(
                f"\n[bold]timings[/]  edge load {edge_ready:.1f}s · time to first token {ttft * 1000:.0f} ms "
                f"· {tokens} tokens at {rate:.1f} tokens/s (through the gateway)"
            )
            client.close()
        report = _hybrid_scenario(edge.url, cloud.url, console, out)
        codes = [process.terminate() for process in (edge, cloud)]
    out.print(f"all stopped cleanly (exit codes {codes}) after {time.perf_counter() - started:.0f} s")
    out.print(f"[bold]hybrid scenario report[/]: {report.resolve()}")
    return 0 if all(code == 0 for code in codes) else 1


def wide_console() -> Console:
    """Tables whole when the output is a file or a pipe (rich would crop them at 80 columns)."""
    terminal = Console()
    return Console(width=max(terminal.width, 120) if terminal.is_terminal else 160)


def _wait(console: Console, process: ServiceProcess, what: str) -> None:
    with console.status(f"starting {what} ...") as status:
        process.wait_ready(timeout=300, on_poll=lambda body: status.update(f"{what}: {_state(body)}"))


def _state(body: dict[str, object]) -> str:
    models = body.get("models")
    if not isinstance(models, dict):
        return str(body.get("status", "starting"))
    return ", ".join(f"{name} {info.get('state')}" for name, info in models.items())


def _stream_chat(client: Any, out: Console) -> tuple[float, float, int]:
    out.print(f"\n[bold]user[/] {QUESTION}")
    start = time.perf_counter()
    first: float | None = None
    usage = None
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        temperature=0,
        max_tokens=64,
        stream_options={"include_usage": True},
    )
    tier = raw.headers["x-edgecloud-tier"]
    out.print(
        f"[bold]{CLOUD_MODEL if tier == 'cloud' else CHAT_MODEL}[/] on the [bold]{tier}[/] "
        f"({raw.headers['x-edgecloud-policy']}: {raw.headers['x-edgecloud-reason']}): ",
        end="",
    )
    for chunk in raw.parse():
        if chunk.usage:
            usage = chunk.usage
        if chunk.choices and chunk.choices[0].delta.content:
            first = first or time.perf_counter()
            out.print(chunk.choices[0].delta.content, end="", highlight=False)
    end = time.perf_counter()
    out.print()
    tokens = usage.completion_tokens if usage else 0
    rate = (tokens - 1) / (end - first) if first and tokens > 1 and end > first else 0.0
    return (first or end) - start, rate, tokens


def _embed(client: Any, out: Console) -> None:
    response = client.embeddings.create(model=EMBED_MODEL, input=list(SENTENCES))
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


def _placements(client: Any, out: Console) -> None:
    table = Table("request", "tier", "policy", "reason", "ms", title="where the gateway placed each request")
    for label, prompt, options in PLACEMENTS:
        started = time.perf_counter()
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": prompt}],
            max_tokens=16,
            temperature=0,
            **options,
        )
        elapsed = (time.perf_counter() - started) * 1000
        h = raw.headers
        table.add_row(
            label, h["x-edgecloud-tier"], h["x-edgecloud-policy"], h["x-edgecloud-reason"], f"{elapsed:.0f}"
        )
    out.print()
    out.print(table)


def _hybrid_scenario(edge_url: str, cloud_url: str, console: Console, out: Console) -> Path:
    """`edgecloud bench scenario hybrid` on the demo's own nodes (a few minutes on 2 cores): the cloud
    behind an emulated 40 ms link, edge-only vs cloud-only vs the gateway on the same mix of held-out
    labeled items, dialogue, private and mining prompts; the story on one screen, the figures in HTML."""
    from edgecloud.bench.report import write_report
    from edgecloud.bench.scenario import ScenarioConfig, StackConfig, run_scenario
    from edgecloud.bench.scenario_report import build_report

    folder = Path("bench-results/demo")
    stack = StackConfig(
        edge_model=CHAT_MODEL,
        cloud_model=CLOUD_MODEL,
        edge_url=edge_url,
        cloud_url=cloud_url,
        rtt_s=RTT_S,
        workdir=folder,
    )
    config = ScenarioConfig(
        stack=stack,
        requests=DEMO_REQUESTS,
        concurrency=(2,),  # two clients: the machine's two cores, one engine thread per node
        max_tokens=16,
        sweep_rtts_s=(0.0, 0.16),
        sweep_requests=1,
        warm_up_requests=2,
        out=folder,
    )
    out.print(
        f"\n[bold]hybrid scenario[/]: edge-only vs cloud-only ({RTT_S * 1000:.0f} ms away) vs the gateway, "
        f"{DEMO_REQUESTS} requests per placement, 2 at a time"
    )
    results = run_scenario(
        config,
        console,
        on_stack=lambda live: out.print(
            f"[bold]dashboard[/]: {live.gateway_url}/dashboard (live while the scenario runs; "
            f"or `edgecloud top --url {live.gateway_url}` in another terminal)"
        ),
    )
    _, page = write_report(build_report(results), folder)
    print_story(results, out)
    out.print(router_line(CHAT_MODEL, CLOUD_MODEL))
    return page
