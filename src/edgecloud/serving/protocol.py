"""OpenAI request schemas in one place (pydantic lives here, at the HTTP edge), and their translation
into the engine-neutral InferenceRequest. Responses are plain dicts built by the route modules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edgecloud.runtimes.base import ChatMessage, InferenceRequest, SamplingParams


class _Body(BaseModel):
    # Unknown fields are accepted and ignored, as OpenAI-compatible servers do (clients send extras).
    model_config = ConfigDict(extra="allow", strict=False)


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(_Body):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class StreamOptions(_Body):
    include_usage: bool = False


class _Sampling(_Body):
    model: str
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 1.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: Annotated[int, Field(ge=1, le=1)] = 1
    user: str | None = None
    metadata: dict[str, Any] | None = None

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    def stops(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)


class ChatCompletionRequest(_Sampling):
    messages: Annotated[list[Message], Field(min_length=1)]
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None

    def to_inference(self, request_id: str) -> InferenceRequest:
        sampling = SamplingParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=self.stops(),
            logprobs=self.logprobs,
            top_logprobs=(self.top_logprobs or 0) if self.logprobs else 0,
        )
        messages = tuple(ChatMessage(m.role, m.text()) for m in self.messages)
        return InferenceRequest(request_id=request_id, kind="chat", messages=messages, sampling=sampling)


class CompletionRequest(_Sampling):
    prompt: str | list[str]
    max_tokens: Annotated[int, Field(ge=1)] | None = 16
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool = False

    @field_validator("prompt")
    @classmethod
    def _single_prompt(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and len(value) != 1:
            raise ValueError("exactly one prompt per request is supported")
        return value

    def to_inference(self, request_id: str) -> InferenceRequest:
        prompt = self.prompt if isinstance(self.prompt, str) else self.prompt[0]
        sampling = SamplingParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=self.stops(),
            logprobs=self.logprobs is not None,
            top_logprobs=self.logprobs or 0,
            echo=self.echo,
        )
        return InferenceRequest(request_id=request_id, kind="completion", prompt=prompt, sampling=sampling)


class EmbeddingRequest(_Body):
    model: str
    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None

    @field_validator("input")
    @classmethod
    def _no_empty_text(cls, value: str | list[str]) -> str | list[str]:
        texts = [value] if isinstance(value, str) else value
        if any(not text for text in texts):
            raise ValueError("input must not contain empty strings")
        return value

    def to_inference(self, request_id: str) -> InferenceRequest:
        inputs = (self.input,) if isinstance(self.input, str) else tuple(self.input)
        return InferenceRequest(request_id=request_id, kind="embedding", inputs=inputs)


class ClassifyRequest(_Body):
    """POST /v1/classify: one text or a list of texts, each labelled by a classification model."""

    model: str
    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)]
    user: str | None = None

    @field_validator("input", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        """One clear message per mistake (instead of pydantic's per-branch union errors)."""
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list) or not texts:
            raise ValueError("input must be a string or a non-empty list of strings")
        if not all(isinstance(text, str) for text in texts):
            raise ValueError("input must contain only strings")
        if any(not text.strip() for text in texts):
            raise ValueError("input must not contain empty strings")
        return value

    def to_inference(self, request_id: str) -> InferenceRequest:
        inputs = (self.input,) if isinstance(self.input, str) else tuple(self.input)
        return InferenceRequest(request_id=request_id, kind="classification", inputs=inputs)


class VocabularyBody(_Body):
    model: str
    size: int
    sha256: str


class VerifyBody(_Body):
    """One round of speculative decoding across the link (see runtimes/speculative): the drafter's whole
    context as token ids, its k drafted tokens and, when sampling, the distribution each was drawn from."""

    model: str
    session: Annotated[str, Field(min_length=1, max_length=128)]
    tokens: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
    draft: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=16)] = []
    q: list[tuple[list[int], list[Annotated[float, Field(ge=0.0, le=1.0)]]]] | None = None
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] = 0.0
    top_p: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    seed: int | None = None
    logprobs: bool = False
    top_logprobs: Annotated[int, Field(ge=0, le=20)] = 0
    vocabulary: VocabularyBody | None = None


class ControlBody(BaseModel):
    """What the gateway's POST /dashboard/control accepts (with the page's x-edgecloud-csrf token).
    Strict: a number sent as a string is refused, not read as one."""

    model_config = ConfigDict(strict=True)

    action: Literal["offline", "online", "threshold"]
    tier: str | None = None  # offline / online
    policy: Literal["cascade", "router", "latency"] | None = None  # threshold
    value: float | None = None  # threshold (latency: the TTFT SLO in ms)
