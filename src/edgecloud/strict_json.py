"""Request bodies as strict JSON: one parser for the node and the gateway.

Python's json module accepts things a server must refuse up front, because each one otherwise fails
later, deep inside a handler, as a 500: nesting deep enough to exhaust the interpreter's recursion
limit (json itself, then pydantic or a re-encoder), integers past Python's 4,300-digit conversion
limit, NaN/Infinity (not JSON at all; RFC 8259 has no such literals), and unpaired UTF-16 surrogates
(as a JSON escape, or UTF-8-encoded, which json.loads(bytes) lets through; no UTF-8 encoder accepts
them, so the tokenizer raised). Each becomes an InvalidRequest (400) that says what was wrong."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from edgecloud.errors import InvalidRequest

MAX_DEPTH = 64  # OpenAI's request schemas nest a handful of levels; tool schemas rarely pass 20
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # the only way a surrogate gets into a str


def _no_constant(name: str) -> Any:
    raise InvalidRequest(f"request body is not valid JSON: {name} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequest(f"request body is not valid JSON: the number {text[:40]} is out of range")
    return value


def parse_json(raw: bytes) -> Any:
    """The body's JSON value, or InvalidRequest naming what makes it unacceptable."""
    try:  # decoded here, strictly: json.loads(bytes) would let UTF-8-encoded surrogates through
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise InvalidRequest(f"request body nests deeper than {MAX_DEPTH} levels") from None
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"request body is not valid UTF-8: {exc}") from None
    except ValueError as exc:  # JSONDecodeError, and the integer digit limit
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    check_value(value, surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    return value


def check_value(value: Any, *, surrogates: bool = True) -> None:
    """Depth at most MAX_DEPTH and (where the body had a surrogate escape) strings that encode as
    UTF-8. Iterative, so a hostile body cannot make the check itself recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise InvalidRequest(f"request body nests deeper than {MAX_DEPTH} levels")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            if surrogates and isinstance(item, dict):
                stack.extend((key, depth) for key in item)
        elif surrogates and isinstance(item, str):
            _encodable(item)


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidRequest(
            f"request body has an unpaired UTF-16 surrogate ({text[exc.start]!r} at character "
            f"{exc.start} of a string); send text as valid Unicode"
        ) from None
