"""Reading a corpus: a file or a folder of .txt/.md (one document each), .jsonl (one per line) or
.parquet (one per row), in a stable order so shard numbering is the same on every run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edgecloud.errors import InvalidRequest

TEXT_SUFFIXES = frozenset({".txt", ".md"})
SUFFIXES = TEXT_SUFFIXES | {".jsonl", ".parquet"}
SKIPPED_NAMES = frozenset({"readme.md", "readme.txt"})  # a corpus folder's own description


class CorpusError(InvalidRequest):
    """The corpus path is missing, empty or has a record without text."""


@dataclass(frozen=True)
class Document:
    doc_id: str
    source: str  # the file (relative to the corpus root) it came from
    text: str


def corpus_files(root: Path) -> list[Path]:
    if not root.exists():
        raise CorpusError(f"no corpus at {root}")
    if root.is_file():
        if root.suffix.lower() not in SUFFIXES:
            raise CorpusError(f"{root}: not a .txt, .md, .jsonl or .parquet file")
        return [root]
    files = sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and path.suffix.lower() in SUFFIXES and path.name.lower() not in SKIPPED_NAMES
    )
    if not files:
        raise CorpusError(f"{root}: no .txt, .md, .jsonl or .parquet files")
    return files


def iter_documents(root: Path, *, text_field: str = "text", id_field: str = "id") -> Iterator[Document]:
    """Every document of the corpus; ids default to `file` or `file:row` when records carry none."""
    base = root if root.is_dir() else root.parent
    for path in corpus_files(root):
        source = str(path.relative_to(base))
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES:
            text = path.read_text(encoding="utf-8", errors="replace").strip()
            if text:
                yield Document(source, source, text)
        elif suffix == ".jsonl":
            yield from _jsonl_documents(path, source, text_field, id_field)
        else:
            yield from _parquet_documents(path, source, text_field, id_field)


def _record(record: dict[str, object], source: str, row: int, text_field: str, id_field: str) -> Document:
    text = record.get(text_field)
    if not isinstance(text, str):
        raise CorpusError(f"{source} row {row + 1}: no string field {text_field!r} (see --text-field)")
    doc_id = record.get(id_field)
    return Document(str(doc_id) if doc_id is not None else f"{source}:{row}", source, text.strip())


def _jsonl_documents(path: Path, source: str, text_field: str, id_field: str) -> Iterator[Document]:
    with path.open(encoding="utf-8") as handle:
        for row, line in enumerate(handle):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{source} line {row + 1}: invalid JSON ({exc.msg})") from None
            if not isinstance(record, dict):
                raise CorpusError(f"{source} line {row + 1}: expected a JSON object")
            yield _record(record, source, row, text_field, id_field)


def _parquet_documents(path: Path, source: str, text_field: str, id_field: str) -> Iterator[Document]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    if text_field not in parquet.schema_arrow.names:
        raise CorpusError(f"{source}: no column {text_field!r} (columns: {parquet.schema_arrow.names})")
    columns = [name for name in (id_field, text_field) if name in parquet.schema_arrow.names]
    row = 0
    for batch in parquet.iter_batches(columns=columns, batch_size=4096):
        for record in batch.to_pylist():
            yield _record(record, source, row, text_field, id_field)
            row += 1
