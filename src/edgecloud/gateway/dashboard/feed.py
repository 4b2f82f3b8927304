"""One feed for the dashboard, the terminal view and anything else that watches: built from the decision
records the gateway already makes for every answer (no second metrics system). Recording a record is
O(1) on the request path; the snapshot is computed once a second, and only while somebody watches.

Each watcher gets a small queue; one that stalls (its queue full) is dropped, so a slow or vanished
client never holds memory or the gateway up."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgecloud.gateway.decisions import DecisionRecord
from edgecloud.stats import percentile

WINDOW_S = 60  # latency percentiles and the placement history cover the last minute
RATE_WINDOW_S = 10  # requests/s and tokens/s: the last ten seconds
RECENT = 50  # decisions shown
KEPT = 20_000  # records kept for the window (at most): bounded whatever the request rate
QUEUE = 4  # snapshots a watcher may fall behind before it is dropped


@dataclass(frozen=True)
class Seen:
    """What the feed keeps of one answer."""

    time: float
    tier: str
    policy: str
    status: int
    latency_s: float
    ttft_s: float | None
    completion_tokens: int
    escalated: bool


@dataclass(eq=False)  # each watcher is itself, hashed by identity
class Watcher:
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(QUEUE))
    dropped: bool = False


class DashboardFeed:
    def __init__(self, show_prompts: bool = False, clock: Callable[[], float] = time.time) -> None:
        self.show_prompts = show_prompts
        self.clock = clock
        self._seen: deque[Seen] = deque(maxlen=KEPT)
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self._by_second: dict[int, Counter[str]] = {}
        self.controls: deque[dict[str, Any]] = deque(maxlen=20)
        self.watchers: set[Watcher] = set()
        self.dropped = 0

    def observe(self, record: DecisionRecord) -> None:
        """Called by the gateway's accounting for every answer (streams when they end)."""
        self._seen.append(
            Seen(
                record.time,
                record.tier,
                record.policy,
                record.status,
                record.latency_s,
                record.ttft_s,
                record.completion_tokens,
                record.escalated,
            )
        )
        second = int(record.time)
        self._by_second.setdefault(second, Counter())[record.policy] += 1
        row = {
            "time": record.time,
            "request_id": record.request_id,
            "model": record.model,
            "tier": record.tier,
            "policy": record.policy,
            "reason": record.reason,
            "status": record.status,
            "ttft_ms": None if record.ttft_s is None else round(record.ttft_s * 1000, 1),
            "latency_ms": round(record.latency_s * 1000, 1),
            "tokens": record.prompt_tokens + record.completion_tokens,
            "escalated": record.escalated,
        }
        if self.show_prompts and record.prompt is not None:
            row["prompt"] = record.prompt[:500]
        self._recent.append(row)

    def control(self, event: dict[str, Any]) -> None:
        self.controls.append(event)

    def traffic(self, tiers: list[str]) -> dict[str, Any]:
        """Rates, latency percentiles, placement history and escalation share over the window."""
        now = self.clock()
        while self._seen and self._seen[0].time < now - WINDOW_S:
            self._seen.popleft()
        for second in [s for s in self._by_second if s < now - WINDOW_S]:
            del self._by_second[second]
        per_tier = {name: _tier_figures([s for s in self._seen if s.tier == name], now) for name in tiers}
        seconds = list(range(int(now) - WINDOW_S + 1, int(now) + 1))
        policies = sorted({p for counts in self._by_second.values() for p in counts})
        series = {p: [self._by_second.get(s, Counter())[p] for s in seconds] for p in policies}
        cascaded = [s for s in self._seen if s.policy == "cascade"]
        routed = [s for s in self._seen if s.policy == "router"]
        return {
            "time": now,
            "window_s": WINDOW_S,
            "tiers": per_tier,
            "placements": {"seconds": seconds, "series": series},
            "escalation_share": _share([s.escalated for s in cascaded]),
            "router_cloud_share": _share([s.tier != "edge" for s in routed]),
            "decisions": list(self._recent)[::-1],
            "controls": list(self.controls)[::-1],
        }

    def watch(self) -> Watcher:
        watcher = Watcher()
        self.watchers.add(watcher)
        return watcher

    def leave(self, watcher: Watcher) -> None:
        self.watchers.discard(watcher)

    def publish(self, snapshot: dict[str, Any]) -> None:
        """One snapshot to every watcher; a watcher whose queue is full is dropped (it stalled)."""
        text = json.dumps(snapshot, separators=(",", ":"), ensure_ascii=True)
        for watcher in list(self.watchers):
            try:
                watcher.queue.put_nowait(text)
            except asyncio.QueueFull:
                watcher.dropped = True
                self.watchers.discard(watcher)
                self.dropped += 1


def _tier_figures(seen: list[Seen], now: float) -> dict[str, Any]:
    recent = [s for s in seen if s.time >= now - RATE_WINDOW_S]
    ttfts = [s.ttft_s for s in seen if s.ttft_s is not None and s.status == 200]
    latencies = [s.latency_s for s in seen if s.status == 200]
    return {
        "requests_per_s": round(len(recent) / RATE_WINDOW_S, 3),
        "tokens_per_s": round(sum(s.completion_tokens for s in recent) / RATE_WINDOW_S, 2),
        "errors": sum(1 for s in seen if s.status >= 500),
        "ttft_p50_ms": _ms(percentile(ttfts, 50)) if ttfts else None,
        "ttft_p95_ms": _ms(percentile(ttfts, 95)) if ttfts else None,
        "e2e_p50_ms": _ms(percentile(latencies, 50)) if latencies else None,
        "e2e_p95_ms": _ms(percentile(latencies, 95)) if latencies else None,
        "requests": len(seen),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None
