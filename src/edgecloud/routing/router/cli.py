"""`edgecloud router`: label items with both tiers' real answers, train the quality router, judge it on
held-out items against random, the cascade and the oracle; and the federated DP experiment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from edgecloud.catalogue import hybrid_pair
from edgecloud.cli_errors import exit_on_error
from edgecloud.routing.router.federated_cli import add_federated_commands
from edgecloud.routing.router.quality import KINDS

router_app = typer.Typer(
    help="The learned quality router: predicts from the prompt alone whether the edge's answer will be as "
    "good as the cloud's, so requests are placed before generation.",
    no_args_is_help=True,
)
BUNDLED_PAIR = tuple(spec.name for spec in hybrid_pair())
DEFAULT_PAIRS = Path("examples/router") / f"pairs-{BUNDLED_PAIR[0]}__{BUNDLED_PAIR[1]}.jsonl"


def _embedder(console: Console) -> Any:
    """Embeddings through the on-disk store: a second command on the same prompts loads no encoder."""
    from edgecloud.runtimes.embedder import embedding_store

    store = embedding_store()

    def run(texts: Sequence[str]) -> np.ndarray:
        with console.status(f"embedding {len(texts)} prompts with MiniLM ..."):
            return store(texts)

    return run


@router_app.command("label")
def label_command(
    from_eval: Annotated[
        list[Path] | None,
        typer.Option(help="`edgecloud eval --cloud ... --out DIR` folders to read (repeat)"),
    ] = None,
    edge: Annotated[str | None, typer.Option(help="edge node URL (to ask the items now)")] = None,
    cloud: Annotated[str | None, typer.Option(help="cloud node URL")] = None,
    edge_model: Annotated[str, typer.Option(help="edge chat model")] = BUNDLED_PAIR[0],
    cloud_model: Annotated[str, typer.Option(help="cloud chat model")] = BUNDLED_PAIR[1],
    suite: Annotated[list[str] | None, typer.Option(help="suites to ask (repeat); default all")] = None,
    limit: Annotated[int, typer.Option(help="items per suite (a seeded sample)")] = 100,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
    out: Annotated[Path, typer.Option(help="pairs JSONL to write")] = DEFAULT_PAIRS,
) -> None:
    """Pairs of both tiers' scored answers on the same items, from eval folders or by asking both tiers."""
    with exit_on_error(Console(stderr=True)):
        _label(from_eval, edge, cloud, (edge_model, cloud_model), suite, limit, seed, out)


def _label(
    from_eval: list[Path] | None,
    edge: str | None,
    cloud: str | None,
    models: tuple[str, str],
    suite: list[str] | None,
    limit: int,
    seed: int,
    out: Path,
) -> None:
    from edgecloud.routing.pairs import merge, pairs_from_eval, save_pairs

    edge_model, cloud_model = models
    groups = [pairs_from_eval(folder) for folder in from_eval or []]
    if edge and cloud:
        groups.append(_ask_both(edge, cloud, edge_model, cloud_model, suite, limit, seed))
    elif edge or cloud:
        raise typer.BadParameter("give both --edge and --cloud (or neither, with --from-eval)")
    if not groups:
        raise typer.BadParameter("nothing to label: give --from-eval DIR or --edge URL --cloud URL")
    pairs = merge(groups)
    save_pairs(pairs, out, {"edge_model": edge_model, "cloud_model": cloud_model})
    train = sum(p.split == "train" for p in pairs)
    Console().print(f"{len(pairs)} pairs ({train} train, {len(pairs) - train} test) -> {out}")


def _ask_both(
    edge: str, cloud: str, edge_model: str, cloud_model: str, suites: list[str] | None, limit: int, seed: int
) -> list[Any]:
    from edgecloud.eval.harness import run_items
    from edgecloud.eval.suites import SUITES, load_suite
    from edgecloud.routing.pairs import pairs_from_records

    found: list[Any] = []
    with Progress(console=Console(stderr=True), transient=True) as bar:
        for name in suites or list(SUITES):
            items = load_suite(name, limit, seed)
            answers = []
            for url, model in ((edge, edge_model), (cloud, cloud_model)):
                task = bar.add_task(f"{name} on {model}", total=len(items))
                progress = lambda done, task=task: bar.update(task, completed=done)  # noqa: E731
                answers.append(
                    asyncio.run(run_items(url, model, name, items, loglik=False, on_progress=progress))
                )
            found += pairs_from_records(name, items, answers[0], answers[1])
    return found


@router_app.command("train")
def train_command(
    pairs: Annotated[Path, typer.Option(help="pairs JSONL from `router label`")] = DEFAULT_PAIRS,
    out: Annotated[Path, typer.Option(help="router folder to write")] = Path("models/router"),
    target: Annotated[
        float, typer.Option(help="calibrate the threshold for this share of cloud quality")
    ] = 0.95,
    max_share: Annotated[
        float, typer.Option(help="at most this share of requests to the cloud, whatever the target")
    ] = 1.0,
    kinds: Annotated[str, typer.Option(help="candidate models, comma-separated")] = ",".join(KINDS),
    report: Annotated[Path | None, typer.Option(help="write the held-out report here")] = None,
) -> None:
    """Train on the train split (model chosen by cross-validation), judge on the held-out test split."""
    console = Console()
    chosen = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise typer.BadParameter(f"unknown router kinds {unknown}; choose from {', '.join(KINDS)}")
    with exit_on_error(console):
        _train(pairs, out, (target, max_share), chosen, report, console)


def _train(
    pairs: Path,
    out: Path,
    goal: tuple[float, float],
    kinds: list[str],
    report: Path | None,
    console: Console,
) -> None:
    from edgecloud.errors import InvalidRequest
    from edgecloud.routing.pairs import load_pairs
    from edgecloud.routing.router.artifact import save
    from edgecloud.routing.router.report import write_report
    from edgecloud.routing.router.train import evaluate, train_router

    rows, meta = load_pairs(pairs)
    if not {"edge_model", "cloud_model"} <= meta.keys():
        raise InvalidRequest(f"{pairs} has no header naming its tiers' models (write it with `router label`)")
    embedder = _embedder(console)
    trained = train_router(rows, embedder, meta, kinds=kinds, target=goal[0], max_share=goal[1])
    chosen = trained.model.kind
    result = evaluate(chosen, trained.candidates, float(trained.meta["threshold"]), rows, embedder)
    save(out, trained.model, {**trained.meta, "test": _headline(result)})
    print_report(result, console)
    page = write_report(report or out, result, _title(meta))
    console.print(f"router: {out}; report: {page}")


@router_app.command("eval")
def eval_command(
    router: Annotated[
        Path | None, typer.Option(help="router folder (default: the one shipped for the pair)")
    ] = None,
    pairs: Annotated[Path, typer.Option(help="pairs JSONL (its test split is used)")] = DEFAULT_PAIRS,
    out: Annotated[Path, typer.Option(help="report folder")] = Path("bench-results/router"),
) -> None:
    """One router on the held-out items beside random routing, the cascade and the oracle."""
    console = Console()
    with exit_on_error(console):
        _eval(router, pairs, out, console)


def _eval(router: Path | None, pairs: Path, out: Path, console: Console) -> None:
    from edgecloud.routing.pairs import load_pairs
    from edgecloud.routing.router.artifact import for_pairs
    from edgecloud.routing.router.report import write_report
    from edgecloud.routing.router.train import evaluate

    rows, meta = load_pairs(pairs)
    found = for_pairs(router, meta)
    result = evaluate(
        found.model.kind, {found.model.kind: found.model}, found.threshold, rows, _embedder(console)
    )
    print_report(result, console)
    console.print(f"report: {write_report(out, result, _title(meta))}")


def _title(meta: dict[str, str]) -> str:
    return f"edgecloud router: edge {meta.get('edge_model')} vs cloud {meta.get('cloud_model')}"


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    chosen = result["curves"][result["chosen"]]
    return {
        "items": result["test_items"],
        "apgr": chosen["apgr"],
        "cpt50": chosen["cpt50"],
        "cpt80": chosen["cpt80"],
        "operating_point": result["operating_point"],
    }


def print_report(result: dict[str, Any], console: Console) -> None:
    table = Table(
        "router",
        "APGR",
        "CPT(50%)",
        "CPT(80%)",
        "quality @50% cloud",
        title=f"{result['test_items']} held-out items",
    )
    for name, c in result["curves"].items():
        cells = [c["cpt50"], c["cpt80"]]
        table.add_row(
            name + (" *" if name == result["chosen"] else ""),
            f"{c['apgr']:.3f}",
            *("–" if v is None else f"{v:.0%}" for v in cells),
            f"{c['quality_at_50pct']:.1%}",
        )
    console.print(table)
    suites = Table(
        "suite", "n", "edge", "cloud", "tiers differ", "router APGR", "cascade APGR", title="per suite"
    )
    for s in result["per_suite"]:
        suites.add_row(
            s["suite"],
            str(s["n"]),
            f"{s['edge']:.0%}",
            f"{s['cloud']:.0%}",
            f"{'yes' if s['tiers_differ'] else 'no'} (p={s['p_value']:.2g})",
            *("–" if s[k] is None else f"{s[k]:.2f}" for k in ("router_apgr", "cascade_apgr")),
        )
    console.print(suites)
    p = result["operating_point"]
    console.print(
        f"at threshold {p['threshold']:.3f}: {p['cloud_share']:.0%} cloud calls, quality "
        f"{p['quality']:.1%} = {p['of_cloud_quality']:.1%} of cloud-only ({p['cloud_quality']:.1%}); "
        f"edge-only {p['edge_quality']:.1%}"
    )


@router_app.command("calibrate")
def calibrate_command(
    target: Annotated[float, typer.Option(help="share of cloud-only quality to reach")] = 0.95,
    router: Annotated[Path | None, typer.Option(help="router folder (default: shipped for the pair)")] = None,
    pairs: Annotated[Path, typer.Option(help="pairs JSONL; its test split is used")] = DEFAULT_PAIRS,
    config: Annotated[Path | None, typer.Option(help="topology YAML to write the threshold into")] = None,
) -> None:
    """The router's threshold for a quality target: the fewest cloud calls that reach `target` x the
    cloud's quality on items the router never trained on; written as policy_settings.router.threshold."""
    console = Console()
    with exit_on_error(console):
        _calibrate(target, router, pairs, config, console)


def _calibrate(
    target: float, router: Path | None, pairs: Path, config: Path | None, console: Console
) -> None:
    import yaml

    from edgecloud.routing.calibrate import Sample, choose_threshold
    from edgecloud.routing.pairs import load_pairs
    from edgecloud.routing.router.artifact import for_pairs
    from edgecloud.routing.router.train import split

    rows, meta = load_pairs(pairs)
    found = for_pairs(router, meta)
    test = split(rows, "test")
    scores = found.model.scores(_embedder(console)([p.text for p in test]))
    result = choose_threshold([Sample(s, p.edge, p.cloud) for s, p in zip(scores, test, strict=True)], target)
    chosen = result.chosen
    console.print(
        f"{len(test)} held-out items: edge alone {result.edge_quality:.1%}, cloud alone "
        f"{result.cloud_quality:.1%}; threshold {chosen.threshold:g} reaches {chosen.quality:.1%} with "
        f"{chosen.cloud_share:.0%} cloud calls"
    )
    if config is not None:
        data = yaml.safe_load(config.read_text()) or {}
        data.setdefault("policy_settings", {}).setdefault("router", {})["threshold"] = chosen.threshold
        config.write_text(yaml.safe_dump(data, sort_keys=False))
        console.print(f"wrote policy_settings.router.threshold = {chosen.threshold:g} to {config}")


add_federated_commands(router_app)
