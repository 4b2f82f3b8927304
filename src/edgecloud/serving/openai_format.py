"""OpenAI response shapes for chat and text completions, streamed or whole, in one place."""

from __future__ import annotations

import time
from typing import Any, Protocol

from edgecloud.runtimes.base import TokenLogprob


def usage_body(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class ResponseFormat(Protocol):
    def chunk(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, first: bool
    ) -> dict[str, Any]: ...

    def usage_chunk(self, prompt: int, completion: int) -> dict[str, Any]: ...

    def whole(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, prompt: int, completion: int
    ) -> dict[str, Any]: ...


class _Base:
    object_whole = ""
    object_chunk = ""

    def __init__(self, request_id: str, model: str) -> None:
        self.request_id = request_id
        self.model = model
        self.created = int(time.time())

    def _envelope(self, obj: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.request_id,
            "object": obj,
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def usage_chunk(self, prompt: int, completion: int) -> dict[str, Any]:
        body = self._envelope(self.object_chunk, [])
        body["usage"] = usage_body(prompt, completion)
        return body


class ChatFormat(_Base):
    object_whole = "chat.completion"
    object_chunk = "chat.completion.chunk"

    def chunk(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, first: bool
    ) -> dict[str, Any]:
        delta: dict[str, Any] = {"role": "assistant", "content": text} if first else {"content": text}
        choice = {"index": 0, "delta": delta, "logprobs": _chat_logprobs(logprobs), "finish_reason": finish}
        return self._envelope(self.object_chunk, [choice])

    def whole(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, prompt: int, completion: int
    ) -> dict[str, Any]:
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": _chat_logprobs(logprobs),
            "finish_reason": finish,
        }
        body = self._envelope(self.object_whole, [choice])
        body["usage"] = usage_body(prompt, completion)
        return body


class CompletionFormat(_Base):
    object_whole = "text_completion"
    object_chunk = "text_completion"

    def __init__(self, request_id: str, model: str) -> None:
        super().__init__(request_id, model)
        self._offset = 0

    def chunk(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, first: bool
    ) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "logprobs": self._logprobs(logprobs), "finish_reason": finish}
        return self._envelope(self.object_chunk, [choice])

    def whole(
        self, text: str, logprobs: list[TokenLogprob] | None, finish: str | None, prompt: int, completion: int
    ) -> dict[str, Any]:
        self._offset = 0
        choice = {"index": 0, "text": text, "logprobs": self._logprobs(logprobs), "finish_reason": finish}
        body = self._envelope(self.object_whole, [choice])
        body["usage"] = usage_body(prompt, completion)
        return body

    def _logprobs(self, logprobs: list[TokenLogprob] | None) -> dict[str, Any] | None:
        if logprobs is None:
            return None
        offsets = []
        for item in logprobs:
            offsets.append(self._offset)
            self._offset += len(item.token)
        return {
            "tokens": [item.token for item in logprobs],
            "token_logprobs": [item.logprob for item in logprobs],
            "top_logprobs": [{token: lp for token, lp, _ in item.top} for item in logprobs],
            "text_offset": offsets,
        }


def _chat_logprobs(logprobs: list[TokenLogprob] | None) -> dict[str, Any] | None:
    if logprobs is None:
        return None
    return {
        "content": [
            {
                "token": item.token,
                "logprob": item.logprob,
                "bytes": list(item.bytes),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(b)} for t, lp, b in item.top],
            }
            for item in logprobs
        ]
    }
