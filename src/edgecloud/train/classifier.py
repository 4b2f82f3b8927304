"""The sentiment classifier, trained from MiniLM on the Rotten Tomatoes snippets two ways, and the
better one kept:

1. frozen head: a logistic regression on MiniLM's mean-pooled, normalised sentence embeddings (the
   encoder untouched; seconds to train);
2. fine-tuned: the whole encoder and a linear head trained end to end (minutes on a CPU).

Both are exported as `BertForSequenceClassification` folders and measured by loading the exported
folder through the node's classifier runtime, so the reported figures are those of the served model.
The winner (by validation accuracy) goes to the output folder; the other to `alternatives/<name>/`."""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.datasets.rotten_tomatoes import Snippet, load_snippets
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.classifier import (
    MAX_LENGTH_KEY,
    NORMALIZE_KEY,
    POOLING_KEY,
    TransformersClassifier,
    classifier_logits,
)

LABELS = ("negative", "positive")  # class ids 0 and 1
VARIANTS = ("frozen-head", "fine-tuned")
REPORT_FILE = "training_report.json"
# phase, done, total: the CLI draws a progress bar from it
OnProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainConfig:
    """CPU-friendly defaults: three epochs at 64 tokens finish in a few minutes on two cores."""

    base_dir: Path
    variants: tuple[str, ...] = VARIANTS
    epochs: int = 3
    batch_size: int = 32
    max_length: int = 64
    learning_rate: float = 5e-5
    pooling: str = "mean"  # fine-tuning: "mean" (what MiniLM was trained for) or "cls" (a plain HF head)
    head_lr_scale: float = 20.0  # the fresh head learns this much faster than the pretrained encoder
    train_limit: int | None = None  # the first N training snippets only (tests, quick runs)
    eval_limit: int | None = None  # the first N validation and test snippets only
    seed: int = 0
    threads: int | None = None


@dataclass(frozen=True)
class Scores:
    accuracy: float
    macro_f1: float
    n: int


@dataclass
class VariantResult:
    name: str
    validation: Scores
    test: Scores
    train_seconds: float
    folder: Path
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Splits:
    train: list[Snippet]
    validation: list[Snippet]
    test: list[Snippet]


def load_splits(config: TrainConfig) -> Splits:
    train = load_snippets("train")[: config.train_limit]
    validation = load_snippets("validation")[: config.eval_limit]
    test = load_snippets("test")[: config.eval_limit]
    if len({s.label for s in train}) < 2:
        raise InvalidRequest("the training slice must contain both labels; raise --limit")
    return Splits(train, validation, test)


def label_ids(snippets: Sequence[Snippet]) -> np.ndarray:
    return np.array([LABELS.index(s.label) for s in snippets], dtype=np.int64)


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    from sklearn.metrics import accuracy_score, f1_score

    return Scores(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro", labels=[0, 1], zero_division=0)),
        n=len(y_true),
    )


def evaluate_folder(
    folder: Path, splits: Sequence[Sequence[Snippet]], threads: int | None = None
) -> list[Scores]:
    """Accuracy and macro-F1 of an exported folder on each split, run through the serving runtime."""
    runtime = TransformersClassifier(n_threads=threads)
    runtime.load_folder(folder)
    measured = []
    for snippets in splits:
        probabilities = runtime.probabilities([s.text for s in snippets])
        predicted = np.array([LABELS.index(runtime.labels[i]) for i in probabilities.argmax(axis=1)])
        measured.append(scores(label_ids(snippets), predicted))
    return measured


def _classification_model(base_dir: Path) -> Any:
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(
        base_dir,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )


def _save(model: Any, base_dir: Path, folder: Path, extra: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    for key, value in extra.items():
        setattr(model.config, key, value)
    model.config.architectures = [type(model).__name__]
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(folder)


def train_frozen_head(
    config: TrainConfig, splits: Splits, folder: Path, on_progress: OnProgress
) -> dict[str, Any]:
    """Logistic regression on the encoder's sentence embeddings; C chosen on the validation split.
    The binary weights w, b become a two-row head (-w/2, +w/2): its softmax is exactly sigmoid(wx+b)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    from edgecloud.runtimes.embedder import load_encoder

    encoder = load_encoder(threads=config.threads)
    texts = [s.text for s in splits.train] + [s.text for s in splits.validation]
    chunks = [texts[i : i + 64] for i in range(0, len(texts), 64)]
    vectors = []
    for done, chunk in enumerate(chunks, 1):
        vectors.append(encoder.embed(chunk))
        on_progress("frozen-head: embedding", done, len(chunks))
    x = np.concatenate(vectors)
    x_train, x_val = x[: len(splits.train)], x[len(splits.train) :]
    y_train, y_val = label_ids(splits.train), label_ids(splits.validation)
    best: tuple[float, float, Any] = (-1.0, 0.0, None)
    for c in (0.1, 1.0, 10.0, 100.0):
        fitted = LogisticRegression(C=c, max_iter=2000).fit(x_train, y_train)
        accuracy = float((fitted.predict(x_val) == y_val).mean())
        if accuracy > best[0]:
            best = (accuracy, c, fitted)
    _, c, fitted = best
    model = _classification_model(config.base_dir)
    w = torch.tensor(fitted.coef_[0], dtype=torch.float32)
    b = float(fitted.intercept_[0])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.stack([-w / 2, w / 2]))
        model.classifier.bias.copy_(torch.tensor([-b / 2, b / 2]))
    extra = {POOLING_KEY: "mean", NORMALIZE_KEY: True, MAX_LENGTH_KEY: encoder.context_length}
    _save(model, config.base_dir, folder, extra)
    # scikit-learn's own validation accuracy: the exported folder must reproduce it exactly
    return {
        "C": c,
        "pooling": "mean (normalised)",
        "max_length": encoder.context_length,
        "sklearn_validation_accuracy": best[0],
    }


def train_fine_tuned(
    config: TrainConfig, splits: Splits, folder: Path, on_progress: OnProgress
) -> dict[str, Any]:
    """End to end with AdamW and a linear warm-up/decay schedule; the epoch with the best validation
    accuracy is kept. Mean pooling by default: MiniLM's sentence vectors are already mean-pooled, so it
    learns in far fewer steps than from the CLS pooler (`pooling="cls"` gives a plain HF head)."""
    import torch
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    tokenizer = AutoTokenizer.from_pretrained(config.base_dir)
    model = _classification_model(config.base_dir)
    texts = [s.text for s in splits.train]
    labels = torch.tensor(label_ids(splits.train))
    steps_per_epoch = math.ceil(len(texts) / config.batch_size)
    total = steps_per_epoch * config.epochs
    head = list(model.classifier.parameters())
    body = [p for p in model.parameters() if all(p is not h for h in head)]
    groups = [
        {"params": body, "lr": config.learning_rate},
        {"params": head, "lr": config.learning_rate * config.head_lr_scale},
    ]
    optimizer = torch.optim.AdamW(groups, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * total), total)
    generator = torch.Generator().manual_seed(config.seed)
    history: list[dict[str, float]] = []
    best_accuracy, best_state = -1.0, None
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(texts), generator=generator).tolist()
        losses = []
        for step in range(steps_per_epoch):
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            encoded = tokenizer(
                [texts[i] for i in index],
                padding=True,
                truncation=True,
                max_length=config.max_length,
                return_tensors="pt",
            )
            logits = classifier_logits(model, encoded, config.pooling)
            loss = torch.nn.functional.cross_entropy(logits, labels[index])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
            on_progress(
                f"fine-tuned: epoch {epoch + 1}/{config.epochs}", epoch * steps_per_epoch + step + 1, total
            )
        accuracy = _accuracy(model, tokenizer, splits.validation, config)
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "validation_accuracy": accuracy})
        if accuracy > best_accuracy:
            best_accuracy = accuracy
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert best_state is not None
    model.load_state_dict(best_state)
    extra = {POOLING_KEY: config.pooling, NORMALIZE_KEY: False, MAX_LENGTH_KEY: config.max_length}
    _save(model.eval(), config.base_dir, folder, extra)
    return {
        "epochs": history,
        "pooling": config.pooling,
        "max_length": config.max_length,
        "learning_rate": config.learning_rate,
    }


def _accuracy(model: Any, tokenizer: Any, snippets: Sequence[Snippet], config: TrainConfig) -> float:
    import torch

    model.eval()
    correct = 0
    for begin in range(0, len(snippets), 64):
        chunk = snippets[begin : begin + 64]
        encoded = tokenizer(
            [s.text for s in chunk],
            padding=True,
            truncation=True,
            max_length=config.max_length,
            return_tensors="pt",
        )
        with torch.inference_mode():
            predicted = classifier_logits(model, encoded, config.pooling).argmax(dim=-1).numpy()
        correct += int((predicted == label_ids(chunk)).sum())
    return correct / max(1, len(snippets))


TRAINERS = {"frozen-head": train_frozen_head, "fine-tuned": train_fine_tuned}


def train_classifier(config: TrainConfig, out: Path, on_progress: OnProgress | None = None) -> dict[str, Any]:
    """Trains each variant into a staging folder, measures it, keeps the best in `out`."""
    unknown = [name for name in config.variants if name not in TRAINERS]
    if unknown or not config.variants:
        raise InvalidRequest(
            f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}", param="variant"
        )
    progress = on_progress or (lambda phase, done, total: None)
    splits = load_splits(config)
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    results = []
    for name in config.variants:
        started = time.perf_counter()
        folder = staging / name
        details = TRAINERS[name](config, splits, folder, progress)
        seconds = time.perf_counter() - started
        progress(f"{name}: measuring", 0, 1)
        validation, test = evaluate_folder(folder, [splits.validation, splits.test], config.threads)
        progress(f"{name}: measuring", 1, 1)
        results.append(VariantResult(name, validation, test, round(seconds, 1), folder, details))
    chosen = max(results, key=lambda r: (r.validation.accuracy, r.validation.macro_f1))
    report = _place(out, staging, chosen, results, config, splits)
    return report


def _place(
    out: Path,
    staging: Path,
    chosen: VariantResult,
    results: list[VariantResult],
    config: TrainConfig,
    splits: Splits,
) -> dict[str, Any]:
    """The winner becomes `out`, each other variant `out/alternatives/<name>`, with the report beside."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(chosen.folder), str(out))
    chosen.folder = out
    for result in results:
        if result is not chosen:
            target = out / "alternatives" / result.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(result.folder), str(target))
            result.folder = target
    shutil.rmtree(staging, ignore_errors=True)
    report = {
        "chosen": chosen.name,
        "data": {"train": len(splits.train), "validation": len(splits.validation), "test": len(splits.test)},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
        "variants": {
            r.name: {
                "validation": asdict(r.validation),
                "test": asdict(r.test),
                "train_seconds": r.train_seconds,
                "folder": str(r.folder),
                **r.details,
            }
            for r in results
        },
    }
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report
