"""Request bodies that Python's json module accepts or chokes on in ways a server must answer with a
400 (each one was a 500 on the node or the gateway): shared by the node's and the gateway's tests."""

from __future__ import annotations

PREFIX = b'{"model":"%s","messages":[{"role":"user","content":"hi"}],'


def bodies(model: str) -> dict[str, bytes]:
    head = PREFIX.replace(b"%s", model.encode())
    return {
        "nested 100,000 deep": b'{"model":"'
        + model.encode()
        + b'","messages":'
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}",
        "nested 200 deep": head + b'"metadata":' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}",
        "5,000-digit integer": head + b'"max_tokens":' + b"9" * 5000 + b"}",
        "NaN": head + b'"temperature":NaN}',
        "Infinity": head + b'"max_tokens":Infinity}',
        "float overflow": head + b'"temperature":1e999}',
        "unpaired surrogate": b'{"model":"'
        + model.encode()
        + b'","messages":[{"role":"user","content":"\\ud800"}]}',
    }
