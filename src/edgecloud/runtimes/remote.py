"""Any OpenAI-compatible server (vLLM, a hosted API, another edgecloud node) used as a runtime, so a node
can front a remote engine exactly as it fronts a local one."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import EdgecloudError, InvalidRequest, UpstreamError
from edgecloud.runtimes.base import Capability, InferenceRequest, InferenceResult, Prepared, StepOutput
from edgecloud.runtimes.textstream import StopMatcher


class RemoteRuntime:
    """Streams from the upstream and re-emits its deltas; stop sequences are also applied locally."""

    capabilities = frozenset({Capability.CHAT, Capability.COMPLETION, Capability.EMBEDDING})
    device_label = "remote"  # the upstream server's own device, which its /health reports

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )
        self._model = model
        self.context_length = 1 << 20  # the upstream enforces its own limit

    def load(self, spec: ModelSpec) -> None:
        if self._model is None:
            self._model = spec.options.get("model", spec.name)

    def preprocess(self, request: InferenceRequest) -> Prepared:
        s = request.sampling
        if s.echo:
            raise InvalidRequest("echo is served by llama.cpp models only", param="echo")
        body: dict[str, Any] = {"model": self._model}
        if request.kind == "embedding":
            body["input"] = list(request.inputs)
            return Prepared(request=request, state=body)
        if request.kind == "chat":
            body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
        else:
            body["prompt"] = request.prompt
        body.update(
            stream=True, stream_options={"include_usage": True}, temperature=s.temperature, top_p=s.top_p
        )
        for key, value in (("max_tokens", s.max_tokens), ("seed", s.seed), ("stop", list(s.stop) or None)):
            if value is not None:
                body[key] = value
        return Prepared(request=request, max_tokens=s.max_tokens or 0, state=body)

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        for prepared in batch:
            if prepared.request.kind == "embedding":
                yield self._embed(prepared)
            else:
                yield from self._stream(prepared)

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        prompt, completion = raw.usage or (0, 0)
        if raw.vectors is not None:
            return InferenceResult(embeddings=raw.vectors, prompt_tokens=prompt)
        return InferenceResult(
            text=raw.text or "",
            finish_reason=raw.finish_reason,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )

    def close(self) -> None:
        self._client.close()

    def _embed(self, prepared: Prepared) -> StepOutput:
        data = self._post_json("/v1/embeddings", prepared.state)
        vectors = np.asarray([item["embedding"] for item in data["data"]], dtype=np.float32)
        usage = data.get("usage") or {}
        return StepOutput(prepared, vectors=vectors, usage=(int(usage.get("prompt_tokens", 0)), 0))

    def _stream(self, prepared: Prepared) -> Iterator[StepOutput]:
        path = "/v1/chat/completions" if prepared.request.kind == "chat" else "/v1/completions"
        stops = StopMatcher(prepared.request.sampling.stop)
        usage = (0, 0)
        finish: Any = None
        with self._client.stream("POST", path, json=prepared.state) as response:
            if response.status_code >= 400:
                response.read()
                raise _upstream_error(response)
            for line in response.iter_lines():
                if not line.startswith("data:") or line.strip() == "data: [DONE]":
                    continue
                chunk = json.loads(line[5:])
                if chunk.get("usage"):
                    usage = (chunk["usage"]["prompt_tokens"], chunk["usage"]["completion_tokens"])
                for choice in chunk.get("choices", []):
                    finish = choice.get("finish_reason") or finish
                    delta = choice.get("delta", {}).get("content") or choice.get("text") or ""
                    text, stopped = stops.feed(delta)
                    if text:
                        yield StepOutput(prepared, text=text, usage=usage)
                    if stopped:
                        yield StepOutput(prepared, text="", finish_reason="stop", usage=usage)
                        return
        yield StepOutput(prepared, text=stops.flush(), finish_reason=finish or "stop", usage=usage)

    def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream {self._client.base_url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise _upstream_error(response)
        result: dict[str, Any] = response.json()
        return result


def _upstream_error(response: httpx.Response) -> EdgecloudError:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = response.text[:200]
    if 400 <= response.status_code < 500:
        error = InvalidRequest(f"upstream rejected the request: {message}")
        error.status = response.status_code
        return error
    return UpstreamError(f"upstream answered {response.status_code}: {message}")
