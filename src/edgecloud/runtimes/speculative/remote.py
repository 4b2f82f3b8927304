"""The cloud's verify route as a Verifier: the edge drafts, one HTTP round trip per round.

Every round carries the whole context (token ids are small: ~1 kB per 200 tokens), so the cloud can
re-prefill a session it no longer holds instead of answering from a cache it lacks."""

from __future__ import annotations

from typing import Any

import httpx

from edgecloud.errors import InvalidRequest, Unavailable
from edgecloud.runtimes.speculative.protocol import Verification, VerifyRequest
from edgecloud.runtimes.speculative.vocab import Vocabulary

VERIFY_PATH = "/v1/speculative/verify"


class RemoteVerifier:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        vocabulary: Vocabulary,
        api_key: str | None = None,
        timeout: float = 30.0,
        verify: Any = True,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._vocabulary = vocabulary
        self._url = base_url.rstrip("/")
        if self._url.endswith("/v1"):
            self._url = self._url[: -len("/v1")]
        self._client = httpx.Client(headers=headers, timeout=timeout, verify=verify)

    def verify(self, request: VerifyRequest) -> Verification:
        try:
            body = to_body(self.model, request, self._vocabulary)
            response = self._client.post(self._url + VERIFY_PATH, json=body)
        except httpx.HTTPError as exc:
            raise Unavailable(f"the verifier at {self._url} cannot be reached: {exc}", retry_after=1) from exc
        if response.status_code == 400:  # our request is wrong (vocabulary, context): not a link fault
            error = response.json().get("error", {})
            raise InvalidRequest(error.get("message", response.text[:300]), code=error.get("code"))
        if response.status_code != 200:
            raise Unavailable(
                f"the verifier at {self._url} answered {response.status_code}: {response.text[:300]}"
            )
        return from_body(response.json())

    def close(self) -> None:
        self._client.close()


def to_body(model: str, request: VerifyRequest, vocabulary: Vocabulary) -> dict[str, Any]:
    draft = request.draft
    return {
        "model": model,
        "vocabulary": {"model": vocabulary.model, "size": vocabulary.size, "sha256": vocabulary.sha256},
        "session": request.session,
        "tokens": list(request.context),
        "draft": list(draft.tokens),
        "q": [[list(ids), list(probs)] for ids, probs in draft.q] if draft.q is not None else None,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "logprobs": request.logprobs,
        "top_logprobs": request.top_logprobs,
    }


def from_body(body: dict[str, Any]) -> Verification:
    return Verification(
        accepted=int(body["accepted"]),
        tokens=tuple(int(t) for t in body["tokens"]),
        logprobs=tuple(
            (float(lp), tuple((int(t), float(v)) for t, v in top)) for lp, top in body.get("logprobs") or ()
        ),
        prefilled=int(body.get("prefilled", 0)),
    )
