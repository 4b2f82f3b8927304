"""The speculative decoding loop: draft k tokens, verify them, emit what the target kept, repeat.

The same loop serves both placements: inside one node the verifier is the target model in this process;
across the link it is the cloud node's verify route. When the verifier cannot be reached, `fallback`
says what happens: "edge" goes on with the draft model alone (the response's stats say so), "none"
raises, so the caller (the gateway) can fail over to the cloud."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from edgecloud.errors import Unavailable
from edgecloud.runtimes.base import Prepared, StepOutput
from edgecloud.runtimes.logits import log_softmax_pick
from edgecloud.runtimes.speculative.adapt import DraftLength
from edgecloud.runtimes.speculative.drafter import LocalDrafter
from edgecloud.runtimes.speculative.protocol import Verification, Verifier, VerifyRequest

Fallback = Literal["edge", "none"]


@dataclass
class RoundStats:
    rounds: int = 0  # verifications: the target's forward passes
    drafted: int = 0
    accepted: int = 0
    generated: int = 0
    prefilled: int = 0
    draft_seconds: float = 0.0
    verify_seconds: float = 0.0
    fallback: str | None = None
    k: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "drafted": self.drafted,
            "accepted": self.accepted,
            "generated": self.generated,
            "acceptance_rate": round(self.accepted / self.drafted, 4) if self.drafted else None,
            "mean_accepted": round(self.accepted / self.rounds, 3) if self.rounds else None,
            "target_passes_per_token": round(self.rounds / self.generated, 4) if self.generated else None,
            "prefilled": self.prefilled,
            "draft_seconds": round(self.draft_seconds, 4),
            "verify_seconds": round(self.verify_seconds, 4),
            "fallback": self.fallback,
            "k_last": self.k[-1] if self.k else None,
        }


@dataclass
class Speculation:
    drafter: LocalDrafter
    verifier: Verifier
    lengths: DraftLength
    is_end: Callable[[int], bool]
    fallback: Fallback = "none"


def speculate(prepared: Prepared, spec: Speculation) -> Iterator[StepOutput]:
    sampling = prepared.request.sampling
    rng = np.random.default_rng(sampling.seed)
    session = f"{prepared.request.request_id}-{uuid.uuid4().hex[:8]}"
    context = list(prepared.tokens)
    stats = RoundStats()
    while True:
        room = prepared.max_tokens - stats.generated
        # Round one drafts nothing: the first token comes from the target's prefill as soon as it would
        # alone (time to first token unchanged); the draft's own prefill waits for round two.
        k = min(spec.lengths.next(), room - 1) if stats.rounds else 0
        started = time.perf_counter()
        draft = spec.drafter.propose(
            context, k, temperature=sampling.temperature, top_p=sampling.top_p, rng=rng
        )
        drafted_at = time.perf_counter()
        request = VerifyRequest(
            session=session,
            context=tuple(context),
            draft=draft,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            seed=int(rng.integers(2**31)),
            logprobs=sampling.logprobs,
            top_logprobs=sampling.top_logprobs,
        )
        try:
            verified = spec.verifier.verify(request)
        except Unavailable:
            if spec.fallback != "edge":
                raise
            stats.fallback = "edge"
            yield from _draft_alone(prepared, spec, context, stats, rng)
            return
        _record(
            stats,
            spec.lengths,
            len(draft.tokens),
            verified,
            drafted_at - started,
            time.perf_counter() - drafted_at,
        )
        for i, token in enumerate(verified.tokens):
            finished = yield from _emit(prepared, spec, stats, token, _pick(verified, i))
            if finished:
                return
        context.extend(verified.tokens)


def _record(
    stats: RoundStats,
    lengths: DraftLength,
    drafted: int,
    verified: Verification,
    draft_s: float,
    verify_s: float,
) -> None:
    stats.rounds += 1
    stats.drafted += drafted
    stats.accepted += verified.accepted
    stats.prefilled += verified.prefilled
    stats.draft_seconds += draft_s
    stats.verify_seconds += verify_s
    stats.k.append(drafted)
    if stats.rounds > 1:  # round one's verification is the prompt's prefill: not a round's cost
        lengths.observe(
            drafted=drafted, accepted=verified.accepted, draft_seconds=draft_s, verify_seconds=verify_s
        )


def _pick(verified: Verification, i: int) -> tuple[float | None, tuple[tuple[int, float], ...]]:
    if not verified.logprobs:
        return None, ()
    return verified.logprobs[i]


def _emit(
    prepared: Prepared,
    spec: Speculation,
    stats: RoundStats,
    token: int,
    pick: tuple[float | None, tuple[tuple[int, float], ...]],
) -> Generator[StepOutput, None, bool]:
    """One token out; returns True when the sequence has ended (end of generation or the budget)."""
    if spec.is_end(token):
        yield StepOutput(prepared, finish_reason="stop", stats=stats.as_dict())
        return True
    stats.generated += 1
    last = stats.generated >= prepared.max_tokens
    yield StepOutput(
        prepared,
        token_id=token,
        logprob=pick[0],
        top_logprobs=pick[1],
        finish_reason="length" if last else None,
        stats=stats.as_dict(),
    )
    return last


def _draft_alone(
    prepared: Prepared, spec: Speculation, context: list[int], stats: RoundStats, rng: np.random.Generator
) -> Iterator[StepOutput]:
    sampling = prepared.request.sampling
    while True:
        token, row = spec.drafter.next_token(
            context, temperature=sampling.temperature, top_p=sampling.top_p, rng=rng
        )
        pick: tuple[float | None, tuple[tuple[int, float], ...]] = (None, ())
        if sampling.logprobs:
            pick = log_softmax_pick(row, token, sampling.top_logprobs)
        if (yield from _emit(prepared, spec, stats, token, pick)):
            return
        context.append(token)
