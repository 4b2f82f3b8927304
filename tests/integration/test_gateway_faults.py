"""Resilience through the real gateway process: faulty upstreams, breakers, lost requests."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from edgecloud.serving.launcher import EchoProcess, GatewayProcess
from tests.hostile import bodies

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "one two three"}], "stream": False}


def _topology(tmp_path: Path, edge: str, cloud: str, extra: str = "") -> str:
    path = tmp_path / "topology.yaml"
    path.write_text(f"""\
tiers:
  edge:
    upstreams: [{{url: "{edge}"}}]
  cloud:
    upstreams: [{{url: "{cloud}"}}]
    price: {{input_per_1k: 0.1, output_per_1k: 0.2}}
policies: [privacy, hint, task, offline]
probe_interval_s: 0.5
decision_log: {tmp_path / "decisions.jsonl"}
{extra}""")
    return str(path)


def test_2000_requests_against_a_faulty_upstream_lose_nothing(tmp_path: Path) -> None:
    """10% of answers 500/503 and 5% of connections reset on the cloud; every request is placed on the
    cloud (hint) so retries and failover to the edge have to carry it."""
    with EchoProcess() as edge, EchoProcess(error_rate=0.10, reset_rate=0.05, seed=7) as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_topology(tmp_path, edge.url, cloud.url)) as gateway:
            gateway.wait_ready(30)
            outcomes = asyncio.run(_hammer(gateway.url, total=2000, concurrency=64))
    statuses = Counter(status for status, _ in outcomes)
    print(f"statuses: {dict(statuses)}")
    assert len(outcomes) == 2000  # nothing lost, nothing hanging (each request had a 30 s cap)
    assert all(status != -1 for status, _ in outcomes), "a request got no well-formed answer"
    assert statuses[200] >= 0.995 * 2000
    assert len({rid for _, rid in outcomes if rid}) == statuses[200]  # each answer its own request id
    lines = (tmp_path / "decisions.jsonl").read_text().splitlines()
    assert len(lines) == statuses[200]  # one decision record per answer


async def _hammer(url: str, total: int, concurrency: int) -> list[tuple[int, str]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results: list[tuple[int, str]] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            queue.get_nowait()
            try:
                r = await client.post(
                    f"{url}/v1/chat/completions", json=CHAT, headers={"x-edgecloud-tier": "cloud"}
                )
                body = r.json()
                well_formed = ("choices" in body) if r.status_code == 200 else ("error" in body)
                results.append((r.status_code if well_formed else -1, r.headers.get("x-request-id", "")))
            except (httpx.HTTPError, ValueError):
                results.append((-1, ""))

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return results


def _served(echo: EchoProcess) -> int:
    return int(httpx.get(f"{echo.url}/stats").json()["requests"])


def test_breaker_stops_traffic_after_five_failures_until_the_cooldown(tmp_path: Path) -> None:
    extra = "breaker: {failures: 5, cooldown_s: 3}\nretries: {attempts: 1, failover: true}\n"
    with EchoProcess() as edge, EchoProcess(error_rate=1.0) as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_topology(tmp_path, edge.url, cloud.url, extra)) as gateway:
            gateway.wait_ready(30)
            client = httpx.Client(base_url=gateway.url, timeout=30, headers={"x-edgecloud-tier": "cloud"})
            for _ in range(5):  # each fails on the cloud once, then fails over to the edge
                r = client.post("/v1/chat/completions", json=CHAT)
                assert r.status_code == 200 and r.headers["x-edgecloud-tier"] == "edge"
            assert _served(cloud) == 5
            health = httpx.get(f"{gateway.url}/health").json()
            assert health["upstreams"]["cloud-0"]["breaker"] == "open"
            opened_at = time.monotonic()
            for _ in range(10):  # the breaker is open: the cloud gets nothing at all
                r = client.post("/v1/chat/completions", json=CHAT)
                assert r.status_code == 200 and r.headers["x-edgecloud-policy"] == "offline"
                assert "breaker open" in r.headers["x-edgecloud-reason"]
            assert _served(cloud) == 5
            httpx.post(f"{cloud.url}/control", json={"error_rate": 0.0})
            time.sleep(max(0.0, 3.2 - (time.monotonic() - opened_at)))
            r = client.post("/v1/chat/completions", json=CHAT)  # the one probe after the cooldown
            assert r.headers["x-edgecloud-tier"] == "cloud"
            assert _served(cloud) == 6
            r = client.post("/v1/chat/completions", json=CHAT)
            assert r.headers["x-edgecloud-tier"] == "cloud"
            assert httpx.get(f"{gateway.url}/health").json()["upstreams"]["cloud-0"]["breaker"] == "closed"


@contextmanager
def _echo_tiers(tmp_path: Path) -> Iterator[tuple[EchoProcess, EchoProcess, GatewayProcess]]:
    """Two instant echo upstreams (edge, cloud) and a gateway in front of them, all ready."""
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_topology(tmp_path, edge.url, cloud.url)) as gateway:
            gateway.wait_ready(30)
            yield edge, cloud, gateway


def test_hostile_json_is_400_at_the_gateway_and_never_reaches_a_tier(tmp_path: Path) -> None:
    with _echo_tiers(tmp_path) as (_, _, gateway):
        for name, raw in bodies("auto").items():
            r = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                content=raw,
                headers={"content-type": "application/json"},
                timeout=30,
            )
            assert r.status_code == 400, (name, r.text)
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}
        log = tmp_path / "decisions.jsonl"
        assert not log.exists() or not log.read_text()
        assert httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=30).status_code == 200


def test_both_tiers_down_is_503_with_retry_after(tmp_path: Path) -> None:
    with _echo_tiers(tmp_path) as (edge, cloud, gateway):
        edge.terminate()
        cloud.terminate()
        r = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=30)
        assert r.status_code == 503
        assert int(r.headers["Retry-After"]) >= 1
        assert r.json()["error"]["type"] == "service_unavailable"


@pytest.mark.slow
def test_the_edge_can_be_a_node_inside_the_gateway_process(tmp_path: Path) -> None:
    with EchoProcess() as cloud:  # the only other process: the edge node runs inside the gateway's
        cloud.wait_ready(30)
        with GatewayProcess(cloud=cloud.url, args=["--edge-model", "smollm2-135m-instruct"]) as gateway:
            gateway.wait_ready(120)
            deadline = time.monotonic() + 120
            while not httpx.get(f"{gateway.url}/health").json()["tiers"]["edge"]["available"]:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            r = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                timeout=60,
                json={
                    "model": "auto",
                    "messages": [{"role": "user", "content": "What is the capital of France?"}],
                    "max_tokens": 12,
                    "temperature": 0,
                    "metadata": {"task": "dialogue"},
                },
            )
            assert r.status_code == 200
            assert r.headers["x-edgecloud-tier"] == "edge"
            assert "Paris" in r.json()["choices"][0]["message"]["content"]


def test_several_upstreams_share_a_tier_and_carry_their_api_keys(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as first, EchoProcess() as second:
        for process in (edge, first, second):
            process.wait_ready(30)
        config = tmp_path / "t.yaml"
        config.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge.url}"}}]}}
  cloud:
    upstreams:
      - {{url: "{first.url}", api_key_env: CLOUD_KEY_A}}
      - {{url: "{second.url}", api_key_env: CLOUD_KEY_B}}
policies: [hint]
probe_interval_s: 0.3
""")
        env = {"CLOUD_KEY_A": "sk-a", "CLOUD_KEY_B": "sk-b"}
        with GatewayProcess(config=str(config), env=env) as gateway:
            gateway.wait_ready(30)
            for _ in range(10):
                r = httpx.post(
                    f"{gateway.url}/v1/chat/completions", json=CHAT, headers={"x-edgecloud-tier": "cloud"}
                )
                assert r.status_code == 200
            assert _served(first) == 5 and _served(second) == 5  # round robin
            assert httpx.get(f"{first.url}/stats").json()["last_authorization"] == "Bearer sk-a"
            assert httpx.get(f"{second.url}/stats").json()["last_authorization"] == "Bearer sk-b"
            second.terminate()
            for _ in range(6):
                r = httpx.post(
                    f"{gateway.url}/v1/chat/completions", json=CHAT, headers={"x-edgecloud-tier": "cloud"}
                )
                assert r.status_code == 200 and r.headers["x-edgecloud-tier"] == "cloud"
            assert _served(first) == 11


def test_private_requests_never_fail_over_to_the_cloud(tmp_path: Path) -> None:
    with EchoProcess(error_rate=1.0) as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_topology(tmp_path, edge.url, cloud.url)) as gateway:
            gateway.wait_ready(30)
            private = {**CHAT, "messages": [{"role": "user", "content": "my card is 4111 1111 1111 1111"}]}
            r = httpx.post(f"{gateway.url}/v1/chat/completions", json=private, timeout=30)
            assert r.status_code == 503
            assert _served(cloud) == 0
            r = httpx.post(f"{gateway.url}/v1/chat/completions", json=CHAT, timeout=30)
            assert r.status_code == 200 and r.headers["x-edgecloud-tier"] == "cloud"  # others may fail over


def test_a_slow_upstream_times_out_and_the_request_fails_over(tmp_path: Path) -> None:
    extra = "retries: {attempts: 1}\n"
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        config = _topology(tmp_path, edge.url, cloud.url, extra)
        text = (
            Path(config)
            .read_text()
            .replace(
                "price: {input_per_1k: 0.1, output_per_1k: 0.2}",
                "price: {input_per_1k: 0.1, output_per_1k: 0.2}\n"
                "    timeouts: {connect: 1, first_token: 0.5, total: 5}",
            )
        )
        Path(config).write_text(text)
        with GatewayProcess(config=config) as gateway:
            gateway.wait_ready(30)
            httpx.post(f"{cloud.url}/control", json={"delay_s": 3.0})
            started = time.monotonic()
            r = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                json=CHAT,
                timeout=30,
                headers={"x-edgecloud-tier": "cloud"},
            )
            elapsed = time.monotonic() - started
    assert r.status_code == 200 and r.headers["x-edgecloud-tier"] == "edge"
    assert "failover from cloud" in r.headers["x-edgecloud-reason"]
    assert elapsed < 2.5  # the 0.5 s first-token timeout cut the 3 s wait short


def test_an_upstream_that_was_full_takes_traffic_again_once_it_answers(tmp_path: Path) -> None:
    import asyncio as aio

    from edgecloud.gateway.placement import Decision
    from edgecloud.gateway.service import Gateway
    from edgecloud.gateway.topology import load_topology

    with EchoProcess() as edge:
        edge.wait_ready(30)

        async def scenario() -> tuple[bool, bool]:
            gateway = Gateway(load_topology(edge=edge.url, env={}))
            await gateway.start()
            upstream = gateway.tiers["edge"].upstreams[0]
            upstream.overloaded = True  # as after a 429
            gateway.invalidate()
            before = gateway.states().get("edge").overloaded
            assert gateway.proxy is not None
            opened = await gateway.proxy.open(
                Decision("edge", "test", "t"),
                "/v1/chat/completions",
                lambda tier: b'{"model": "echo-1", "messages": []}',
            )
            opened.response.release()
            gateway.invalidate()
            after = gateway.states().get("edge").overloaded
            await gateway.stop()
            return before, after

        before, after = aio.run(scenario())
    assert before and not after


def test_a_speculative_tier_fails_over_to_the_cloud_first(tmp_path: Path) -> None:
    """The speculative policy's decision names the cloud as fallback: when the speculative tier fails,
    the cloud (not the edge, first in the topology) answers, and the reason says so."""
    with EchoProcess() as edge, EchoProcess() as cloud, EchoProcess(error_rate=1.0) as speculative:
        for echo in (edge, cloud, speculative):
            echo.wait_ready(30)
        path = tmp_path / "topology.yaml"
        path.write_text(f"""\
tiers:
  edge:
    upstreams: [{{url: "{edge.url}"}}]
  cloud:
    upstreams: [{{url: "{cloud.url}"}}]
  speculative:
    upstreams: [{{url: "{speculative.url}"}}]
policies: [speculative, hint]
policy_settings:
  speculative: {{min_tokens: 100}}
""")
        with GatewayProcess(config=str(path)) as gateway:
            gateway.wait_ready(30)
            body = {**CHAT, "max_tokens": 300}
            r = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30)
            assert r.status_code == 200
            assert r.headers["x-edgecloud-policy"] == "speculative"
            assert r.headers["x-edgecloud-tier"] == "cloud"
            assert "failover from speculative" in r.headers["x-edgecloud-reason"]
            short_body = {**CHAT, "max_tokens": 10}
            short = httpx.post(f"{gateway.url}/v1/chat/completions", json=short_body, timeout=30)
            assert short.headers["x-edgecloud-policy"] != "speculative"
