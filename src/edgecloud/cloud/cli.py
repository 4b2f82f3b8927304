"""`edgecloud cloud ...` (serve on Ray Serve, jobs on Ray Data) and `edgecloud kg query`: thin commands
over edgecloud.cloud's modules."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from edgecloud.cli_errors import print_error
from edgecloud.cli_options import DeviceOption, PrecisionOption
from edgecloud.errors import EdgecloudError

if TYPE_CHECKING:  # the job modules import Ray; commands load them only when they run
    from edgecloud.cloud.jobs import JobOptions

cloud_app = typer.Typer(help="The cloud tier on Ray: Serve deployments, Ray Data jobs.", no_args_is_help=True)
job_app = typer.Typer(help="Big-data jobs on Ray Data (local Ray or --address).", no_args_is_help=True)
kg_app = typer.Typer(help="Query a knowledge graph built by `edgecloud cloud job kg`.", no_args_is_help=True)
cloud_app.add_typer(job_app, name="job")
console = Console(stderr=True)

Address = Annotated[
    str | None,
    typer.Option(help="Ray cluster to join (e.g. ray://head:10001 or head:6379); default: a local Ray"),
]
Cpus = Annotated[int, typer.Option(help="CPUs of the local Ray instance (ignored with --address)")]


def _fail(message: str) -> typer.Exit:
    print_error(console, message)
    return typer.Exit(2)


def _check_models(models: list[str], runtime: str | None) -> None:
    """Unknown models fail here, in a second, rather than as replicas Serve retries for minutes."""
    from edgecloud.catalogue import Catalogue
    from edgecloud.config import NodeSettings
    from edgecloud.serving.app import resolve_specs

    try:
        resolve_specs(Catalogue(NodeSettings().cache_dir), models, runtime)
    except EdgecloudError as exc:
        raise _fail(exc.message) from None


def _gpus_per_replica(device: str | None, precision: str | None) -> float:
    """One GPU per replica when this machine's device is a GPU: Ray shows a replica only the GPUs it
    reserved, so without one `auto` would find none inside the replica. `cuda` without a GPU fails here,
    before Ray starts."""
    import os

    from edgecloud.runtimes.device import resolve_device

    chosen = resolve_device(
        device or os.environ.get("EDGECLOUD_DEVICE", "auto"),
        precision or os.environ.get("EDGECLOUD_PRECISION", "auto"),
    )
    return 1.0 if chosen.kind == "cuda" else 0.0


@cloud_app.command("serve")
def serve(
    model: Annotated[list[str], typer.Option("--model", "-m", help="catalogue name or path; repeatable")],
    replicas: Annotated[int, typer.Option(help="fixed number of replicas")] = 1,
    autoscale: Annotated[
        str | None, typer.Option(help="MIN:MAX replicas, scaled on ongoing requests (overrides --replicas)")
    ] = None,
    address: Address = None,
    host: Annotated[str, typer.Option(help="bind address of Serve's HTTP proxy")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of Serve's HTTP proxy")] = 8000,
    threads: Annotated[int, typer.Option(help="engine threads per replica")] = 1,
    replica_cpus: Annotated[float, typer.Option(help="Ray CPUs reserved per replica")] = 1.0,
    device: DeviceOption = None,
    precision: PrecisionOption = None,
    replica_gpus: Annotated[
        float | None,
        typer.Option(
            min=0, help="Ray GPUs reserved per replica [default: 1 when the device is a GPU, else 0]"
        ),
    ] = None,
    runtime: Annotated[str | None, typer.Option(help="force an engine: llamacpp or transformers")] = None,
    target_ongoing: Annotated[
        float, typer.Option(help="autoscaling target: ongoing requests per replica")
    ] = 2.0,
    num_cpus: Cpus = 2,
) -> None:
    """Serve the node's OpenAI-compatible API as a Ray Serve deployment with replicas."""
    from edgecloud.cloud.ray_serve import ServeOptions, deploy, parse_autoscale, undeploy, wait_for_signal
    from edgecloud.cloud.session import ray_session

    try:
        gpus = replica_gpus if replica_gpus is not None else _gpus_per_replica(device, precision)
        options = ServeOptions(
            models=tuple(model),
            replicas=replicas,
            autoscale=parse_autoscale(autoscale) if autoscale else None,
            host=host,
            port=port,
            threads=threads,
            replica_cpus=replica_cpus,
            replica_gpus=gpus,
            node_settings={k: v for k, v in {"device": device, "precision": precision}.items() if v},
            runtime=runtime,
            target_ongoing_requests=target_ongoing,
        )
    except EdgecloudError as exc:
        raise _fail(exc.message) from None
    if replicas < 1:
        raise _fail("--replicas must be at least 1")
    _check_models(model, runtime)
    started = time.perf_counter()
    with ray_session(address, num_cpus=num_cpus):
        try:
            try:
                deploy(options)
            except RuntimeError as exc:  # Serve gave up on the deployment (replicas kept failing)
                raise _fail(f"the deployment failed: {str(exc).splitlines()[0]}") from None
            scale = f"autoscale {autoscale}" if autoscale else f"{replicas} replica(s)"
            console.print(
                f"[green]ready[/] in {time.perf_counter() - started:.1f}s: edgecloud cloud on "
                f"http://{host}:{port} (Ray Serve, {scale}, models {', '.join(model)})"
            )
            sig = wait_for_signal()
            console.print(f"signal {sig}: stopping the deployment")
        finally:
            undeploy(local=address is None)


@kg_app.command("query")
def kg_query(
    out: Annotated[Path, typer.Argument(help="the job's output folder (with graph.graphml)")],
    entity: Annotated[str, typer.Argument(help="entity name or alias (case-insensitive)")],
    limit: Annotated[int, typer.Option(help="relations to show per direction")] = 50,
) -> None:
    """Print an entity's neighbours and the relations that link them."""
    from edgecloud.cloud.kg_graph import find_entity, load_graph, print_neighbourhood

    graph_file = out / "graph.graphml"
    if not graph_file.is_file():
        raise _fail(f"no graph at {graph_file}; build one with `edgecloud cloud job kg CORPUS --out {out}`")
    graph = load_graph(graph_file)
    node = find_entity(graph, entity)
    if node is None:
        raise _fail(f"no entity {entity!r} in {graph_file} ({graph.number_of_nodes()} entities)")
    print_neighbourhood(graph, node, Console(), limit=limit)


Corpus = Annotated[Path, typer.Argument(help="a folder of .txt/.md, or .jsonl / .parquet file(s)")]
Out = Annotated[Path, typer.Option(help="output folder (rerun with the same one to resume)")]
Workers = Annotated[int, typer.Option(help="Ray Data workers (actors, one CPU each)")]
ShardSize = Annotated[int, typer.Option(help="documents per shard (the unit of resume)")]
BatchSize = Annotated[int, typer.Option(help="documents per map_batches call")]
TextField = Annotated[str, typer.Option(help="text field of JSONL records / Parquet column")]
IdField = Annotated[str, typer.Option(help="id field (default: file:row)")]
Limit = Annotated[int | None, typer.Option(help="only the first N documents")]


def _job_options(
    corpus: Path,
    out: Path,
    workers: int,
    shard_size: int,
    batch_size: int,
    address: str | None,
    num_cpus: int,
    text_field: str,
    id_field: str,
    limit: int | None,
) -> JobOptions:
    from edgecloud.cloud.jobs import JobOptions

    if workers < 1 or shard_size < 1 or batch_size < 1:
        raise _fail("--workers, --shard-size and --batch-size must be at least 1")
    out.mkdir(parents=True, exist_ok=True)
    return JobOptions(
        corpus, out, workers, shard_size, batch_size, address, num_cpus, text_field, id_field, limit
    )


@job_app.command("mine")
def job_mine(
    corpus: Corpus,
    out: Out,
    topics: Annotated[int | None, typer.Option(help="number of topics [default: sqrt(n/2)]")] = None,
    duplicate_threshold: Annotated[
        float, typer.Option(help="cosine similarity at which two documents are near-duplicates")
    ] = 0.95,
    workers: Workers = 2,
    shard_size: ShardSize = 16,
    batch_size: BatchSize = 32,
    address: Address = None,
    num_cpus: Cpus = 2,
    text_field: TextField = "text",
    id_field: IdField = "id",
    limit: Limit = None,
) -> None:
    """Text mining: MiniLM embeddings on Ray Data, topics with c-TF-IDF keywords, near-duplicates."""
    from edgecloud.cloud.jobs import mine_job

    options = _job_options(
        corpus, out, workers, shard_size, batch_size, address, num_cpus, text_field, id_field, limit
    )
    try:
        summary = mine_job(options, topics=topics, threshold=duplicate_threshold, console=console)
    except EdgecloudError as exc:
        raise _fail(exc.message) from None
    Console().print(
        f"{summary['documents']} documents, {len(summary['topics'])} topics, "
        f"{len(summary['near_duplicates'])} near-duplicate pairs; {summary['shards_run']} shard(s) run, "
        f"{summary['shards_skipped']} skipped; {summary['docs_per_s']:.2f} docs/s "
        f"in {summary['stage_seconds']:.0f} s\n"
        f"wrote {out}/documents.parquet, topics.parquet, duplicates.parquet, summary.md, summary.json"
    )


@job_app.command("kg")
def job_kg(
    corpus: Corpus,
    out: Out,
    same_threshold: Annotated[
        float, typer.Option(help="MiniLM cosine at which two names of one label family are one entity")
    ] = 0.9,
    llm: Annotated[
        str | None,
        typer.Option(
            help="also extract triples with this chat model (JSON schema; e.g. qwen2.5-coder-0.5b-instruct)"
        ),
    ] = None,
    workers: Workers = 2,
    shard_size: ShardSize = 16,
    batch_size: BatchSize = 32,
    address: Address = None,
    num_cpus: Cpus = 2,
    text_field: TextField = "text",
    id_field: IdField = "id",
    limit: Limit = None,
) -> None:
    """Knowledge graph: spaCy entities and subject-verb-object triples on Ray Data, entity resolution."""
    from edgecloud.cloud.jobs import kg_job

    options = _job_options(
        corpus, out, workers, shard_size, batch_size, address, num_cpus, text_field, id_field, limit
    )
    try:
        if llm:
            _check_models([llm], None)
        summary = kg_job(options, same_threshold=same_threshold, llm=llm, console=console)
    except EdgecloudError as exc:
        raise _fail(exc.message) from None
    Console().print(
        f"{summary['documents']} documents, {summary['entities']} entities, {summary['relations']} "
        f"relations ({summary['merged_names']} names merged); {summary['shards_run']} shard(s) run, "
        f"{summary['shards_skipped']} skipped; {summary['docs_per_s']:.2f} docs/s "
        f"in {summary['stage_seconds']:.0f} s\n"
        f"wrote {out}/graph.graphml, triples.jsonl, summary.json; try `edgecloud kg query {out} NAME`"
    )


@cloud_app.command("bench")
def bench(
    job: Annotated[str, typer.Option(help="mine (MiniLM embeddings) or kg (spaCy extraction)")] = "mine",
    corpus: Annotated[str, typer.Option(help=f"a corpus path, or {'builtin:rotten-tomatoes'}")] = (
        "builtin:rotten-tomatoes"
    ),
    docs: Annotated[int, typer.Option(help="documents per run")] = 1000,
    rounds: Annotated[int, typer.Option(help="alternating rounds of 1 and 2 workers")] = 2,
    out: Annotated[Path | None, typer.Option(help="write the runs as JSON here")] = None,
) -> None:
    """Documents/s of a job's Ray Data stage with 1 and 2 workers, side by side in one run."""
    import json

    from edgecloud.cloud.bench import bench_workers, print_bench

    if job not in ("mine", "kg"):
        raise _fail("--job is mine or kg")
    try:
        rows = bench_workers(job, corpus, docs=docs, rounds=rounds)
    except EdgecloudError as exc:
        raise _fail(exc.message) from None
    print_bench(rows, Console())
    if out is not None:
        out.write_text(json.dumps(rows, indent=2) + "\n")
