"""The gateway's dashboard over HTTP (the browser's view is test_dashboard_browser.py): the page and its
feed, the admin controls and what they do to placement, the decision log's record of who changed what,
and access with keys (login page, 401, 403, the HttpOnly cookie, anti-forgery token, Origin). Echo
upstreams stand in for the tiers: what is tested is the gateway."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgecloud.security.keys import KeyStore
from edgecloud.serving.launcher import EchoProcess, GatewayProcess

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}


@pytest.fixture(scope="module")
def tiers() -> Iterator[tuple[str, str]]:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        yield edge.url, cloud.url


def _topology(tmp: Path, tiers: tuple[str, str], extra: str = "") -> str:
    path = tmp / "topology.yaml"
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{tiers[0]}"}}]}}
  cloud: {{upstreams: [{{url: "{tiers[1]}"}}], price: {{input_per_1k: 1.0, output_per_1k: 2.0}}}}
policy_settings: {{cost: {{cloud_budget: 5.0}}}}
decision_log: {tmp / "decisions.jsonl"}
probe_interval_s: 0.2
{extra}""")
    return str(path)


def ask(url: str, **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/v1/chat/completions", json=CHAT, headers=headers)


def change(url: str, token: str | None, body: object, **extra: str) -> httpx.Response:
    headers = {"x-edgecloud-csrf": token, **extra} if token else extra
    return httpx.post(f"{url}/dashboard/control", json=body, headers=headers)


def csrf_of(page: str) -> str:
    found = re.search(r'name="edgecloud-csrf" content="([0-9a-f]{64})"', page)
    assert found, page[:500]
    return found.group(1)


def first_events(url: str, count: int, headers: dict[str, str] | None = None) -> list[dict]:  # type: ignore[type-arg]
    seen = []
    with httpx.stream("GET", f"{url}/dashboard/events", headers=headers, timeout=30) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
                if len(seen) == count:
                    break
    return seen


def test_the_feed_shows_placement_and_the_controls_move_it(tiers: tuple[str, str], tmp_path: Path) -> None:
    with GatewayProcess(config=_topology(tmp_path, tiers)) as gateway:
        gateway.wait_ready(60)
        page = httpx.get(f"{gateway.url}/dashboard")
        assert page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
        for _ in range(6):
            assert ask(gateway.url).status_code == 200
        started = time.monotonic()
        events = first_events(gateway.url, 3)
        assert time.monotonic() - started < 10  # one a second after the first
        snap = events[-1]
        assert snap["tiers"]["edge"]["requests"] == 6 and snap["tiers"]["edge"]["ttft_p50_ms"] > 0
        assert len(snap["decisions"]) == 6 and "prompt" not in snap["decisions"][0]  # log_prompts is off
        assert sum(sum(counts) for counts in snap["placements"]["series"].values()) == 6
        assert snap["spend"]["budget"] == 5.0 and {u["tier"] for u in snap["upstreams"]} == {"edge", "cloud"}

        token = csrf_of(page.text)
        edge_off = {"action": "offline", "tier": "edge"}
        assert change(gateway.url, token, edge_off).status_code == 200
        moved = ask(gateway.url)
        assert moved.headers["x-edgecloud-tier"] == "cloud"
        assert "taken offline" in moved.headers["x-edgecloud-reason"]
        hinted = ask(gateway.url, **{"x-edgecloud-tier": "edge"})  # a hint, not a pin: moved too
        assert (
            hinted.headers["x-edgecloud-tier"] == "cloud"
            and hinted.headers["x-edgecloud-policy"] == "offline"
        )
        assert change(gateway.url, token, {"action": "online", "tier": "edge"}).status_code == 200
        assert "offline" not in ask(gateway.url).headers["x-edgecloud-reason"]  # placed on merit again

        slo = {"action": "threshold", "policy": "latency", "value": 250}
        assert change(gateway.url, token, slo).status_code == 200
        snap = httpx.get(f"{gateway.url}/dashboard/snapshot").json()
        assert snap["thresholds"]["latency"] == 250.0 and snap["tiers"]["edge"]["offline_by"] is None
        assert [c["action"] for c in snap["controls"]] == ["threshold", "online", "offline"]

        for body in (
            {"action": "offline", "tier": "moon"},
            {"action": "threshold", "policy": "latency", "value": "fast"},
            {"action": "threshold", "policy": "router", "value": 7},
            {"action": "explode"},
        ):
            bad = change(gateway.url, token, body)
            assert bad.status_code == 400 and bad.json()["error"]["message"], body
        assert change(gateway.url, None, edge_off).status_code == 403  # no anti-forgery token
        assert change(gateway.url, token, edge_off, origin="https://evil.example").status_code == 403
        for raw, status in (("[" * 4000, 400), ("[" * 100_000, 413), (b"\xff\xfe", 400)):
            sent = httpx.post(
                f"{gateway.url}/dashboard/control", content=raw, headers={"x-edgecloud-csrf": token}
            )
            assert sent.status_code == status and sent.json()["error"]["message"]
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    changes = [line for line in lines if line.get("event") == "control"]
    assert [c["action"] for c in changes] == ["offline", "online", "threshold"]
    assert all(c["who"].startswith("anonymous") for c in changes)
    assert all("ttft_s" in line for line in lines if "event" not in line)


def test_with_keys_the_dashboard_wants_an_admin(tiers: tuple[str, str], tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    _, admin = store.create("ops", admin=True)
    _, user = store.create("app")
    config = _topology(tmp_path, tiers)
    with GatewayProcess(config=config, args=["--keys", str(tmp_path / "keys.json")]) as gateway:
        gateway.wait_ready(60)
        url = gateway.url
        login = httpx.get(f"{url}/dashboard")
        assert login.status_code == 200 and 'action="/dashboard/login"' in login.text
        assert "edgecloud-csrf" not in login.text
        assert httpx.get(f"{url}/dashboard/events").status_code == 401
        assert httpx.get(f"{url}/dashboard/snapshot").status_code == 401
        as_user = {"Authorization": f"Bearer {user}"}
        denied = httpx.get(f"{url}/dashboard/events", headers=as_user)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_admin"
        assert httpx.get(f"{url}/dashboard", headers=as_user).status_code == 403
        assert httpx.post(f"{url}/dashboard/login", data={"key": "nope"}).status_code == 401
        assert httpx.post(f"{url}/dashboard/login", data={"key": user}).status_code == 403

        signed = httpx.post(f"{url}/dashboard/login", data={"key": admin})
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/dashboard" in cookie
        with httpx.Client(base_url=url, cookies=signed.cookies) as browser:
            page = browser.get("/dashboard")
            assert page.status_code == 200 and "key " in page.text and "(ops)" in page.text
            assert browser.get("/dashboard/snapshot").status_code == 200
            token = {"x-edgecloud-csrf": csrf_of(page.text)}
            changed = browser.post(
                "/dashboard/control", json={"action": "offline", "tier": "cloud"}, headers=token
            )
            assert changed.status_code == 200 and changed.json()["who"].endswith("(ops)")
            # the cookie opens the dashboard only, never the API
            assert browser.post("/v1/chat/completions", json=CHAT).status_code == 401
        assert len(first_events(url, 1, {"Authorization": f"Bearer {admin}"})) == 1


def test_edgecloud_top_prints_the_feed(tiers: tuple[str, str], tmp_path: Path) -> None:
    with GatewayProcess(edge=tiers[0], cloud=tiers[1]) as gateway:
        gateway.wait_ready(60)
        for _ in range(3):
            httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT)
        done = subprocess.run(
            [sys.executable, "-m", "edgecloud", "top", "--url", gateway.url, "--updates", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert "edge" in done.stdout and "cloud" in done.stdout and "req/s" in done.stdout
        assert "last decisions" in done.stdout
    gone = subprocess.run(
        [sys.executable, "-m", "edgecloud", "top", "--url", gateway.url, "--updates", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert gone.returncode == 1 and "cannot reach" in gone.stdout + gone.stderr


def exported(metrics_text: str) -> set[str]:
    """Every sample name a /metrics page can carry: counters end in _total, histograms in
    _bucket/_sum/_count (families are declared even before their first sample)."""
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    for family in text_string_to_metric_families(metrics_text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(
            family.type, ("",)
        )
        names |= {family.name + suffix for suffix in suffixes}
    return names


def test_the_grafana_dashboard_queries_only_metrics_the_gateway_exports(tiers: tuple[str, str]) -> None:
    root = Path(__file__).parents[2] / "examples" / "grafana"
    dashboard = json.loads((root / "edgecloud-gateway.json").read_text())
    queries = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for query in queries for name in re.findall(r"\bedgecloud_[a-z_]+", query)}
    assert len(queries) >= 10 and len(used) >= 8
    with GatewayProcess(edge=tiers[0], cloud=tiers[1]) as gateway:
        gateway.wait_ready(60)
        ask(gateway.url)
        names = exported(httpx.get(f"{gateway.url}/metrics").text)
    assert used <= names, used - names
    assert "edgecloud-gateway" in (root / "prometheus.yml").read_text()
