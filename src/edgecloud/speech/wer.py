"""Word error rate: the word-level Levenshtein distance between what was said and what was recognised,
over the number of words said. Text is normalised first (case, punctuation, spelled-out digits), so that
"Turn on 2 lights." and "turn on two lights" count as the same words, as ASR evaluations usually do."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_NON_WORD = re.compile(r"[^a-z0-9' ]+")


def normalize(text: str) -> list[str]:
    """Lower-case words without punctuation; single numbers up to ten spelled out."""
    cleaned = _NON_WORD.sub(" ", text.lower().replace("-", " "))
    words = [word.strip("'") for word in cleaned.split()]
    return [_DIGITS[int(word)] if word.isdigit() and int(word) <= 10 else word for word in words if word]


@dataclass(frozen=True)
class WordErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if self.reference_words == 0:
            return 0.0 if self.errors == 0 else 1.0
        return self.errors / self.reference_words

    def __add__(self, other: WordErrors) -> WordErrors:
        """Corpus WER pools errors and words over utterances (not the mean of per-utterance rates)."""
        return WordErrors(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
        )


def align(reference: Sequence[str], hypothesis: Sequence[str]) -> WordErrors:
    """Minimum-edit alignment (dynamic programming, one row at a time), counting each edit kind."""
    # Each cell holds (cost, substitutions, deletions, insertions) for ref[:i] against hyp[:j].
    previous = [(j, 0, 0, j) for j in range(len(hypothesis) + 1)]
    for i, ref_word in enumerate(reference, start=1):
        current = [(i, 0, i, 0)]
        for j, hyp_word in enumerate(hypothesis, start=1):
            cost, sub, dele, ins = previous[j - 1]
            match = (cost, sub, dele, ins) if ref_word == hyp_word else (cost + 1, sub + 1, dele, ins)
            cost, sub, dele, ins = previous[j]
            deletion = (cost + 1, sub, dele + 1, ins)
            cost, sub, dele, ins = current[j - 1]
            insertion = (cost + 1, sub, dele, ins + 1)
            current.append(min(match, deletion, insertion))
        previous = current
    _, sub, dele, ins = previous[-1]
    return WordErrors(sub, dele, ins, len(reference))


def word_errors(reference: str, hypothesis: str) -> WordErrors:
    return align(normalize(reference), normalize(hypothesis))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one utterance (0 is perfect; can exceed 1 with many insertions)."""
    return word_errors(reference, hypothesis).wer
