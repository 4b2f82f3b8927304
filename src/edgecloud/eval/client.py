"""The evaluation's view of a model: an OpenAI-compatible endpoint asked through httpx, nothing
engine-specific. Every call reports its latency and tokens so quality comes with its cost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from edgecloud.errors import UpstreamError


class EndpointError(UpstreamError):
    """The evaluated endpoint answered with an error (its OpenAI-style message is kept)."""

    default_code = "endpoint_error"


@dataclass(frozen=True)
class Answer:
    text: str
    logprobs: tuple[float, ...]  # per generated token
    first_top: dict[str, float]  # the first token's alternatives (token -> logprob)
    seconds: float
    prompt_tokens: int
    completion_tokens: int
    tier: str | None = None  # x-edgecloud-tier when a gateway answered

    @property
    def mean_logprob(self) -> float | None:
        return sum(self.logprobs) / len(self.logprobs) if self.logprobs else None


@dataclass(frozen=True)
class Scored:
    """A continuation's log-likelihood given a prompt (completions with echo)."""

    logprob: float
    chars: int
    tokens: int
    seconds: float


class Endpoint:
    def __init__(self, client: httpx.AsyncClient, url: str, model: str, api_key: str | None = None) -> None:
        self._client = client
        self._base = url.rstrip("/").removesuffix("/v1") + "/v1"
        self.model = model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def chat(
        self, messages: list[dict[str, str]], max_tokens: int, metadata: dict[str, Any] | None = None
    ) -> Answer:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "logprobs": True,
            "top_logprobs": 5,
        }
        if metadata:
            body["metadata"] = metadata
        started = time.perf_counter()
        response = await self._post("/chat/completions", body)
        seconds = time.perf_counter() - started
        payload = response.json()
        choice = payload["choices"][0]
        content = (choice.get("logprobs") or {}).get("content") or []
        first_top = (
            {alt["token"]: alt["logprob"] for alt in content[0].get("top_logprobs", [])} if content else {}
        )
        usage = payload.get("usage") or {}
        return Answer(
            text=choice["message"].get("content") or "",
            logprobs=tuple(float(item["logprob"]) for item in content),
            first_top=first_top,
            seconds=seconds,
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            tier=response.headers.get("x-edgecloud-tier"),
        )

    async def loglikelihood(self, prompt: str, continuation: str) -> Scored | None:
        """Sum of the continuation's token logprobs; None when the server cannot echo prompt logprobs."""
        body = {
            "model": self.model,
            "prompt": prompt + continuation,
            "max_tokens": 1,
            "temperature": 0,
            "echo": True,
            "logprobs": 0,
        }
        started = time.perf_counter()
        try:
            response = await self._post("/completions", body)
        except EndpointError:
            return None
        logprobs = response.json()["choices"][0].get("logprobs") or {}
        offsets, values = logprobs.get("text_offset") or [], logprobs.get("token_logprobs") or []
        picked = [
            value
            for offset, value in zip(offsets, values, strict=False)
            if len(prompt) <= offset < len(prompt) + len(continuation)
        ]
        if not picked or any(value is None for value in picked):
            return None
        return Scored(sum(picked), len(continuation), len(picked), time.perf_counter() - started)

    async def classify(self, text: str) -> tuple[dict[str, float], float, int]:
        """A classifier's label probabilities for one text (POST /v1/classify), seconds and tokens."""
        started = time.perf_counter()
        response = await self._post("/classify", {"model": self.model, "input": text})
        payload = response.json()
        scores = {str(k): float(v) for k, v in payload["data"][0]["scores"].items()}
        tokens = int((payload.get("usage") or {}).get("prompt_tokens", 0))
        return scores, time.perf_counter() - started, tokens

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        response = await self._client.post(self._base + path, json=body, headers=self._headers)
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text[:200]
            raise EndpointError(f"{path} answered {response.status_code}: {message}")
        return response
