"""GGUF requantization through llama.cpp's own quantize API, and what llama.cpp itself says about the
result: file size, decode tokens/s, perplexity and greedy next-token agreement on a fixed text (from the
engine's logits, so the figures are those of the engine that serves the file).

A bundled model that ships only quantized (Gemma 3 270M is Q4_K_M) can only be requantized:
`allow_requantize` dequantizes each tensor to f32 and quantizes it again, so no output is more accurate
than the source, whatever its type; the report says so."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.errors import InvalidRequest, ModelFileError

GGUF_FILE = "model.gguf"
FULL_PRECISION = frozenset({"F32", "F16", "BF16"})


def ftype_of(name: str) -> int:
    """llama.cpp's file type constant for a type name like Q5_K_M, F16 or F32."""
    import llama_cpp

    key = name.upper()
    attr = "LLAMA_FTYPE_ALL_F32" if key == "F32" else f"LLAMA_FTYPE_MOSTLY_{key}"
    if not hasattr(llama_cpp, attr):
        known = sorted(a.removeprefix("LLAMA_FTYPE_MOSTLY_") for a in dir(llama_cpp) if "FTYPE_MOSTLY" in a)
        raise InvalidRequest(f"unknown GGUF type {name!r}; one of F32, {', '.join(known)}")
    return int(getattr(llama_cpp, attr))


def requantize(src: Path, target: Path, type_name: str, *, threads: int = 2) -> Path:
    """llama_model_quantize(src -> target) with allow_requantize; raises ModelFileError on failure."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype_of(type_name)
    params.allow_requantize = True
    params.nthread = threads
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    status = llama_cpp.llama_model_quantize(str(src).encode(), str(partial).encode(), ctypes.byref(params))
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise ModelFileError(f"llama.cpp could not quantize {src} to {type_name} (status {status})")
    partial.replace(target)
    return target


@dataclass(frozen=True)
class TokenScores:
    """Per position of a fixed text: the true next token's log-probability and the argmax token."""

    logprobs: np.ndarray
    argmax: np.ndarray

    @property
    def perplexity(self) -> float:
        return float(np.exp(-self.logprobs.mean()))


def open_gguf(path: Path, *, threads: int, n_ctx: int = 1024, n_batch: int = 128) -> Any:
    from llama_cpp import Llama

    if not path.is_file():
        raise ModelFileError(f"{path} is missing")
    return Llama(
        model_path=str(path),
        n_ctx=n_ctx,
        n_batch=n_batch,
        n_threads=threads,
        n_threads_batch=threads,
        logits_all=False,
        verbose=False,
    )


def tokenize(llm: Any, text: str, limit: int) -> list[int]:
    return list(llm.tokenize(text.encode("utf-8"), add_bos=True, special=False))[:limit]


def token_scores(llm: Any, tokens: Sequence[int]) -> TokenScores:
    """One prefill with logits at every position, chunk by chunk (a 262k vocabulary makes a full
    matrix large), keeping only what perplexity and agreement need."""
    from llama_cpp._internals import LlamaBatch

    n_batch = int(llm.n_batch)
    n_vocab = int(llm.n_vocab())
    batch = LlamaBatch(n_tokens=n_batch, embd=0, n_seq_max=1, verbose=False)
    logprobs: list[float] = []
    argmax: list[int] = []
    try:
        llm._ctx.kv_cache_clear()
        for start in range(0, len(tokens) - 1, n_batch):
            chunk = list(tokens[start : min(start + n_batch, len(tokens) - 1)])
            batch.set_batch(chunk, n_past=start, logits_all=True)
            llm._ctx.decode(batch)
            pointer = ctypes.cast(llm._ctx.get_logits(), ctypes.POINTER(ctypes.c_float))
            block = np.ctypeslib.as_array(pointer, shape=(len(chunk), n_vocab)).astype(np.float64)
            shifted = block - block.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(shifted).sum(axis=1))
            targets = np.asarray(tokens[start + 1 : start + 1 + len(chunk)])
            logprobs.extend(shifted[np.arange(len(chunk)), targets] - log_norm)
            argmax.extend(block.argmax(axis=1).tolist())
    finally:
        batch.close()
        llm._ctx.kv_cache_clear()
        llm.reset()
    return TokenScores(np.asarray(logprobs), np.asarray(argmax))


def decode_rate(llm: Any, prompt: Sequence[int], new_tokens: int) -> float:
    """Greedy decode tokens/s after a prefill (prefill not timed), one token per llama_decode."""
    from llama_cpp._internals import LlamaBatch

    n_vocab = int(llm.n_vocab())
    batch = LlamaBatch(n_tokens=max(len(prompt), 1), embd=0, n_seq_max=1, verbose=False)

    def last_logits() -> np.ndarray:
        pointer = ctypes.cast(llm._ctx.get_logits_ith(-1), ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(pointer, shape=(n_vocab,))

    try:
        llm._ctx.kv_cache_clear()
        batch.set_batch(list(prompt), n_past=0, logits_all=False)
        llm._ctx.decode(batch)
        token = int(last_logits().argmax())
        started = time.perf_counter()
        for step in range(new_tokens):
            batch.set_batch([token], n_past=len(prompt) + step, logits_all=False)
            llm._ctx.decode(batch)
            token = int(last_logits().argmax())
        return new_tokens / (time.perf_counter() - started)
    finally:
        batch.close()
        llm._ctx.kv_cache_clear()
        llm.reset()


def timed_open(path: Path, *, threads: int, n_ctx: int = 1024) -> tuple[Any, float]:
    started = time.perf_counter()
    llm = open_gguf(path, threads=threads, n_ctx=n_ctx)
    return llm, time.perf_counter() - started


def interleaved_decode(
    models: dict[str, Any], prompt_text: str, new_tokens: int, repeats: int, tick: Callable[[], None]
) -> dict[str, list[float]]:
    """Decode rate of each model, alternating the order each round so drift hits both sides alike."""
    rates: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    for round_ in range(repeats):
        for name in names if round_ % 2 == 0 else reversed(names):
            llm = models[name]
            rates[name].append(decode_rate(llm, tokenize(llm, prompt_text, 64), new_tokens))
            tick()
    return rates
