"""The target's side of a round, over a llama.cpp sequence: evaluate the context's uncached tail and the
k drafted tokens in one forward pass, then apply the acceptance rule to the k + 1 rows of logits."""

from __future__ import annotations

import numpy as np

from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.logits import log_softmax_pick
from edgecloud.runtimes.speculative.protocol import Verification, VerifyRequest, dense
from edgecloud.runtimes.speculative.rule import greedy_accept, probabilities, sampled_accept
from edgecloud.runtimes.speculative.sequence import CachedSequence, common_prefix


def verify_on(sequence: CachedSequence, request: VerifyRequest) -> Verification:
    """One round against `sequence`; afterwards its cache holds the context plus the accepted drafts
    (the target's next token is evaluated at the start of the next round)."""
    context, drafts = list(request.context), list(request.draft.tokens)
    if not context:
        raise InvalidRequest("a verify round needs at least one context token", param="tokens")
    if len(context) + len(drafts) > sequence.context_length:
        raise InvalidRequest(
            f"{len(context) + len(drafts)} tokens exceed the target's context of {sequence.context_length}",
            param="tokens",
        )
    _check_ids(context + drafts, sequence.n_vocab, "tokens")
    cached_before = common_prefix(sequence.tokens, context)
    rows = sequence.forward(context + drafts, len(drafts) + 1)
    if request.temperature <= 0.0:
        verdict = greedy_accept(rows, drafts)
    else:
        if request.draft.q is None or len(request.draft.q) != len(drafts):
            raise InvalidRequest("sampled drafts need one q row per drafted token", param="q")
        p_rows = probabilities(rows, request.temperature, request.top_p)
        for ids, _ in request.draft.q:
            _check_ids(list(ids), sequence.n_vocab, "q")
        q_rows = dense(request.draft.q, rows.shape[1])
        try:
            verdict = sampled_accept(p_rows, q_rows, drafts, np.random.default_rng(request.seed))
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="q") from None
    emitted = (*drafts[: verdict.accepted], verdict.next_token)
    sequence.truncate(len(context) + verdict.accepted)
    picks = tuple(
        log_softmax_pick(rows[i], token, request.top_logprobs) if request.logprobs else (0.0, ())
        for i, token in enumerate(emitted)
    )
    return Verification(
        accepted=verdict.accepted,
        tokens=emitted,
        logprobs=picks if request.logprobs else (),
        prefilled=len(context) - cached_before,
    )


def _check_ids(ids: list[int], n_vocab: int, param: str) -> None:
    bad = [token for token in ids if not 0 <= token < n_vocab]
    if bad:
        raise InvalidRequest(f"token id {bad[0]} is outside the vocabulary (0..{n_vocab - 1})", param=param)


class InProcessVerifier:
    """The target in this process (one node serving draft and target): one sequence, cached by prefix."""

    def __init__(self, sequence: CachedSequence) -> None:
        self.sequence = sequence

    def verify(self, request: VerifyRequest) -> Verification:
        return verify_on(self.sequence, request)
