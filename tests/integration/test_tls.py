"""TLS on the node and the gateway with the certificates `edgecloud certs` makes."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from edgecloud.serving.launcher import GatewayProcess, NodeProcess
from tests.conftest import EMBED


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("certs")
    done = subprocess.run(
        [sys.executable, "-m", "edgecloud", "certs", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return out


def test_the_generated_ca_signs_a_server_certificate_for_loopback(certs: Path) -> None:
    assert {"ca.pem", "server.pem", "server-key.pem"} <= {p.name for p in certs.iterdir()}
    assert (certs / "server-key.pem").stat().st_mode & 0o077 == 0  # the key is the owner's alone
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    context.load_cert_chain(certs / "server.pem", certs / "server-key.pem")  # key matches certificate


@pytest.mark.slow
def test_https_node_behind_an_https_gateway_verifies_upstream_certificates(certs: Path) -> None:
    tls = ["--ssl-certfile", str(certs / "server.pem"), "--ssl-keyfile", str(certs / "server-key.pem")]
    ca = str(certs / "ca.pem")
    with NodeProcess([EMBED], args=tls, tls_ca=ca) as node:
        node.wait_ready(120)
        with pytest.raises(httpx.HTTPError):  # plain HTTP to a TLS port fails cleanly, no hang
            httpx.get(f"http://127.0.0.1:{node.port}/health", timeout=5)
        with pytest.raises(httpx.ConnectError):  # an unknown CA is refused
            httpx.get(f"{node.url}/health", timeout=5)
        with GatewayProcess(edge=node.url, args=[*tls, "--upstream-ca", ca], tls_ca=ca) as gateway:
            gateway.wait_ready(60)
            r = httpx.post(
                f"{gateway.url}/v1/embeddings",
                json={"model": EMBED, "input": "secure"},
                verify=ca,
                timeout=60,
            )
            assert r.status_code == 200 and len(r.json()["data"][0]["embedding"]) == 384
        with GatewayProcess(edge=node.url) as untrusting:  # no CA given: the upstream is not trusted
            deadline = time.monotonic() + 60
            while "Certificate" not in _last_error(untrusting.url):
                assert time.monotonic() < deadline
                time.sleep(0.3)
            r = httpx.post(f"{untrusting.url}/v1/embeddings", json={"model": EMBED, "input": "x"}, timeout=30)
            assert r.status_code == 503


def _last_error(url: str) -> str:
    try:
        return str(httpx.get(f"{url}/health", timeout=5).json()["upstreams"]["edge-0"]["last_error"])
    except httpx.HTTPError:
        return ""
