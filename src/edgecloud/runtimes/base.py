"""The Runtime contract every engine implements, and the values that flow through its four stages:
load -> preprocess -> infer -> postprocess. The node's scheduler drives these stages; engines never see
HTTP, and the HTTP layer never sees an engine's internals."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from edgecloud.catalogue import ModelSpec

RequestKind = Literal["chat", "completion", "embedding", "classification"]
FinishReason = Literal["stop", "length", "cancelled"]


class Capability(StrEnum):
    CHAT = "chat"
    COMPLETION = "completion"
    EMBEDDING = "embedding"
    CLASSIFICATION = "classification"
    LOGPROBS = "logprobs"


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    echo: bool = False  # completions: return the prompt (and its token logprobs) before the answer


@dataclass(frozen=True)
class InferenceRequest:
    request_id: str
    kind: RequestKind
    messages: tuple[ChatMessage, ...] = ()
    prompt: str = ""
    inputs: tuple[str, ...] = ()
    sampling: SamplingParams = field(default_factory=SamplingParams)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float | None  # None only for a prompt's first token when echoed (nothing precedes it)
    bytes: tuple[int, ...]
    top: tuple[tuple[str, float, tuple[int, ...]], ...] = ()


@dataclass
class Prepared:
    """A request after preprocessing: prompt tokens, the resolved token budget, and per-request
    decoding state (`state`) that postprocess updates step by step."""

    request: InferenceRequest
    tokens: list[int] = field(default_factory=list)
    max_tokens: int = 0
    state: Any = None


@dataclass(frozen=True)
class StepOutput:
    """What one engine step produced for one sequence: a token (decoders) or vectors (encoders)."""

    prepared: Prepared
    token_id: int | None = None
    logprob: float | None = None
    top_logprobs: tuple[tuple[int, float], ...] = ()
    vectors: Any = None
    finish_reason: FinishReason | None = None
    text: str | None = None  # engines that produce text directly (remote servers)
    usage: tuple[int, int] | None = None  # (prompt, completion) tokens when the engine reports them
    # echo: each prompt token with its logprob given the tokens before it (None for the first)
    prompt_logprobs: tuple[tuple[int, float | None, tuple[tuple[int, float], ...]], ...] | None = None
    stats: dict[str, Any] | None = None  # engine figures the response reports (speculative decoding)


@dataclass(frozen=True)
class InferenceResult:
    """A delta for decoders (new text since the last step) or a whole result for encoders."""

    text: str = ""
    logprobs: tuple[TokenLogprob, ...] = ()
    finish_reason: FinishReason | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    embeddings: Any = None
    scores: Any = None  # classifiers: label probabilities, one row per input
    stats: dict[str, Any] | None = None


@runtime_checkable
class Runtime(Protocol):
    """A model engine. The four stages the node runs for every request."""

    capabilities: frozenset[Capability]
    context_length: int

    def load(self, spec: ModelSpec) -> None: ...

    def preprocess(self, request: InferenceRequest) -> Prepared: ...

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]: ...

    def postprocess(self, raw: StepOutput) -> InferenceResult: ...

    def close(self) -> None: ...
