"""Labels from paired runs: both tiers answered the same eval item, each answer scored against the gold
answer. A pair holds the prompt text exactly as the gateway sees it (messages joined), both scores on a
0-1 scale, and the edge's own confidence (the cascade's signal), so one file serves the learned router,
the cascade baseline and the oracle.

Items are split into train and test by a hash of their id, not by run: any number of eval runs with any
seeds can be pooled, and an item used to train a router is never the item it is evaluated on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from edgecloud.errors import InvalidRequest
from edgecloud.eval import gold
from edgecloud.eval.harness import Record
from edgecloud.eval.scoring import PairedDifference, paired_difference
from edgecloud.eval.suites import Item, load_suite

PRIMARY = {"nq-open": "exact", "translation": "chrf"}
SIGNAL = "mean_logprob"
SPLITS = ("train", "test", "all")


@dataclass(frozen=True)
class Pair:
    suite: str
    id: str
    text: str
    edge: float  # the edge's score against the gold answer, 0-1 (accuracy, exact match or chrF/100)
    cloud: float
    signal: float | None = None  # the edge's mean token logprob for its answer

    @property
    def split(self) -> str:
        return split_of(self.id)

    @property
    def gain(self) -> float:
        """What sending this item to the cloud buys (negative where the edge did better)."""
        return self.cloud - self.edge


def split_of(item_id: str) -> str:
    """Half the items are held out for evaluation, chosen by a stable hash of the item id."""
    return "test" if hashlib.sha256(item_id.encode()).digest()[0] < 128 else "train"


def in_split(item_id: str, split: str) -> bool:
    if split not in SPLITS:
        raise InvalidRequest(f"unknown split {split!r}; choose from {', '.join(SPLITS)}", param="split")
    return split == "all" or split_of(item_id) == split


def primary_method(suite: str, methods: Iterable[str]) -> str:
    """The score a suite is judged by: a classifier's label where one answered, else the suite's own."""
    return "classify" if "classify" in set(methods) else PRIMARY.get(suite, "letter")


def item_text(suite: str, item: Item) -> str:
    """The chat text the eval harness sends for an item, joined as the gateway's RequestView joins it."""
    return "\n".join(m["content"] for m in gold.messages(suite, item))


def both_scored(
    edge: Sequence[Record], cloud: Sequence[Record], method: str
) -> Iterator[tuple[Record, Record]]:
    """(edge record, cloud record) for the items both tiers answered and scored with `method`."""
    by_id = {r.id: r for r in cloud if r.error is None and method in r.scores}
    for record in edge:
        other = by_id.get(record.id)
        if record.error is None and other and method in record.scores:
            yield record, other


def compare_tiers(edge: Sequence[Record], cloud: Sequence[Record], method: str) -> PairedDifference:
    """Cloud minus edge on the items both scored with `method`, tested item by item."""
    pairs = [(mine.scores[method], other.scores[method]) for mine, other in both_scored(edge, cloud, method)]
    return paired_difference(pairs)


def pairs_from_records(
    suite: str, items: Sequence[Item], edge: Sequence[Record], cloud: Sequence[Record]
) -> list[Pair]:
    method = primary_method(suite, (m for r in edge for m in r.scores))
    by_id = {item.id: item for item in items}
    return [
        Pair(
            suite,
            mine.id,
            item_text(suite, by_id[mine.id]),
            float(mine.scores[method]),
            float(other.scores[method]),
            mine.confidence.get(SIGNAL),
        )
        for mine, other in both_scored(edge, cloud, method)
        if mine.id in by_id
    ]


def pairs_from_eval(folder: Path) -> list[Pair]:
    """An `edgecloud eval --cloud --out DIR` folder as pairs."""
    from edgecloud.eval.records import read_records

    files = [folder / name for name in ("summary.json", "records.jsonl", "records-cloud.jsonl")]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise InvalidRequest(
            f"{folder} lacks {', '.join(missing)} (run `edgecloud eval ... --cloud URL --out DIR`)"
        )
    suite = str(json.loads(files[0].read_text())["suite"])
    return pairs_from_records(suite, load_suite(suite), read_records(files[1]), read_records(files[2]))


def merge(groups: Iterable[Sequence[Pair]]) -> list[Pair]:
    """Pairs from several runs, one per item (the first run's answer wins), in a stable order."""
    seen: dict[str, Pair] = {}
    for group in groups:
        for pair in group:
            seen.setdefault(pair.id, pair)
    return sorted(seen.values(), key=lambda p: (p.suite, p.id))


def save_pairs(pairs: Sequence[Pair], path: Path, meta: dict[str, str]) -> None:
    """JSONL: one header line naming the tiers' models, then one pair per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"meta": meta})] + [json.dumps(asdict(p), ensure_ascii=False) for p in pairs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_pairs(path: Path) -> tuple[list[Pair], dict[str, str]]:
    if not path.is_file():
        raise InvalidRequest(f"{path} does not exist (build it with `edgecloud router label`)")
    meta: dict[str, str] = {}
    pairs = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if "meta" in row:
                meta = {str(k): str(v) for k, v in row["meta"].items()}
            else:
                pairs.append(Pair(**row))
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"{path}:{number}: not a pair ({exc})") from None
    return pairs, meta
