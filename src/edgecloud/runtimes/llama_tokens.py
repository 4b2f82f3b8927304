"""The exact bytes of a llama.cpp token: one reader for the decoder's detokenizer and the speculative
vocabulary digest (llama-cpp-python's own helper returns a zero-padded buffer)."""

from __future__ import annotations

import ctypes
from typing import Any

FIRST_TRY = 64  # bytes; almost every piece fits, a longer one is read again at the size llama.cpp asks


def token_piece(vocab: Any, token: int, *, special: bool) -> bytes:
    """`special`: render control tokens as their text (the digest needs them; generated text does not)."""
    import llama_cpp

    buffer = ctypes.create_string_buffer(FIRST_TRY)
    size = llama_cpp.llama_token_to_piece(vocab, token, buffer, FIRST_TRY, 0, special)
    if size < 0:
        buffer = ctypes.create_string_buffer(-size)
        size = llama_cpp.llama_token_to_piece(vocab, token, buffer, -size, 0, special)
    return buffer.raw[:size]
