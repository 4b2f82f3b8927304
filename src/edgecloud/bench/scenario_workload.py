"""The hybrid scenario's workload: a fixed mix of labeled, dialogue, private and mining prompts (the same
list for every placement), the request body each placement gets, and how close two greedy answers are
(exact match, token overlap F1; an extra column beside the gold-answer quality).

Labeled prompts are held-out eval items (the router's test split: never trained on), asked exactly as
`edgecloud eval` asks them and scored against their gold answer, so quality is correctness, not
agreement. Dialogue prompts carry no hints (the policy chain places them); private prompts carry an
email address or a phone number (the privacy policy keeps them on the edge); mining prompts carry
`metadata.task: mining` (the task policy sends them to the cloud)."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from edgecloud.eval import gold
from edgecloud.eval.suites import Item as EvalItem
from edgecloud.eval.suites import load_suite
from edgecloud.routing.pairs import in_split

DIALOGUE = (
    "Say hello and ask how my day was.",
    "What should I cook tonight?",
    "Tell me a short joke.",
    "How do I say thank you in Spanish?",
    "Give me one tip for sleeping better.",
    "What is a good name for a cat?",
    "Suggest a quick stretch I can do at my desk.",
    "What is the capital of France?",
)
PRIVATE = (
    "My email is jane.doe@example.com. Write a one-line reply confirming our meeting.",
    "Call me back at +44 20 7946 0958 about my order, and tell me what to say when you do.",
    "Remind omar.haddad@example.org that the invoice is due on Friday.",
    "My phone number is +1 212 736 5000. How should I introduce myself on a voicemail?",
)
MINING = (
    "List the main topics in these reviews: battery life is short, screen is sharp, price is high.",
    "Extract the people and places: Ana met Omar in Lisbon, then flew to Nairobi with Li.",
    "Summarise in one sentence: the edge answers fast; the cloud handles big models and data.",
    "Classify the sentiment of each review: great phone; awful support; fine for the price.",
)
LABELED_SUITES = ("mmlu", "openbookqa", "commonsenseqa", "boolq", "nq-open", "sentiment", "translation")
KINDS = {"labeled": (), "dialogue": DIALOGUE, "private": PRIVATE, "mining": MINING}
# Out of every 8 requests: 4 labeled, 2 dialogue, 1 private, 1 mining (interleaved: every slice a mix).
DEFAULT_CYCLE = ("labeled", "dialogue", "labeled", "private", "labeled", "dialogue", "labeled", "mining")
DEFAULT_MIX = "labeled=4,dialogue=2,private=1,mining=1"


@dataclass(frozen=True)
class Labeled:
    """A held-out eval item and its suite."""

    suite: str
    item: EvalItem


def labeled_items(count: int, suites: Sequence[str] = LABELED_SUITES, seed: int = 0) -> list[Labeled]:
    """`count` items from the router's test split, the suites taken in turn (a seeded sample of each)."""
    per_suite = -(-count // len(suites))
    pools = []
    for suite in suites:
        held_out = [item for item in load_suite(suite) if in_split(item.id, "test")]
        pools.append([Labeled(suite, item) for item in random.Random(seed).sample(held_out, per_suite)])
    interleaved = [pool[i] for i in range(per_suite) for pool in pools]
    return interleaved[:count]


def pattern(mix: Sequence[tuple[str, int]]) -> tuple[str, ...]:
    """One cycle of the mix, each kind spread evenly (the kind furthest behind its share goes next)."""
    total = sum(weight for _, weight in mix)
    if total <= 0 or any(kind not in KINDS or weight < 0 for kind, weight in mix):
        raise ValueError(f"a mix names {', '.join(KINDS)} with non-negative weights, e.g. dialogue=4")
    placed: Counter[str] = Counter()
    cycle = []
    for position in range(1, total + 1):
        kind = max(mix, key=lambda kw: kw[1] * position / total - placed[kw[0]])[0]
        placed[kind] += 1
        cycle.append(kind)
    return tuple(cycle)


def parse_mix(text: str) -> tuple[str, ...]:
    """`dialogue=4,private=2,mining=2` (kinds left out get weight 0) as one cycle of kinds."""
    mix = []
    for part in text.split(","):
        kind, _, weight = part.strip().partition("=")
        mix.append((kind.strip(), int(weight)))
    return pattern(mix)


@dataclass(frozen=True)
class Item:
    index: int
    kind: str  # labeled | dialogue | private | mining
    prompt: str
    labeled: Labeled | None = None

    @property
    def metadata(self) -> dict[str, str]:
        if self.labeled is not None:
            return gold.metadata(self.labeled.item)
        return {"task": "mining"} if self.kind == "mining" else {}

    @property
    def messages(self) -> list[dict[str, str]]:
        if self.labeled is not None:
            return gold.messages(self.labeled.suite, self.labeled.item)
        return [{"role": "user", "content": self.prompt}]

    def score(self, text: str) -> float | None:
        """The answer's score against the gold answer (None: the item has none)."""
        return gold.score(self.labeled.item, text) if self.labeled is not None else None


def build_workload(count: int, cycle: Sequence[str] = DEFAULT_CYCLE) -> list[Item]:
    """`count` items following the cycle of kinds; each kind cycles through its prompts, labeled items
    through the held-out eval items (the same ones in every run)."""
    needed = sum(cycle[index % len(cycle)] == "labeled" for index in range(count))
    held_out = labeled_items(needed) if needed else []
    seen: Counter[str] = Counter()
    items = []
    for index in range(count):
        kind = cycle[index % len(cycle)]
        if kind == "labeled":
            chosen = held_out[seen[kind]]
            text = "\n".join(m["content"] for m in gold.messages(chosen.suite, chosen.item))
            items.append(Item(index, kind, text, chosen))
        else:
            prompts = KINDS[kind]
            items.append(Item(index, kind, prompts[seen[kind] % len(prompts)]))
        seen[kind] += 1
    return items


def body_for(item: Item, model: str, max_tokens: int, *, gateway: bool) -> dict[str, Any]:
    """A greedy streamed chat request; only the gateway gets the placement metadata (a labeled item's
    task metadata goes to every placement: a node needs it to frame a translation)."""
    if item.labeled is not None:
        max_tokens = gold.max_tokens(item.labeled.item)
    body: dict[str, Any] = {
        "model": model,
        "messages": item.messages,
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if item.metadata and (gateway or item.labeled is not None):
        body["metadata"] = item.metadata
    return body


_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def exact_match(answer: str, reference: str) -> bool:
    return " ".join(words(answer)) == " ".join(words(reference))


def token_f1(answer: str, reference: str) -> float:
    """SQuAD-style bag-of-words F1 between two answers: 1.0 for the same words, 0.0 for none shared."""
    a, b = Counter(words(answer)), Counter(words(reference))
    if not a and not b:
        return 1.0
    shared = sum((a & b).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / sum(a.values()), shared / sum(b.values())
    return 2 * precision * recall / (precision + recall)
