"""Incremental detokenization for Hugging Face tokenizers, whose pieces do not concatenate byte-exactly
(SentencePiece spaces, byte-level BPE): decode a short window and emit only the settled difference."""

from __future__ import annotations

from typing import Any


class HFDetokenizer:
    """Keeps a small window of tokens (prefix/read offsets, as in vLLM) so each step is O(1)."""

    def __init__(self, tokenizer: Any, prompt_tail: list[int]) -> None:
        self._tokenizer = tokenizer
        self._tokens = list(prompt_tail[-4:])
        self._prefix = 0
        self._read = len(self._tokens)

    def feed(self, token_id: int) -> str:
        self._tokens.append(token_id)
        decode = self._tokenizer.decode
        prefix_text = decode(self._tokens[self._prefix : self._read], skip_special_tokens=True)
        full_text = decode(self._tokens[self._prefix :], skip_special_tokens=True)
        if full_text.endswith("\ufffd") or len(full_text) <= len(prefix_text):
            return ""  # a multi-byte character is still incomplete
        delta = full_text[len(prefix_text) :]
        self._prefix = self._read
        self._read = len(self._tokens)
        return str(delta)

    def flush(self) -> str:
        decode = self._tokenizer.decode
        prefix_text = decode(self._tokens[self._prefix : self._read], skip_special_tokens=True)
        full_text = decode(self._tokens[self._prefix :], skip_special_tokens=True)
        self._prefix = self._read = len(self._tokens)
        return str(full_text[len(prefix_text) :])
