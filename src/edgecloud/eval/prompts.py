"""The prompts each kind of item is asked with. One place, so that edge and cloud, letter and
log-likelihood scoring all see the same wording."""

from __future__ import annotations

from edgecloud.eval.suites import LETTERS, ChoiceItem, OpenItem, TranslationItem


def choice_messages(item: ChoiceItem, sentiment: bool = False) -> list[dict[str, str]]:
    if sentiment:  # lettered options confuse small models here ("A. negative"): ask for the word
        content = (
            f'Movie review: "{item.question}"\n'
            "Is the sentiment of this review positive or negative? Answer with one word."
        )
        return [{"role": "user", "content": content}]
    lines = [f"Passage: {item.context}", ""] if item.context else []
    lines.append(f"Question: {item.question}")
    lines += [f"{LETTERS[i]}. {option}" for i, option in enumerate(item.options)]
    lines.append("Answer with the letter of the correct option only.")
    return [{"role": "user", "content": "\n".join(lines)}]


def choice_context(item: ChoiceItem, sentiment: bool = False) -> str:
    """The text an option's log-likelihood is conditioned on (plain completion style)."""
    head = f"Passage: {item.context}\n" if item.context else ""
    if sentiment:
        return f'{head}Movie review: "{item.question}"\nThe sentiment of this review is'
    return f"{head}Question: {item.question}\nAnswer:"


def open_messages(item: OpenItem) -> list[dict[str, str]]:
    content = (
        f"Answer the question with a short answer of a few words, nothing else.\nQuestion: {item.question}"
    )
    return [{"role": "user", "content": content}]


def translation_messages(item: TranslationItem) -> list[dict[str, str]]:
    """The node's translate task template frames the request; the message is the text alone."""
    return [{"role": "user", "content": item.source}]


def translation_metadata(item: TranslationItem) -> dict[str, str]:
    return {"task": "translate", "source": item.source_lang, "target": item.target_lang}
