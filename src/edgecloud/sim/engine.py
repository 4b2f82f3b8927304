"""The discrete-event engine: a simulated clock, a heap of timed events, and a stream of pre-drawn
arrivals merged in time order. Arrivals never enter the heap (a million of them would cost a push and
a pop each); only the events the models schedule do (a cloud replica's next completion, a probe tick).
Ties break by scheduling order, so a seeded run is reproducible event for event."""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

Handler = Callable[[float, Any], None]
Progress = Callable[[int], None]  # arrivals handled so far


class Engine:
    def __init__(self) -> None:
        self.now = 0.0
        self.events = 0  # handled: arrivals plus scheduled events
        self._heap: list[tuple[float, int, Handler, Any]] = []
        self._seq = itertools.count()

    def schedule(self, at: float, handler: Handler, payload: Any = None) -> None:
        """Call handler(at, payload) when the clock reaches `at` (never earlier than now)."""
        heapq.heappush(self._heap, (at if at > self.now else self.now, next(self._seq), handler, payload))

    def run(
        self,
        arrivals: Sequence[float],
        on_arrival: Callable[[float, int], None],
        *,
        until: float = math.inf,
        progress: Progress | None = None,
        every: int = 50_000,
    ) -> None:
        """Handle arrivals (sorted times; on_arrival(time, index)) and scheduled events in time order,
        an event before an arrival at the same instant; then drain the heap up to `until`."""
        heap = self._heap
        pop = heapq.heappop
        handled = 0
        for index, at in enumerate(arrivals):
            while heap and heap[0][0] <= at:
                when, _, handler, payload = pop(heap)
                self.now = when
                handler(when, payload)
                handled += 1
            self.now = at
            on_arrival(at, index)
            if progress is not None and index % every == 0:
                progress(index)
        while heap and heap[0][0] <= until:
            when, _, handler, payload = pop(heap)
            self.now = when
            handler(when, payload)
            handled += 1
        self.events += handled + len(arrivals)
        if progress is not None:
            progress(len(arrivals))
