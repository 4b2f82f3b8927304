"""Entity resolution: which surface names are one entity. Two rules, both gated by MiniLM cosine
similarity of the names:
- a name whose words are a subset of a longer name's, seen in the same documents ("Curie" -> "Marie
  Curie"; with two candidates, the one it shares the most documents with). A surname may cross labels
  (spaCy tags "Newton" GPE beside "Isaac Newton" PERSON); other subsets keep the label family.
- names of one label family with cosine >= `same_threshold` anywhere in the corpus (but never two
  people with different given names).
Embedding similarity alone would be wrong here: "Curie" is nearer "Pierre Curie" (0.78) than "Marie
Curie" (0.73) in MiniLM, and "Marie Curie"/"Pierre Curie" must stay apart."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from edgecloud.cloud.kg_types import CONCEPT

Embed = Callable[[list[str]], np.ndarray]  # unit-length vectors, one row per name
FAMILIES = {"GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}


@dataclass(frozen=True)
class EntityKey:
    name: str
    label: str


def family(label: str) -> str:
    return FAMILIES.get(label, label)


@dataclass
class Resolution:
    canonical: dict[EntityKey, EntityKey]  # every key seen -> its entity
    aliases: dict[EntityKey, set[str]]  # entity -> other names it goes by

    def of(self, key: EntityKey) -> EntityKey:
        return self.canonical.get(key, key)


def _words(name: str) -> frozenset[str]:
    return frozenset(name.lower().replace(",", " ").split())


def _subset_target(
    short: EntityKey,
    longer: list[EntityKey],
    docs: dict[EntityKey, set[str]],
    counts: Counter[EntityKey],
    sims: dict[EntityKey, float],
) -> EntityKey | None:
    candidates: list[tuple[bool, int, int, float, EntityKey]] = []
    for other in longer:
        if not _words(short.name) < _words(other.name) or not docs[short] & docs[other]:
            continue
        surname = other.label == "PERSON" and short.name.lower() == other.name.lower().split()[-1]
        if surname or family(other.label) == family(short.label):
            shared = len(docs[short] & docs[other])
            candidates.append((surname, shared, counts[other], sims.get(other, 0.0), other))
    if not candidates:
        return None
    # A person's surname before other supersets ("Turing" -> "Alan Turing", not "Turing machine"), then
    # the name sharing the most documents, then the most mentioned ("Curie" -> "Marie Curie").
    *_, sim, best = max(candidates, key=lambda c: c[:4])
    return best if sim >= 0.5 else None


def _same_family_and_close(a: EntityKey, b: EntityKey, sim: float, threshold: float) -> bool:
    """Close names of one family, except two people with different given names (Marie/Pierre Curie)."""
    if family(a.label) != family(b.label) or sim < threshold:
        return False
    return a.label != "PERSON" or _words(a.name) <= _words(b.name)


def resolve(
    mentions: Iterable[tuple[EntityKey, str]], embed: Embed, same_threshold: float = 0.9
) -> Resolution:
    """mentions: (entity key, doc id) pairs. Concepts are matched by exact lowercase name only."""
    docs: dict[EntityKey, set[str]] = defaultdict(set)
    counts: Counter[EntityKey] = Counter()
    for key, doc_id in mentions:
        docs[key].add(doc_id)
        counts[key] += 1
    keys = sorted((k for k in docs if k.label != CONCEPT), key=lambda k: (len(k.name), k.name))
    vectors = embed([k.name for k in keys]) if keys else np.zeros((0, 1), dtype=np.float32)
    sims = vectors @ vectors.T
    canonical: dict[EntityKey, EntityKey] = {}
    for i, key in enumerate(keys):
        longer = keys[i + 1 :]
        row = {other: float(sims[i, i + 1 + j]) for j, other in enumerate(longer)}
        target = _subset_target(key, longer, docs, counts, row)
        if target is None:
            same = [o for o in longer if _same_family_and_close(key, o, row[o], same_threshold)]
            target = max(same, key=lambda o: (counts[o], row[o])) if same else None
        if target is not None:
            canonical[key] = target
    return _close(canonical, docs, counts)


def _close(
    canonical: dict[EntityKey, EntityKey], docs: dict[EntityKey, set[str]], counts: Counter[EntityKey]
) -> Resolution:
    """Follow chains (a -> b -> c) to their end, then merge names equal but for case."""
    resolved: dict[EntityKey, EntityKey] = {}
    for key in docs:
        target = key
        while target in canonical:
            target = canonical[target]
        resolved[key] = target
    lowered: dict[tuple[str, str], EntityKey] = {}
    for key in sorted(docs, key=lambda k: -counts[k]):  # concepts and case variants: exact lowercase
        end = resolved[key]
        first = lowered.setdefault((end.name.lower(), family(end.label)), end)
        resolved[key] = first
    aliases: dict[EntityKey, set[str]] = defaultdict(set)
    for key, end in resolved.items():
        if key.name != end.name:
            aliases[end].add(key.name)
    return Resolution({k: v for k, v in resolved.items() if k != v}, dict(aliases))
