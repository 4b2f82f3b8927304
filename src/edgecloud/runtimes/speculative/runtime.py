"""Speculative decoding behind the Runtime contract: a node serves the target's name, and its text is the
target's (token for token when greedy; distributed as the target's when sampling), produced in rounds of
draft-then-verify. The target is either loaded here (one node) or a cloud node's verify route (`verify_url`:
the edge drafts, the cloud verifies)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, Unavailable
from edgecloud.runtimes.base import Capability, InferenceRequest, InferenceResult, Prepared, StepOutput
from edgecloud.runtimes.llamacpp import LlamaCppRuntime, is_end_of_generation
from edgecloud.runtimes.speculative.adapt import DraftLength
from edgecloud.runtimes.speculative.decode import Fallback, Speculation, speculate
from edgecloud.runtimes.speculative.drafter import LocalDrafter
from edgecloud.runtimes.speculative.protocol import Draft, Verifier, VerifyRequest
from edgecloud.runtimes.speculative.remote import RemoteVerifier
from edgecloud.runtimes.speculative.sequence import CachedSequence
from edgecloud.runtimes.speculative.verifier import InProcessVerifier
from edgecloud.runtimes.speculative.vocab import check_same, vocabulary_of
from edgecloud.runtimes.textstream import decoder_postprocess

log = logging.getLogger(__name__)


class SpeculativeRuntime:
    capabilities = frozenset({Capability.CHAT, Capability.COMPLETION, Capability.LOGPROBS})

    def __init__(
        self,
        draft: ModelSpec,
        *,
        n_threads: int = 2,
        n_ctx: int | None = None,
        verify_url: str | None = None,
        verify_key: str | None = None,
        fallback: Fallback = "none",
        k: int | None = None,
        k_max: int = 8,
    ) -> None:
        self._draft_spec = draft
        self._threads = n_threads
        self._n_ctx = n_ctx
        self._verify_url = verify_url
        self._verify_key = verify_key
        self._fallback: Fallback = fallback
        self.lengths = DraftLength(k_max=max(k_max, k or 0), fixed=k)
        self._draft = LlamaCppRuntime(n_ctx=n_ctx, n_threads=n_threads)
        self._target: LlamaCppRuntime | None = None
        self._speculation: Speculation | None = None
        self.context_length = 0

    def load(self, spec: ModelSpec) -> None:
        # The draft renders prompts exactly as the target would: same template, the target's system prompt.
        self._draft.load(replace(self._draft_spec, default_system_prompt=spec.default_system_prompt))
        draft_vocabulary = vocabulary_of(self._draft.llm, self._draft_spec.name)
        verifier: Verifier
        if self._verify_url is None:
            self._target = LlamaCppRuntime(n_ctx=self._n_ctx, n_threads=self._threads)
            self._target.load(spec)
            check_same(vocabulary_of(self._target.llm, spec.name), draft_vocabulary)
            verifier = InProcessVerifier(CachedSequence(self._target.llm))
            self.context_length = min(self._target.context_length, self._draft.context_length)
        else:
            verifier = RemoteVerifier(
                self._verify_url, spec.name, api_key=self._verify_key, vocabulary=draft_vocabulary
            )
            _probe(verifier, int(self._draft.llm.token_eos()))
            self.context_length = self._draft.context_length
        vocab = self._draft.llm._model.vocab
        self._speculation = Speculation(
            drafter=LocalDrafter(CachedSequence(self._draft.llm)),
            verifier=verifier,
            lengths=self.lengths,
            is_end=lambda token: is_end_of_generation(vocab, token),
            fallback=self._fallback,
        )

    def preprocess(self, request: InferenceRequest) -> Prepared:
        if request.sampling.echo:
            raise InvalidRequest("echo is not available with speculative decoding", param="echo")
        front = self._target or self._draft
        return front.preprocess(request)

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        if len(batch) != 1:
            raise ValueError("speculative decoding runs one sequence at a time")
        assert self._speculation is not None, "load() first"
        # Every request starts from empty caches, as the plain llama.cpp path does: a cached prefix is
        # evaluated in other batch shapes, whose rounding would make a seeded answer depend on the last one.
        self._speculation.drafter.sequence.clear()
        if isinstance(self._speculation.verifier, InProcessVerifier):
            self._speculation.verifier.sequence.clear()
        return speculate(batch[0], self._speculation)

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return decoder_postprocess(raw)

    def close(self) -> None:
        if self._speculation is not None:
            self._speculation.drafter.sequence.close()
            verifier = self._speculation.verifier
            if isinstance(verifier, RemoteVerifier):
                verifier.close()
            elif isinstance(verifier, InProcessVerifier):
                verifier.sequence.close()
        self._draft.close()
        if self._target is not None:
            self._target.close()


def _probe(verifier: RemoteVerifier, token: int) -> None:
    """A zero-draft round at startup: a draft the cloud refuses (vocabulary, unknown model) fails the load
    with the cloud's reason; an unreachable cloud only warns (the link may come up later)."""
    try:
        verifier.verify(VerifyRequest(session=f"probe-{uuid.uuid4().hex}", context=(token,), draft=Draft(())))
    except Unavailable as exc:
        log.warning("speculative: %s; drafts will be verified once it answers", exc.message)
