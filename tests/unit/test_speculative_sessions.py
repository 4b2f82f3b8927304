"""The verifier's sessions: resumed from their snapshot, evicted beyond the bound (least recently used
first), expired after the TTL; a session without a cache is re-prefilled, never answered from another's."""

from __future__ import annotations

from typing import Any

from edgecloud.runtimes.speculative.sequence import Snapshot
from edgecloud.runtimes.speculative.sessions import SessionStore


class FakeSequence:
    """Stands in for a llama.cpp context: its 'cache' is the token list."""

    def __init__(self) -> None:
        self.tokens: list[int] = []

    def snapshot(self) -> Snapshot:
        return Snapshot(tuple(self.tokens), b"kv" if self.tokens else b"")

    def restore(self, snapshot: Snapshot) -> bool:
        self.tokens = list(snapshot.tokens)
        return bool(snapshot.state)

    def clear(self) -> None:
        self.tokens = []


def _store(**kwargs: Any) -> tuple[SessionStore, FakeSequence, list[float]]:
    now = [0.0]
    sequence = FakeSequence()
    store = SessionStore(sequence, clock=lambda: now[0], **kwargs)  # type: ignore[arg-type]
    return store, sequence, now


def test_sessions_resume_their_own_cache() -> None:
    store, sequence, _ = _store(max_sessions=4)
    assert store.activate("a") is False  # new: re-prefilled
    sequence.tokens = [1, 2, 3]
    assert store.activate("b") is False
    assert sequence.tokens == []  # b never sees a's cache
    sequence.tokens = [7, 8]
    assert store.activate("a") is True
    assert sequence.tokens == [1, 2, 3]
    assert store.activate("a") is True  # resident: nothing copied
    assert store.counters.resumed == 2 and store.counters.reprefilled == 2


def test_the_least_recently_used_session_is_evicted() -> None:
    store, sequence, _ = _store(max_sessions=1)
    for name in ("a", "b", "c"):
        store.activate(name)
        sequence.tokens = [ord(name)]
    assert store.counters.evicted == 1  # a went when c arrived (b is saved, c resident)
    assert store.activate("b") is True and sequence.tokens == [ord("b")]
    assert store.activate("a") is False and sequence.tokens == []


def test_idle_sessions_expire() -> None:
    store, sequence, now = _store(ttl=10.0)
    store.activate("a")
    sequence.tokens = [1]
    store.activate("b")  # a is saved at t=0
    now[0] = 11.0
    assert store.activate("a") is False and store.counters.expired == 1
