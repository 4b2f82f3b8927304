"""Malformed and hostile requests, generated from a seed: each family is a way real clients and
attackers get a body wrong (broken or truncated JSON, invalid UTF-8, deep nesting, huge strings,
non-finite or out-of-range numbers, wrong types, 10,000 messages, wrong content types, multipart
garbage and bombs, non-audio bytes on the audio routes, bodies sent slowly). A server passes when none
of them gets a 5xx, every error is OpenAI-shaped, and it still answers a normal request afterwards.

Base bodies ask for one token, so the few mutations that stay valid cost a single decode step."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

JSON = "application/json"
BOUNDARY = "hostileboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
NUMERIC = ("max_tokens", "max_completion_tokens", "n", "top_k", "temperature", "top_p", "seed")
BAD_NUMBERS: tuple[object, ...] = (
    -1,
    0,
    -(10**30),
    10**30,
    2**63,
    2**64 + 1,
    1.5,
    1e308,
    "ten",
    True,
    None,
    [],
    {},
)


@dataclass(frozen=True)
class Target:
    """What the server serves: the routes exist on both servers unless `audio`/`verify` say so."""

    chat_model: str
    embed_model: str
    audio: bool = True  # the /v1/audio routes (a node's, or a gateway's in front of one)
    verify: bool = True  # /v1/speculative/verify (a node only)


@dataclass(frozen=True)
class Case:
    family: str
    method: str
    path: str
    content_type: str | None
    body: bytes
    slow: bool = False  # sent in small pieces with pauses, as a slowloris client does


def _chat(t: Target) -> dict[str, object]:
    return {"model": t.chat_model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}


def _base(t: Target, rng: random.Random) -> tuple[str, dict[str, object]]:
    choice = rng.randrange(4)
    if choice == 0:
        return "/v1/completions", {"model": t.chat_model, "prompt": "hi", "max_tokens": 1}
    if choice == 1:
        return "/v1/embeddings", {"model": t.embed_model, "input": "hi"}
    if choice == 2:
        return "/v1/classify", {"model": t.embed_model, "input": "hi"}
    return "/v1/chat/completions", _chat(t)


def _dump(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def broken_json(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    raw = bytearray(_dump(body))
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 4)):
            raw[rng.randrange(len(raw))] = rng.choice(b'{}[]",:\\ \x00')
    if _parses(bytes(raw)):  # still JSON (a renamed key, say): truncate it, so it is broken, not just odd
        raw = raw[: rng.randrange(len(raw))]
    return Case("broken json", "POST", path, JSON, bytes(raw))


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


def invalid_utf8(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    raw = _dump(body)
    cut = raw.index(b'"hi"') + 2
    junk = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80" * 8])
    return Case("invalid utf-8", "POST", path, JSON, raw[:cut] + junk + raw[cut:])


def deep_nesting(t: Target, rng: random.Random) -> Case:
    depth = rng.choice([65, 200, 1000, 5000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    inner = opener * depth + b"1" + closer * depth
    field = rng.choice([b"messages", b"metadata", b"input", b"stop"])
    raw = b'{"model":"' + t.chat_model.encode() + b'","' + field + b'":' + inner + b"}"
    return Case("deep nesting", "POST", "/v1/chat/completions", JSON, raw)


def huge_string(t: Target, rng: random.Random) -> Case:
    size = rng.choice([100_000, 1_000_000, 5_000_000, 50_000_000])
    body = _chat(t)
    body["messages"] = [{"role": "user", "content": "x" * size}]
    return Case("huge string", "POST", "/v1/chat/completions", JSON, _dump(body))


def non_finite(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    raw = _dump(body)[:-1] + b',"' + rng.choice(NUMERIC).encode() + b'":'
    return Case(
        "non-finite number",
        "POST",
        path,
        JSON,
        raw + rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"9" * 5000]) + b"}",
    )


def bad_number(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    key = rng.choice(NUMERIC)
    # null max_tokens is valid and means "up to the context" (as vLLM reads it): costly, not hostile
    body[key] = rng.choice([v for v in BAD_NUMBERS if v is not None or "max" not in key])
    return Case("out-of-range number", "POST", path, JSON, _dump(body))


def wrong_type(t: Target, rng: random.Random) -> Case:
    body = _chat(t)
    odd: list[object] = [
        "hi",
        7,
        None,
        {"role": "user"},
        [["hi"]],
        [{"role": "wizard", "content": "x"}],
        [{"role": "user", "content": [{"type": "image", "url": "x"}]}],
        [{"role": "user", "content": {"text": "x"}}],
        [],
    ]
    key = rng.choice(["messages", "model", "stop", "stream", "stream_options", "metadata", "logprobs"])
    body[key] = rng.choice(odd)
    return Case("wrong type", "POST", "/v1/chat/completions", JSON, _dump(body))


def many_messages(t: Target, rng: random.Random) -> Case:
    body = _chat(t)
    body["messages"] = [{"role": rng.choice(["user", "assistant"]), "content": "hi"}] * rng.choice(
        [1000, 10_000]
    )
    return Case("10,000 messages", "POST", "/v1/chat/completions", JSON, _dump(body))


def wrong_content_type(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    kind = rng.choice(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            MULTIPART,
            None,
            "application/json; charset=latin-1",
        ]
    )
    raw = rng.choice([_dump(body), b"model=x&messages=y", b""])
    return Case("wrong content type", "POST", path, kind, raw)


def _part(name: str, value: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def multipart(t: Target, rng: random.Random) -> Case:
    path = rng.choice(["/v1/audio/transcriptions", "/v1/audio/dialogue"])
    choice = rng.randrange(5)
    if choice == 0:  # garbage before the first boundary, broken part headers
        raw = b"garbage\r\n--" + BOUNDARY.encode() + b"\r\nnot a header\r\n\r\nzz"
    elif choice == 1:  # a bomb: thousands of fields
        raw = b"".join(_part(f"f{i}", b"x") for i in range(rng.choice([100, 5000])))
    elif choice == 2:  # a part header thousands of lines long
        raw = f"--{BOUNDARY}\r\n".encode() + b"X-Junk: y\r\n" * 5000 + b"\r\nzz"
    elif choice == 3:  # non-audio bytes as the file
        noise = rng.randbytes(rng.choice([0, 16, 4096]))
        raw = _part("model", t.chat_model.encode()) + _part("file", noise, "x.wav")
    else:  # no closing boundary
        raw = _part("model", b"whisper")[:-2]
    if choice != 0 and rng.random() < 0.8:
        raw += f"--{BOUNDARY}--\r\n".encode()
    return Case("multipart", "POST", path, MULTIPART, raw)


def slow_body(t: Target, rng: random.Random) -> Case:
    path, body = _base(t, rng)
    raw = _dump(body)
    if rng.random() < 0.5:
        raw = raw[: len(raw) // 2]
    return Case("slow body", "POST", path, JSON, raw, slow=True)


def wrong_route(t: Target, rng: random.Random) -> Case:
    method, path = rng.choice(
        [
            ("GET", "/v1/chat/completions"),
            ("POST", "/v1/models"),
            ("POST", "/v1/nope"),
            ("DELETE", "/health"),
            ("GET", "/v1/models/" + "a" * 5000),
            ("PUT", "/v1/embeddings"),
            ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
        ]
    )
    return Case("wrong route", method, path, JSON, b"{}")


def verify_round(t: Target, rng: random.Random) -> Case:
    body: dict[str, object] = {
        "model": t.chat_model,
        "session": "s",
        "tokens": rng.choice([[], [-1], [10**12], "x", [1] * 70_000]),
        "draft": [1, 2],
    }
    return Case("verify round", "POST", "/v1/speculative/verify", JSON, _dump(body))


Family = Callable[[Target, random.Random], Case]
# (family, weight): the cheap ones many times, the heavy ones (50 MB strings, 10,000 messages) rarely
FAMILIES: tuple[tuple[Family, int], ...] = (
    (broken_json, 20),
    (invalid_utf8, 8),
    (deep_nesting, 8),
    (huge_string, 1),
    (non_finite, 10),
    (bad_number, 20),
    (wrong_type, 15),
    (many_messages, 1),
    (wrong_content_type, 8),
    (multipart, 6),
    (slow_body, 1),
    (wrong_route, 4),
    (verify_round, 3),
)


def cases(count: int, target: Target, seed: int = 0) -> Iterator[Case]:
    """`count` cases drawn from the families by weight; the same seed gives the same requests."""
    rng = random.Random(seed)
    families = [
        (f, w)
        for f, w in FAMILIES
        if (target.audio or f is not multipart) and (target.verify or f is not verify_round)
    ]
    chosen = rng.choices([f for f, _ in families], weights=[w for _, w in families], k=count)
    for family in chosen:
        yield family(target, rng)
