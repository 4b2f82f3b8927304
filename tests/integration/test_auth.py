"""API keys on every route of the node and the gateway: 401 without a valid key, 403 outside its
scope, 429 past its rate; /health stays open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgecloud.security.keys import KeyStore
from edgecloud.serving.launcher import EchoProcess, GatewayProcess, NodeProcess
from tests.conftest import EMBED

ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("GET", "/metrics"),
]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("keys") / "keys.json"
    store = KeyStore(path)
    made = {
        "full": store.create("full")[1],
        "other-model": store.create("scoped", models=("some-other-model",))[1],
        "edge-only": store.create("edge", tiers=("edge",))[1],
        "slow": store.create("slow", rpm=2)[1],
    }
    return path, made


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _call(url: str, method: str, path: str, headers: dict[str, str], model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "prompt": "hi", "input": "hi"}
    return httpx.request(
        method, url + path, json=body if method == "POST" else None, headers=headers, timeout=30
    )


def _every_route_needs_a_key(url: str, model: str) -> None:
    assert httpx.get(f"{url}/health").status_code in (200, 503)
    for method, path in ROUTES:
        missing = _call(url, method, path, {}, model)
        assert missing.status_code == 401, path
        assert missing.json()["error"]["type"] == "authentication_error"
        assert _call(url, method, path, _bearer("ec_0000_wrong"), model).status_code == 401, path


@pytest.mark.slow
def test_node_routes(keys: tuple[Path, dict[str, str]]) -> None:
    path, made = keys
    with NodeProcess([EMBED], args=["--keys", str(path)]) as node:
        node.wait_ready(120)
        _every_route_needs_a_key(node.url, EMBED)
        ok = httpx.post(
            f"{node.url}/v1/embeddings", json={"model": EMBED, "input": "x"}, headers=_bearer(made["full"])
        )
        assert ok.status_code == 200
        assert httpx.get(f"{node.url}/metrics", headers=_bearer(made["full"])).status_code == 200
        denied = httpx.post(
            f"{node.url}/v1/embeddings",
            json={"model": EMBED, "input": "x"},
            headers=_bearer(made["other-model"]),
        )
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "model_not_allowed"
        listed = httpx.get(f"{node.url}/v1/models", headers=_bearer(made["other-model"])).json()["data"]
        assert listed == []  # a key sees only what it may use
        _rate_limited(node.url, made["slow"])


def _rate_limited(url: str, key: str) -> None:
    statuses = [httpx.get(f"{url}/v1/models", headers=_bearer(key)).status_code for _ in range(3)]
    assert statuses[:2] == [200, 200]
    assert statuses[2] == 429
    limited = httpx.get(f"{url}/v1/models", headers=_bearer(key))
    assert int(limited.headers["Retry-After"]) >= 1


@pytest.fixture(scope="module")
def gateway(
    keys: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    path, _ = keys
    log = tmp_path_factory.mktemp("log") / "decisions.jsonl"
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        args = ["--keys", str(path), "--decision-log", str(log)]
        with GatewayProcess(edge=edge.url, cloud=cloud.url, args=args) as process:
            process.wait_ready(30)
            process.log_path = log  # type: ignore[attr-defined]
            yield process


def test_gateway_routes(gateway: GatewayProcess, keys: tuple[Path, dict[str, str]]) -> None:
    _, made = keys
    _every_route_needs_a_key(gateway.url, "auto")
    r = _call(gateway.url, "POST", "/v1/chat/completions", _bearer(made["full"]), "auto")
    assert r.status_code == 200
    assert (
        _call(gateway.url, "POST", "/v1/chat/completions", _bearer(made["other-model"]), "echo-1").status_code
        == 403
    )
    _rate_limited(gateway.url, made["slow"])


def test_gateway_keeps_a_tier_scoped_key_on_its_tiers(
    gateway: GatewayProcess, keys: tuple[Path, dict[str, str]]
) -> None:
    _, made = keys
    edge_only = _bearer(made["edge-only"])
    asked = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={**edge_only, "x-edgecloud-tier": "cloud"},
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert asked.status_code == 403 and asked.json()["error"]["code"] == "tier_not_allowed"
    mining = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=edge_only,
        json={
            "model": "auto",
            "messages": [{"role": "user", "content": "mine"}],
            "metadata": {"task": "mining"},
        },
    )
    assert mining.status_code == 200
    assert (mining.headers["x-edgecloud-tier"], mining.headers["x-edgecloud-policy"]) == ("edge", "scope")


def test_logs_name_key_ids_never_keys(gateway: GatewayProcess, keys: tuple[Path, dict[str, str]]) -> None:
    _, made = keys
    httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers=_bearer(made["full"]),
        json={"model": "auto", "messages": [{"role": "user", "content": "log me"}]},
    )
    text = gateway.log_path.read_text()  # type: ignore[attr-defined]
    records = [json.loads(line) for line in text.splitlines()]
    assert any(r["key_id"] == made["full"].split("_")[1] for r in records)
    assert all(secret not in text for secret in made.values())
    assert all(secret not in gateway.log_tail(100_000) for secret in made.values())


def test_each_tenant_gets_its_own_privacy_mode(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "tenants.json")
    redacting = _bearer(store.create("analytics", privacy="redact")[1])
    strict = _bearer(store.create("clinic", privacy="block")[1])
    default = _bearer(store.create("app")[1])
    private = {"model": "auto", "messages": [{"role": "user", "content": "mail jane.doe@example.com today"}]}
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(
            edge=edge.url, cloud=cloud.url, args=["--keys", str(tmp_path / "tenants.json")]
        ) as gw:
            gw.wait_ready(30)
            to_cloud = {"x-edgecloud-tier": "cloud"}
            r = httpx.post(f"{gw.url}/v1/chat/completions", json=private, headers={**redacting, **to_cloud})
            assert r.headers["x-edgecloud-tier"] == "cloud"  # redacted, so it may leave the edge
            assert "jane.doe@example.com" in r.json()["choices"][0]["message"]["content"]  # restored
            r = httpx.post(f"{gw.url}/v1/chat/completions", json=private, headers={**default, **to_cloud})
            assert r.headers["x-edgecloud-tier"] == "edge"  # the gateway's keep-local
            r = httpx.post(f"{gw.url}/v1/chat/completions", json=private, headers={**strict, **to_cloud})
            assert r.status_code == 403
            captured = "\n".join(httpx.get(f"{cloud.url}/captured").json()["bodies"])
            assert "jane.doe@example.com" not in captured
