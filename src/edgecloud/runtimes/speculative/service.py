"""A llama.cpp model answering verify rounds for remote drafters, between its ordinary generations:
the sessions' caches live in snapshots whenever the context is used for something else."""

from __future__ import annotations

from typing import Any

from edgecloud.runtimes.speculative.protocol import Verification, VerifyRequest
from edgecloud.runtimes.speculative.sequence import CachedSequence
from edgecloud.runtimes.speculative.sessions import SessionStore
from edgecloud.runtimes.speculative.verifier import verify_on
from edgecloud.runtimes.speculative.vocab import Vocabulary, check_same, vocabulary_of


class VerifyService:
    def __init__(self, llm: Any, model: str, *, max_sessions: int = 16, ttl: float = 120.0) -> None:
        self._sequence = CachedSequence(llm)
        self.sessions = SessionStore(self._sequence, max_sessions=max_sessions, ttl=ttl)
        self.vocabulary = vocabulary_of(llm, model)

    def verify(self, request: VerifyRequest, draft_vocabulary: Vocabulary | None) -> Verification:
        if draft_vocabulary is not None:
            check_same(self.vocabulary, draft_vocabulary)
        self.sessions.activate(request.session)
        return verify_on(self._sequence, request)

    def yield_context(self) -> None:
        """Called before a plain generation resets the context: the resident session is saved."""
        self.sessions.release()

    def close(self) -> None:
        self._sequence.close()
