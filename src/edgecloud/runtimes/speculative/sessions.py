"""The verifier's sessions: one llama.cpp context, many sequences being verified across the link.

Why snapshots: each session's KV cache is copied out (llama_state_seq_get_data) when another session or
a plain generation needs the context, and copied back when that session's next round arrives, so a
round evaluates only its new tokens. The store is bounded (LRU) and snapshots expire (TTL). A session that
was evicted, expired or never seen is re-prefilled from the full context every round carries, so it is
never answered from a wrong cache."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from edgecloud.runtimes.speculative.sequence import CachedSequence, Snapshot


@dataclass
class SessionCounters:
    resumed: int = 0  # rounds whose session was resident or restored from its snapshot
    reprefilled: int = 0  # rounds whose session had no cache left (new, evicted or expired)
    evicted: int = 0
    expired: int = 0


class SessionStore:
    def __init__(
        self,
        sequence: CachedSequence,
        *,
        max_sessions: int = 16,
        ttl: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sequence = sequence
        self._max = max_sessions
        self._ttl = ttl
        self._clock = clock
        self._resident: str | None = None
        self._saved: OrderedDict[str, tuple[float, Snapshot]] = OrderedDict()
        self.counters = SessionCounters()

    @property
    def sessions(self) -> int:
        return len(self._saved) + (self._resident is not None)

    def activate(self, session: str) -> bool:
        """Makes `session`'s cache the context's; True when it had one to resume."""
        self._expire()
        if session == self._resident:
            self.counters.resumed += 1
            return True
        saved = self._saved.pop(session, None)  # before release(): its eviction must not pick this one
        self.release()
        self._resident = session
        if saved is not None and self._sequence.restore(saved[1]):
            self.counters.resumed += 1
            return True
        self._sequence.clear()
        self.counters.reprefilled += 1
        return False

    def release(self) -> None:
        """Copies the resident session out before the context is used for something else."""
        if self._resident is None:
            return
        self._saved[self._resident] = (self._clock(), self._sequence.snapshot())
        self._resident = None
        while len(self._saved) > self._max:
            self._saved.popitem(last=False)
            self.counters.evicted += 1

    def forget(self, session: str) -> None:
        self._saved.pop(session, None)
        if self._resident == session:
            self._resident = None
            self._sequence.clear()

    def _expire(self) -> None:
        deadline = self._clock() - self._ttl
        for name in [name for name, (stamp, _) in self._saved.items() if stamp < deadline]:
            del self._saved[name]
            self.counters.expired += 1
