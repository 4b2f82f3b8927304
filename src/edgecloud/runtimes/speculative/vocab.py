"""Draft and target must mean the same thing by every token id: their vocabularies are compared byte
for byte (a digest of every token's piece), at startup inside one node and on every round across a link."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.llama_tokens import token_piece


class VocabularyMismatch(InvalidRequest):
    default_code = "vocabulary_mismatch"


@dataclass(frozen=True)
class Vocabulary:
    model: str
    size: int
    sha256: str


def vocabulary_of(llm: Any, model: str) -> Vocabulary:
    vocab = llm._model.vocab
    size = int(llm.n_vocab())
    digest = hashlib.sha256()
    for token in range(size):
        piece = token_piece(vocab, token, special=True)
        digest.update(len(piece).to_bytes(4, "little"))
        digest.update(piece)
    return Vocabulary(model, size, digest.hexdigest())


def vocabulary_of_file(path: Path, model: str) -> Vocabulary:
    """Reads only the tokenizer (about half a second for a 1.5B GGUF)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    try:
        return vocabulary_of(llm, model)
    finally:
        llm.close()


def check_same(target: Vocabulary, draft: Vocabulary) -> None:
    if target.size == draft.size and target.sha256 == draft.sha256:
        return
    detail = (
        f"{draft.size:,} vs {target.size:,} tokens"
        if target.size != draft.size
        else f"both have {target.size:,} tokens but they differ"
    )
    raise VocabularyMismatch(
        f"draft model {draft.model!r} cannot draft for {target.model!r}: their vocabularies differ "
        f"({detail}); speculative decoding needs a draft that shares the target's tokenizer",
        param="draft_model",
    )
