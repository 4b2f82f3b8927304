"""Word error rate: word-level Levenshtein distance over the reference's words, after normalisation."""

from __future__ import annotations

import pytest

from edgecloud.speech.wer import WordErrors, align, normalize, wer, word_errors


def test_identical_text_has_no_errors() -> None:
    assert wer("set a timer for ten minutes", "set a timer for ten minutes") == 0.0


def test_case_punctuation_and_small_numbers_do_not_count_as_errors() -> None:
    assert normalize("Set a timer for 10 minutes!") == ["set", "a", "timer", "for", "ten", "minutes"]
    assert wer("Set a timer for ten minutes.", "set a timer for 10 minutes") == 0.0


def test_each_edit_kind_is_counted_separately() -> None:
    assert align(["a", "b", "c"], ["a", "x", "c"]) == WordErrors(1, 0, 0, 3)
    assert align(["a", "b", "c"], ["a", "c"]) == WordErrors(0, 1, 0, 3)
    assert align(["a", "b", "c"], ["a", "b", "x", "c"]) == WordErrors(0, 0, 1, 3)


def test_wer_is_edits_over_reference_words() -> None:
    # "jumps" -> "jump" is one substitution in nine words.
    said = "The quick brown fox jumps over the lazy dog."
    assert wer(said, "The quick brown fox jump over the lazy dog.") == pytest.approx(1 / 9)


def test_insertions_can_push_wer_above_one() -> None:
    assert wer("yes", "yes yes yes") == pytest.approx(2.0)


def test_empty_texts() -> None:
    assert wer("", "") == 0.0
    assert wer("", "something") == 1.0
    assert wer("two words", "") == 1.0


def test_corpus_wer_pools_errors_and_words() -> None:
    total = word_errors("a b c d", "a b c d") + word_errors("e f", "e x")
    assert total.errors == 1
    assert total.reference_words == 6
    assert total.wer == pytest.approx(1 / 6)
