"""`edgecloud top`: the dashboard's feed in a terminal, for operators on SSH. The same server-sent
events the page reads (GET /dashboard/events), drawn as tables with rich: tiers, upstreams, the
placement mix of the last minute and the latest decisions. Live on a terminal; a table per update
when the output is a pipe or a file (or with --updates)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

RECENT_SHOWN = 10


def top(
    url: Annotated[str, typer.Option(help="the gateway's base URL")] = "http://127.0.0.1:8080",
    key: Annotated[
        str | None, typer.Option(envvar="EDGECLOUD_API_KEY", help="an admin API key (gateway with --keys)")
    ] = None,
    updates: Annotated[int, typer.Option(help="stop after this many updates (0: until Ctrl-C)")] = 0,
) -> None:
    """Watch the gateway place requests, live: rates, latency, upstreams, the latest decisions."""
    console = Console()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        feed = snapshots(url.rstrip("/"), headers)
        if console.is_terminal and not updates:
            with Live(console=console, auto_refresh=False) as live:
                for snap in feed:
                    live.update(view(snap), refresh=True)
        else:
            for count, snap in enumerate(feed, start=1):
                console.print(view(snap))
                if updates and count >= updates:
                    break
    except httpx.HTTPError as exc:
        console.print(f"[red]cannot reach the gateway's feed at {url}:[/] {exc.__class__.__name__}: {exc}")
        raise typer.Exit(1) from None
    except PermissionError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        pass


def snapshots(url: str, headers: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Snapshots from the feed; reconnects (after a second) when the gateway ends the stream."""
    while True:
        with httpx.stream("GET", f"{url}/dashboard/events", headers=headers, timeout=30) as stream:
            if stream.status_code in (401, 403):
                stream.read()
                message = stream.json().get("error", {}).get("message", f"HTTP {stream.status_code}")
                raise PermissionError(f"the gateway refused the feed: {message}")
            stream.raise_for_status()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])
        time.sleep(1.0)


def view(snap: dict[str, Any]) -> Group:
    return Group(_tiers(snap), _upstreams(snap), _placements(snap), _decisions(snap))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _tiers(snap: dict[str, Any]) -> Table:
    stamp = time.strftime("%H:%M:%S", time.localtime(snap["time"]))
    table = Table(title=f"edgecloud gateway at {stamp} ({snap['watchers']} watching)", title_justify="left")
    for column in ("tier", "model", "state", "req/s", "tok/s", "TTFT p50/p95 ms", "e2e p50/p95 ms", "queue"):
        table.add_column(column)
    for name, t in snap["tiers"].items():
        state = (
            f"offline ({t['offline_by']})"
            if t["offline_by"]
            else "up"
            if t["available"]
            else t["reason_down"]
        )
        table.add_row(
            name,
            str(t["model"]),
            state,
            f"{t['requests_per_s']:.2f}",
            f"{t['tokens_per_s']:.1f}",
            f"{_ms(t['ttft_p50_ms'])} / {_ms(t['ttft_p95_ms'])}",
            f"{_ms(t['e2e_p50_ms'])} / {_ms(t['e2e_p95_ms'])}",
            str(t["queue_depth"]),
        )
    return table


def _upstreams(snap: dict[str, Any]) -> Table:
    table = Table("upstream", "tier", "up", "breaker", "queue", "RTT ms", "last error", title="upstreams")
    for u in snap["upstreams"]:
        rtt = "-" if u["rtt_ms"] is None else f"{u['rtt_ms']:.2f}"
        table.add_row(
            u["name"], u["tier"], "yes" if u["up"] else "no", u["breaker"], str(u["queue_depth"]), rtt,
            u["last_error"] or "",
        )  # fmt: skip
    return table


def _placements(snap: dict[str, Any]) -> Table:
    spend = snap["spend"]
    budget = "no budget" if spend["budget"] is None else f"budget {spend['budget']:g}"
    escalated = snap["escalation_share"]
    title = (
        f"placements, last {snap['window_s']} s · {spend['tier']} spend {spend['spent']:.4g} ({budget})"
        + ("" if escalated is None else f" · cascade escalations {escalated:.0%}")
    )
    table = Table("policy", "placements", title=title, title_justify="left")
    for policy, counts in sorted(snap["placements"]["series"].items()):
        table.add_row(policy, str(sum(counts)))
    return table


def _decisions(snap: dict[str, Any]) -> Table:
    table = Table("time", "model", "tier", "policy", "reason", "status", "TTFT ms", title="last decisions")
    for d in snap["decisions"][:RECENT_SHOWN]:
        stamp = time.strftime("%H:%M:%S", time.localtime(d["time"]))
        table.add_row(
            stamp, d["model"], d["tier"], d["policy"], d["reason"], str(d["status"]), _ms(d["ttft_ms"])
        )
    return table
