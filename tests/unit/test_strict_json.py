"""The strict JSON parser refuses what would otherwise fail later as a 500."""

from __future__ import annotations

import pytest

from edgecloud.errors import InvalidRequest
from edgecloud.strict_json import MAX_DEPTH, parse_json
from tests.hostile import bodies


@pytest.mark.parametrize("name,raw", sorted(bodies("m").items()))
def test_hostile_bodies_are_invalid_requests(name: str, raw: bytes) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_json(raw)
    assert info.value.status == 400
    assert "request body" in str(info.value)


def test_ordinary_bodies_parse_unchanged() -> None:
    raw = (
        b'{"model":"m","messages":[{"role":"user","content":"caf\\u00e9 \\ud83d\\ude00"}],"temperature":0.5}'
    )
    assert parse_json(raw) == {
        "model": "m",
        "messages": [{"role": "user", "content": "caf\u00e9 \U0001f600"}],
        "temperature": 0.5,
    }


def test_depth_limit_is_exact() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(InvalidRequest, match="deeper than"):
        parse_json(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))


def test_surrogate_in_a_key_is_found() -> None:
    with pytest.raises(InvalidRequest, match="surrogate"):
        parse_json(b'{"\\udfff": 1}')


def test_invalid_utf8_says_so() -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_json(b'{"a": "\xff"}')


def test_utf8_encoded_surrogate_is_invalid_utf8() -> None:
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_json(b'{"a": "h\xed\xa0\x80i"}')
