"""How an eval item is asked and how an answer to it is scored against its gold answer, for code that
asks items outside the eval harness (the hybrid scenario's labeled mix): the same messages, token budget
and primary score as `edgecloud eval`, so a figure from one means the same in the other."""

from __future__ import annotations

from edgecloud.eval import prompts
from edgecloud.eval.scoring import chrf, exact_match, extract_letter
from edgecloud.eval.suites import ChoiceItem, Item, OpenItem

MAX_TOKENS = {"choice": 8, "open": 16, "translation": 64}


def messages(suite: str, item: Item) -> list[dict[str, str]]:
    if isinstance(item, ChoiceItem):
        return prompts.choice_messages(item, sentiment=suite == "sentiment")
    if isinstance(item, OpenItem):
        return prompts.open_messages(item)
    return prompts.translation_messages(item)


def metadata(item: Item) -> dict[str, str]:
    """Translation needs the node's translate task; the other items are plain chat."""
    if isinstance(item, ChoiceItem | OpenItem):
        return {}
    return prompts.translation_metadata(item)


def max_tokens(item: Item) -> int:
    kind = (
        "choice" if isinstance(item, ChoiceItem) else "open" if isinstance(item, OpenItem) else "translation"
    )
    return MAX_TOKENS[kind]


def score(item: Item, text: str) -> float:
    """The suite's primary score, 0-1: the right option, an exact answer, or sentence chrF / 100."""
    if isinstance(item, ChoiceItem):
        return float(extract_letter(text, len(item.options), item.options) == item.answer)
    if isinstance(item, OpenItem):
        return float(exact_match(text, item.answers))
    return chrf([first_line(text)], [item.reference]) / 100


def first_line(text: str) -> str:
    """A translation is judged on its first line (small models add notes after it)."""
    return text.strip().splitlines()[0] if text.strip() else ""
