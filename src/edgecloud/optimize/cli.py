"""`edgecloud optimize`: quantize, prune, distil and compare models; every command measures its result
against the original and writes report.json and report.html beside the model."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edgecloud.cli_errors import print_error
from edgecloud.errors import EdgecloudError
from edgecloud.optimize.evaluate import MeasureSettings

optimize_app = typer.Typer(
    help="Quantize, prune and distil models, each measured against the original (report.json/html).",
    no_args_is_help=True,
)
console = Console(stderr=True)

Out = Annotated[Path, typer.Option("--out", help="folder to write the optimized model and its report to")]
Threads = Annotated[int, typer.Option(help="CPU threads for both sides of the measurement")]
Sentences = Annotated[int, typer.Option(help="held-out sentences for the quality figures")]
Repeats = Annotated[int, typer.Option(help="interleaved speed repeats per side")]


def _settings(
    threads: int, sentences: int, repeats: int, text_tokens: int = 512, new_tokens: int = 64
) -> MeasureSettings:
    return MeasureSettings(
        threads=threads,
        sentences=sentences,
        speed_sentences=min(256, max(32, sentences)),  # 8 batches of 32: 4 was too few on a noisy CPU
        single=min(16, sentences),
        repeats=repeats,
        gguf_tokens=text_tokens,
        gguf_new_tokens=new_tokens,
    )


@contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[], None]]]:
    """A rich progress display; stage(name, total) adds a bar and returns its tick()."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:

        def stage(name: str, total: int) -> Callable[[], None]:
            task = progress.add_task(name, total=total)
            return lambda: progress.advance(task)

        yield stage


def _callback(stage: Callable[[str, int], Callable[[], None]], name: str) -> Callable[[int, int], None]:
    """An (done, total) callback for the prune/distill functions, drawn as one bar."""
    state: dict[str, Any] = {}

    def report(done: int, total: int) -> None:
        if "tick" not in state:
            state["tick"], state["done"] = stage(name, total), 0
        while state["done"] < done:
            state["tick"]()
            state["done"] += 1

    return report


def _fail(exc: Exception) -> typer.Exit:
    message = exc.message if isinstance(exc, EdgecloudError) else str(exc)
    print_error(console, message)
    return typer.Exit(2)


def _summary(report: dict[str, Any]) -> None:
    from edgecloud.optimize.compare import report_table

    Console(stderr=True, width=max(console.width, 170)).print(report_table([report]))
    for note in report.get("notes", []):
        console.print(f"- {note}")
    console.print(f"wrote {report['output']}/report.json and report.html")


@optimize_app.command()
def quantize(
    model: Annotated[str, typer.Argument(help="catalogue name (all-minilm-l6-v2, gemma3-270m) or path")],
    method: Annotated[
        str, typer.Option(help="dynamic-int8, onnx-int8 or gguf:TYPE (Q8_0, Q5_K_M, Q4_0 ...)")
    ],
    out: Out,
    threads: Threads = 2,
    sentences: Sentences = 256,
    repeats: Repeats = 5,
    per_tensor: Annotated[bool, typer.Option(help="onnx-int8: per-tensor weights (less accurate)")] = False,
    via_f16: Annotated[bool, typer.Option(help="gguf: requantize through an F16 copy")] = False,
    text_tokens: Annotated[int, typer.Option(help="gguf: tokens of fixed text for perplexity")] = 512,
    new_tokens: Annotated[int, typer.Option(help="gguf: decoded tokens per speed repeat")] = 64,
) -> None:
    """Quantize MODEL and measure it against the original."""
    from edgecloud.optimize import quantize as methods
    from edgecloud.optimize.pipeline import measure_and_report, resolve_source

    if method not in ("dynamic-int8", "onnx-int8") and not method.startswith("gguf:"):
        raise typer.BadParameter(f"--method {method!r}: one of {', '.join(methods.METHODS)}")
    try:
        source = resolve_source(model)
        with _progress() as stage:
            tick = stage(f"quantize {method}", 1)
            if method == "dynamic-int8":
                notes = methods.dynamic_int8(source.path, out, source_name=model)
            elif method == "onnx-int8":
                notes = methods.onnx_int8(source.path, out, source_name=model, per_channel=not per_tensor)
            else:
                notes = methods.gguf(
                    source.path,
                    out,
                    method.removeprefix("gguf:"),
                    source_name=model,
                    source_type=source.spec.quantization,
                    served_as=source.spec.kind,
                    via_f16=via_f16,
                    threads=threads,
                )
            tick()
            report = measure_and_report(
                method,
                source,
                out,
                _settings(threads, sentences, repeats, text_tokens, new_tokens),
                stage,
                notes=notes,
            )
    except (EdgecloudError, OSError) as exc:
        raise _fail(exc) from None
    _summary(report)


@optimize_app.command()
def prune(
    model: Annotated[str, typer.Argument(help="HF folder or catalogue name (all-minilm-l6-v2)")],
    out: Out,
    heads: Annotated[float, typer.Option(help="share of attention heads to remove per layer")] = 0.0,
    ffn: Annotated[float, typer.Option(help="share of FFN neurons to remove per layer")] = 0.0,
    sparsity: Annotated[float | None, typer.Option(help="unstructured magnitude pruning instead")] = None,
    calibration: Annotated[int, typer.Option(help="calibration sentences (train split)")] = 256,
    threads: Threads = 2,
    sentences: Sentences = 256,
    repeats: Repeats = 3,
) -> None:
    """Structured (--heads/--ffn, ranked on calibration text) or magnitude (--sparsity) pruning."""
    from edgecloud.datasets.rotten_tomatoes import corpus_sentences
    from edgecloud.optimize import prune as pruning
    from edgecloud.optimize.pipeline import measure_and_report, resolve_source

    try:
        source = resolve_source(model)
        with _progress() as stage:
            if sparsity is not None:
                summary = pruning.prune_magnitude(source.path, out, sparsity=sparsity)
            else:
                texts = corpus_sentences("train")[:calibration]
                summary = pruning.prune_structured(
                    source.path,
                    out,
                    heads=heads,
                    ffn=ffn,
                    calibration=texts,
                    progress=_callback(stage, "calibrate"),
                )
            _hf_manifest(out, summary.method, source.path, model)
            details = {"prune": _fields(summary)}
            report = measure_and_report(
                summary.method,
                source,
                out,
                _settings(threads, sentences, repeats),
                stage,
                notes=list(summary.notes),
                details=details,
            )
    except (EdgecloudError, OSError) as exc:
        raise _fail(exc) from None
    _summary(report)


@optimize_app.command()
def distill(
    teacher: Annotated[str, typer.Argument(help="HF folder or catalogue name (all-minilm-l6-v2)")],
    out: Out,
    layers: Annotated[int, typer.Option(help="student layers, initialised from the teacher's")] = 3,
    epochs: Annotated[int, typer.Option(help="passes over the corpus")] = 8,
    train_sentences: Annotated[int, typer.Option(help="train-split sentences to distil on")] = 10000,
    batch_size: Annotated[int, typer.Option(help="sentences per step")] = 32,
    lr: Annotated[float, typer.Option(help="learning rate")] = 5e-4,
    max_steps: Annotated[int | None, typer.Option(help="stop after this many steps")] = None,
    objective: Annotated[
        str,
        typer.Option(
            help="encoders: hidden (token states layer by layer + sentence vectors) or pooled (sentence "
            "vectors only)"
        ),
    ] = "hidden",
    checkpoints: Annotated[Path | None, typer.Option(help="checkpoint folder (resumes)")] = None,
    threads: Threads = 2,
    sentences: Sentences = 256,
    repeats: Repeats = 3,
) -> None:
    """Distil TEACHER into a shallower student trained on its outputs over an offline corpus."""
    from edgecloud.datasets.rotten_tomatoes import corpus_sentences
    from edgecloud.optimize import distill as distillation
    from edgecloud.optimize.pipeline import measure_and_report, resolve_source

    try:
        import torch

        torch.set_num_threads(threads)
        source = resolve_source(teacher)
        with _progress() as stage:
            summary = distillation.distill(
                source.path,
                out,
                layers=layers,
                corpus=corpus_sentences("train")[:train_sentences],
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                max_steps=max_steps,
                checkpoint_dir=checkpoints,
                progress=_callback(stage, "distil"),
                objective=objective,
            )
            _hf_manifest(out, "distill", source.path, teacher)
            report = measure_and_report(
                f"distill:{layers}-layers",
                source,
                out,
                _settings(threads, sentences, repeats),
                stage,
                notes=list(summary.notes),
                details={"distill": _fields(summary)},
            )
    except (EdgecloudError, OSError) as exc:
        raise _fail(exc) from None
    _summary(report)


def _hf_manifest(out: Path, method: str, src: Path, name: str) -> None:
    from edgecloud.optimize.artifact import Manifest, model_kind, write_manifest

    write_manifest(
        out, Manifest(method, "hf", model_kind(out if (out / "config.json").is_file() else src), name)
    )


def _fields(summary: object) -> dict[str, Any]:
    from dataclasses import asdict

    return json.loads(json.dumps(asdict(summary), default=str))  # type: ignore[call-overload]


@optimize_app.command()
def compare(
    dirs: Annotated[list[Path], typer.Argument(help="optimized folders (each with report.json)")],
) -> None:
    """One table of several optimized variants from their report.json files."""
    from edgecloud.optimize.compare import load_reports, report_table

    try:
        reports = load_reports(dirs)
    except (EdgecloudError, OSError, ValueError) as exc:
        raise _fail(exc) from None
    Console(width=max(Console().width, 220)).print(report_table(reports))
