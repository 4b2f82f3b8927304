"""One llama.cpp context seen as a token sequence with a KV cache: `forward` evaluates only what the
cache lacks and returns the logits of the last positions asked for.

Why not llama-cpp-python's `eval`: it computes logits for every position only with `logits_all=True`
(about 5x slower for plain decoding), and it cannot cut the cache back after a rejected draft. Here the
batch asks for logits exactly where speculation needs them (the k + 1 verified positions) and a rejected
tail is removed from the cache with one `seq_rm`."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgecloud.errors import ContextLengthExceeded
from edgecloud.runtimes.logits import logits_row


@dataclass(frozen=True)
class Snapshot:
    """A sequence's KV cache and the tokens it holds, copied out so another sequence can use the
    context (the verifier's sessions)."""

    tokens: tuple[int, ...]
    state: bytes


class CachedSequence:
    """Not thread-safe: the node gives each engine one thread."""

    def __init__(self, llm: Any, n_batch: int = 512) -> None:
        from llama_cpp._internals import LlamaBatch

        self._llm = llm
        self._n_batch = n_batch
        self._n_vocab = int(llm.n_vocab())
        self._n_ctx = min(int(llm.n_ctx()), len(llm.input_ids))  # llama.cpp pads n_ctx() to 256
        self._batch = LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
        self.tokens: list[int] = []
        self.evaluated = 0  # tokens run through the model: the cost figure speculation reports

    @property
    def context_length(self) -> int:
        return self._n_ctx

    @property
    def n_vocab(self) -> int:
        return self._n_vocab

    def forward(self, tokens: list[int], rows: int) -> np.ndarray:
        """Logits after each of the last `rows` tokens (row i predicts tokens[len - rows + i + 1])."""
        if not 1 <= rows <= len(tokens):
            raise ValueError(f"rows must be within 1..{len(tokens)}, got {rows}")
        if len(tokens) > self._n_ctx:
            raise ContextLengthExceeded(f"{len(tokens)} tokens exceed the context of {self._n_ctx}")
        keep = min(common_prefix(self.tokens, tokens), len(tokens) - rows)
        self.truncate(keep)
        first_row = len(tokens) - rows
        out = np.empty((rows, self._n_vocab), dtype=np.float32)
        ctx = self._llm._ctx
        for start in range(keep, len(tokens), self._n_batch):
            chunk = tokens[start : start + self._n_batch]
            self._fill(chunk, start, first_row)
            ctx.decode(self._batch)
            self.tokens.extend(chunk)
            self.evaluated += len(chunk)
            for j in range(len(chunk)):
                position = start + j
                if position >= first_row:
                    out[position - first_row] = self._logits_at(j)
        return out

    def truncate(self, length: int) -> None:
        """Forget every cached position from `length` on (always asks llama.cpp: what else used the
        context may have left positions this object never saw)."""
        self._llm._ctx.kv_cache_seq_rm(0, length, -1)
        del self.tokens[length:]

    def clear(self) -> None:
        """The engine's other users (plain generation) reset the context: nothing cached is valid."""
        self._llm._ctx.kv_cache_clear()
        self.tokens = []

    def snapshot(self) -> Snapshot:
        import llama_cpp

        raw_ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(raw_ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(raw_ctx, buffer, size, 0)
        return Snapshot(tuple(self.tokens), bytes(buffer)[:written])

    def restore(self, snapshot: Snapshot) -> bool:
        """Loads a snapshot into the context; False (and an empty cache) when llama.cpp refuses it."""
        import llama_cpp

        self.clear()
        if not snapshot.state:
            return False
        buffer = (ctypes.c_uint8 * len(snapshot.state)).from_buffer_copy(snapshot.state)
        if llama_cpp.llama_state_seq_set_data(self._llm._ctx.ctx, buffer, len(snapshot.state), 0) == 0:
            self.clear()
            return False
        self.tokens = list(snapshot.tokens)
        return True

    def close(self) -> None:
        self._batch.close()

    def _fill(self, chunk: list[int], start: int, first_row: int) -> None:
        batch = self._batch.batch
        batch.n_tokens = len(chunk)
        for j, token in enumerate(chunk):
            batch.token[j] = token
            batch.pos[j] = start + j
            batch.seq_id[j][0] = 0
            batch.n_seq_id[j] = 1
            batch.logits[j] = start + j >= first_row

    def _logits_at(self, index: int) -> np.ndarray:
        return logits_row(self._llm._ctx, index, self._n_vocab).copy()


def common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n
