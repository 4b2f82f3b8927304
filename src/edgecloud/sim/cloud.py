"""The cloud tier: replicas that batch continuously, a shared FIFO queue with a limit (429 past it),
cold starts for replicas an autoscaler adds, and what it all costs.

Each replica decodes its running sequences together; the total rate at concurrency b follows the
measured throughput curve (e.g. from `edgecloud bench batching`), so each sequence advances at
T(b)/b tokens/s. That is processor sharing with a rate that depends on b, simulated exactly with a
virtual clock per replica: every sequence finishes when the replica's virtual tokens reach its work.
Prompt processing counts as work in decode-token equivalents (prompt * T(1) / prefill_tok_s), so one
sequence alone prefills at prefill_tok_s."""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edgecloud.sim.engine import Engine
from edgecloud.sim.scenario import Cloud


def sequence_rates(spec: Cloud) -> list[float]:
    """Tokens/s one sequence gets at each concurrency 0..max_batch (index 0 unused)."""
    points = np.array([c for c, _ in spec.throughput], dtype=float)
    totals = np.array([t for _, t in spec.throughput], dtype=float)
    rates = [0.0]
    for b in range(1, spec.max_batch + 1):
        total = float(np.interp(b, points, totals))  # flat beyond the last measured point
        if b < points[0]:
            total = totals[0] * b / points[0]
        rates.append(total / b)
    return rates


@dataclass
class CloudStats:
    busy_s: list[float] = field(default_factory=list)  # per replica: time with a sequence running
    sequence_s: list[float] = field(default_factory=list)  # per replica: integral of concurrency
    started_at: list[float] = field(default_factory=list)  # per replica: when it was paid for
    rejected: int = 0
    max_queue: int = 0


class CloudTier:
    """Results land in admit/first/done (seconds, cloud side), indexed by the caller's request id."""

    def __init__(self, engine: Engine, spec: Cloud, slots: int) -> None:
        self.engine = engine
        self.spec = spec
        self.rates = sequence_rates(spec)
        self.prefill_factor = self.rates[1] / spec.prefill_tok_s if spec.max_batch else 0.0
        self.admit = [math.nan] * slots
        self.first = [math.nan] * slots
        self.done = [math.nan] * slots
        self.queue: deque[tuple[int, float, float]] = deque()  # (request, work, prefill work)
        self.stats = CloudStats()
        self.on_first: Callable[[int, float], None] | None = None  # (request, first-token time)
        self.on_done: Callable[[int, float], None] | None = None  # (request, last-token time)
        self._virtual: list[float] = []
        self._last: list[float] = []
        self._running: list[int] = []
        self._heaps: list[list[tuple[float, int]]] = []
        self._version: list[int] = []
        self._ready_at: list[float] = []
        for _ in range(spec.replicas):
            self.add_replica(0.0, cold=False)

    @property
    def replicas(self) -> int:
        return len(self._running)

    @property
    def running(self) -> int:
        """Sequences decoding now, over all replicas."""
        return sum(self._running)

    def ready(self, now: float) -> int:
        return sum(1 for at in self._ready_at if at <= now)

    def add_replica(self, now: float, cold: bool = True) -> None:
        ready_at = now + (self.spec.cold_start_s if cold else 0.0)
        self._virtual.append(0.0)
        self._last.append(ready_at)
        self._running.append(0)
        self._heaps.append([])
        self._version.append(0)
        self._ready_at.append(ready_at)
        self.stats.busy_s.append(0.0)
        self.stats.sequence_s.append(0.0)
        self.stats.started_at.append(now)
        if cold:
            self.engine.schedule(ready_at, self._on_ready, len(self._running) - 1)

    def submit(self, now: float, request: int, prompt_tokens: float, answer_tokens: float) -> bool:
        """A request reaches the cloud; False when the queue is full (the node answers 429)."""
        prefill = prompt_tokens * self.prefill_factor
        replica = self._free(now)
        if replica is not None:
            self._start(replica, now, request, answer_tokens + prefill, prefill)
            return True
        if len(self.queue) >= self.spec.queue_limit:
            self.stats.rejected += 1
            return False
        self.queue.append((request, answer_tokens + prefill, prefill))
        if len(self.queue) > self.stats.max_queue:
            self.stats.max_queue = len(self.queue)
        return True

    def _free(self, now: float) -> int | None:
        best, load = None, self.spec.max_batch
        for r, running in enumerate(self._running):
            if running < load and self._ready_at[r] <= now:
                best, load = r, running
        return best

    def _advance(self, r: int, now: float) -> None:
        dt = now - self._last[r]
        running = self._running[r]
        if running and dt > 0:
            self._virtual[r] += dt * self.rates[running]
            self.stats.busy_s[r] += dt
            self.stats.sequence_s[r] += dt * running
        self._last[r] = now

    def _start(self, r: int, now: float, request: int, work: float, prefill: float) -> None:
        self._advance(r, now)
        self._running[r] += 1
        rate = self.rates[self._running[r]]
        heapq.heappush(self._heaps[r], (self._virtual[r] + work, request))
        self._admitted(request, now, now + (prefill + 1.0) / rate)
        self._reschedule(r, now)

    def _reschedule(self, r: int, now: float) -> None:
        self._version[r] += 1
        heap = self._heaps[r]
        if heap:
            wait = (heap[0][0] - self._virtual[r]) / self.rates[self._running[r]]
            self.engine.schedule(now + wait, self._on_done, (r, self._version[r]))

    def _on_done(self, now: float, payload: tuple[int, int]) -> None:
        r, version = payload
        if version != self._version[r]:
            return  # superseded: the batch changed since this completion was predicted
        self._advance(r, now)
        heap = self._heaps[r]
        reached = self._virtual[r] + 1e-9
        while heap and heap[0][0] <= reached:
            _, request = heapq.heappop(heap)
            self.done[request] = now
            self._running[r] -= 1
            if self.on_done is not None:
                self.on_done(request, now)
        self._fill(r, now)
        self._reschedule(r, now)

    def _fill(self, r: int, now: float) -> None:
        while self.queue and self._running[r] < self.spec.max_batch:
            request, work, prefill = self.queue.popleft()
            self._advance(r, now)
            self._running[r] += 1
            heapq.heappush(self._heaps[r], (self._virtual[r] + work, request))
            self._admitted(request, now, now + (prefill + 1.0) / self.rates[self._running[r]])

    def _admitted(self, request: int, now: float, first: float) -> None:
        self.admit[request] = now
        self.first[request] = first
        if self.on_first is not None:
            self.on_first(request, first)

    def _on_ready(self, now: float, r: int) -> None:
        self._last[r] = now
        self._fill(r, now)
        self._reschedule(r, now)

    def autoscale(self, now: float) -> None:
        """One replica more when the queue per ready replica reaches scale_up_queue (none is removed)."""
        ceiling = self.spec.max_replicas
        if ceiling is None or self.replicas >= ceiling:
            return
        if len(self.queue) >= self.spec.scale_up_queue * max(self.ready(now), 1):
            starting = sum(1 for at in self._ready_at if at > now)
            if not starting:
                self.add_replica(now)

    def finish(self, now: float) -> None:
        for r in range(self.replicas):
            self._advance(r, max(now, self._last[r]))

    def replica_hours(self, end: float) -> float:
        return sum(max(end - start, 0.0) for start in self.stats.started_at) / 3600.0
