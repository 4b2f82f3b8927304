"""Shared fixtures: real nodes on free loopback ports, always stopped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from edgecloud.serving.launcher import NodeProcess

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_finish(session: pytest.Session) -> None:
    """The soak starts now when its test was collected: it runs beside the other tests."""
    from tests.integration.soak_background import KEY, TEST_ID, BackgroundSoak

    if any(item.nodeid == TEST_ID for item in session.items):
        session.config.stash[KEY] = BackgroundSoak.start()


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.integration.soak_background import KEY

    soak = session.config.stash.get(KEY, None)
    if soak is not None:
        soak.stop()  # an interrupted run leaves no soak behind


def require_tool(found: str | None, name: str, how: str) -> pytest.MarkDecorator:
    """Skip tests whose system tool is missing, except under CI=true: there a missing browser or tool
    is an install bug, so collecting the module fails instead of quietly skipping it."""
    if found is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{name} is not installed ({how}); under CI=true a missing tool fails", pytrace=False)
    return pytest.mark.skipif(found is None, reason=f"{name} is not installed ({how})")


CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"
BASE = "gemma3-270m"


@pytest.fixture(scope="session")
def node() -> Iterator[NodeProcess]:
    """The edge node most integration tests talk to: SmolLM2 (llama.cpp), Gemma 3 base, MiniLM."""
    with NodeProcess([CHAT, BASE, EMBED], args=["--max-queue", "8"]) as process:
        process.wait_ready(timeout=300)
        yield process


@pytest.fixture
def openai_client(node: NodeProcess):  # type: ignore[no-untyped-def]
    from openai import OpenAI

    client = OpenAI(base_url=f"{node.url}/v1", api_key="test", max_retries=0, timeout=120)
    yield client
    client.close()


def metric_value(url: str, name: str, labels: dict[str, str] | None = None) -> float:
    """The summed value of a Prometheus sample read from a live /metrics endpoint."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total
