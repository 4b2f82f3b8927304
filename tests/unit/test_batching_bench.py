"""The batching benchmark's inputs: concurrency levels and its distinct prompts."""

from __future__ import annotations

import pytest

from edgecloud.bench.batching import parse_levels, prompts


def test_levels_are_sorted_unique_positive_integers() -> None:
    assert parse_levels("16,1,4,32,4") == [1, 4, 16, 32]


@pytest.mark.parametrize("text", ["", "1,x", "0,4", "-2"])
def test_bad_levels_are_rejected_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match="integers"):
        parse_levels(text)


def test_every_request_of_a_level_asks_something_different() -> None:
    assert len(set(prompts(40))) == 40
