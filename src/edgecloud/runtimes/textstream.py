"""Turning a stream of token ids into a stream of text deltas: incremental detokenization that never
splits a UTF-8 character, stop sequences that may arrive split across tokens, and per-token
log-probabilities. Shared by every decoder runtime so they all stream the same way."""

from __future__ import annotations

import codecs
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from edgecloud.errors import ContextLengthExceeded, InvalidRequest
from edgecloud.runtimes.base import InferenceResult, StepOutput, TokenLogprob


class Detokenizer(Protocol):
    def feed(self, token_id: int) -> str: ...

    def flush(self) -> str: ...


class ByteDetokenizer:
    """For engines whose token pieces are raw bytes (llama.cpp): concatenation is exact, so an
    incremental UTF-8 decoder is all that is needed to hold back half characters."""

    def __init__(self, piece: Callable[[int], bytes]) -> None:
        self._piece = piece
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, token_id: int) -> str:
        return self._decoder.decode(self._piece(token_id))

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class StopMatcher:
    """Finds stop sequences in streamed text, holding back any tail that could still become one."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        if not self._stops:
            return text, False
        buffer = self._pending + text
        hits = [i for i in (buffer.find(s) for s in self._stops) if i >= 0]
        if hits:
            self._pending = ""
            return buffer[: min(hits)], True
        hold = max((self._overlap(buffer, stop) for stop in self._stops), default=0)
        self._pending = buffer[len(buffer) - hold :] if hold else ""
        return buffer[: len(buffer) - hold], False

    def flush(self) -> str:
        pending, self._pending = self._pending, ""
        return pending

    @staticmethod
    def _overlap(buffer: str, stop: str) -> int:
        for size in range(min(len(stop) - 1, len(buffer)), 0, -1):
            if buffer.endswith(stop[:size]):
                return size
        return 0


@dataclass
class DecodeState:
    """Per-request streaming state kept in Prepared.state by decoder runtimes."""

    detokenizer: Detokenizer
    stops: StopMatcher
    piece: Callable[[int], bytes]
    generated: int = 0
    done: bool = field(default=False)


def decoder_postprocess(raw: StepOutput) -> InferenceResult:
    """One engine step -> one text delta, honouring stop sequences and logprob requests."""
    if raw.prompt_logprobs is not None:
        return _echoed_prompt(raw)
    state: DecodeState = raw.prepared.state
    text = ""
    logprobs: tuple[TokenLogprob, ...] = ()
    if raw.token_id is not None:
        state.generated += 1
        text = state.detokenizer.feed(raw.token_id)
        if raw.logprob is not None:
            logprobs = (_token_logprob(state.piece, raw.token_id, raw.logprob, raw.top_logprobs),)
    finish = raw.finish_reason
    if finish is not None:
        text += state.detokenizer.flush()
    emitted, stopped = state.stops.feed(text)
    if stopped:
        finish = "stop"
    elif finish is not None:
        emitted += state.stops.flush()
    state.done = finish is not None
    return InferenceResult(
        text=emitted,
        logprobs=logprobs,
        finish_reason=finish,
        prompt_tokens=len(raw.prepared.tokens),
        completion_tokens=state.generated,
        stats=raw.stats,
    )


def _echoed_prompt(raw: StepOutput) -> InferenceResult:
    """Completions with echo: the prompt text first, with each prompt token's logprob when asked
    (how evaluation harnesses score the likelihood of an answer option)."""
    state: DecodeState = raw.prepared.state
    entries = raw.prompt_logprobs or ()
    logprobs: tuple[TokenLogprob, ...] = ()
    if raw.prepared.request.sampling.logprobs:
        logprobs = tuple(_token_logprob(state.piece, tid, lp, top) for tid, lp, top in entries)
    return InferenceResult(
        text=raw.prepared.request.prompt, logprobs=logprobs, prompt_tokens=len(raw.prepared.tokens)
    )


def _token_logprob(
    piece: Callable[[int], bytes],
    token_id: int,
    logprob: float | None,
    top: tuple[tuple[int, float], ...],
) -> TokenLogprob:
    def describe(tid: int) -> tuple[str, tuple[int, ...]]:
        data = piece(tid)
        return data.decode("utf-8", errors="replace"), tuple(data)

    token, data = describe(token_id)
    alternatives = tuple((*describe(tid), lp) for tid, lp in top)
    return TokenLogprob(
        token=token, logprob=logprob, bytes=data, top=tuple((t, lp, b) for t, b, lp in alternatives)
    )


def token_budget(prompt_tokens: int, requested: int | None, context: int) -> int:
    """max_tokens within the context; an explicit request that cannot fit is the client's error."""
    room = context - prompt_tokens
    if prompt_tokens == 0:  # a model without a BOS token has nothing to continue from (llama.cpp asserts)
        raise InvalidRequest("the prompt is empty; send at least one character to continue", param="prompt")
    if requested is not None and requested < 1:
        raise InvalidRequest("max_tokens must be at least 1", param="max_tokens")
    if room < 1 or (requested is not None and requested > room):
        wanted = prompt_tokens + (requested or 1)
        raise ContextLengthExceeded(
            f"This model's maximum context length is {context} tokens. However, you requested {wanted} "
            f"tokens ({prompt_tokens} in the messages, {requested or 1} in the completion). "
            "Please reduce the length of the messages or completion.",
            param="messages",
        )
    return requested if requested is not None else room
