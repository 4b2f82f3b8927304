"""The dashboard's feed: figures over the window from decision records, prompts only when the gateway
logs them, and a watcher that stops reading is dropped instead of holding snapshots."""

from __future__ import annotations

from edgecloud.gateway.dashboard.feed import QUEUE, DashboardFeed
from edgecloud.gateway.decisions import DecisionRecord


def record(t: float, tier: str, policy: str, ttft: float | None = 0.1, **kw: object) -> DecisionRecord:
    base = dict(time=t, request_id=f"r{t}", model="m", tier=tier, policy=policy, reason="why", status=200)
    return DecisionRecord(**{**base, "latency_s": 0.5, "completion_tokens": 10, "ttft_s": ttft, **kw})  # type: ignore[arg-type]


def test_figures_cover_the_window_per_tier_and_policy() -> None:
    now = 1000.0
    feed = DashboardFeed(clock=lambda: now)
    feed.observe(record(now - 120, "edge", "latency"))  # outside the minute: gone
    for i in range(20):
        feed.observe(record(now - 5 + i * 0.1, "edge", "router", ttft=0.01 * (i + 1)))
    feed.observe(record(now - 30, "cloud", "cascade", escalated=True, status=200))
    feed.observe(record(now - 20, "cloud", "router", status=502, ttft=None))
    figures = feed.traffic(["edge", "cloud"])
    edge, cloud = figures["tiers"]["edge"], figures["tiers"]["cloud"]
    assert edge["requests"] == 20 and edge["requests_per_s"] == 2.0 and edge["tokens_per_s"] == 20.0
    assert edge["ttft_p50_ms"] == 110.0 and edge["ttft_p95_ms"] == 190.0
    assert cloud["requests"] == 2 and cloud["errors"] == 1 and cloud["requests_per_s"] == 0.0
    assert figures["escalation_share"] == 1.0 and figures["router_cloud_share"] == round(1 / 21, 4)
    assert (
        sum(figures["placements"]["series"]["router"]) == 21
        and "latency" not in figures["placements"]["series"]
    )
    assert len(figures["placements"]["seconds"]) == 60
    assert len(figures["decisions"]) == 23 and figures["decisions"][0]["tier"] == "cloud"  # newest first


def test_prompts_show_only_when_the_gateway_logs_them() -> None:
    quiet, loud = DashboardFeed(), DashboardFeed(show_prompts=True)
    for feed in (quiet, loud):
        feed.observe(record(1.0, "edge", "hint", prompt="<script>alert(1)</script>"))
    assert "prompt" not in quiet.traffic(["edge"])["decisions"][0]
    assert (
        loud.traffic(["edge"])["decisions"][0]["prompt"] == "<script>alert(1)</script>"
    )  # escaped by the page


def test_a_watcher_that_stops_reading_is_dropped() -> None:
    feed = DashboardFeed()
    reading, stalled = feed.watch(), feed.watch()
    for n in range(QUEUE + 1):
        feed.publish({"n": n})
        reading.queue.get_nowait()
    assert stalled.dropped and stalled not in feed.watchers and feed.dropped == 1
    assert reading in feed.watchers and not reading.dropped
    feed.leave(reading)
    assert not feed.watchers
