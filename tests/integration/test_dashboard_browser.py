"""The dashboard in a real browser: Playwright driving Debian's headless Chromium (its own browser
download cannot be reached here). The page loads with no console error; with traffic from `edgecloud
bench load` its charts and decision table fill; taking the edge offline from the page moves new
placements to the cloud and the page says so; prompts full of markup are shown as text and run nothing.
A screenshot of each state is saved in the test's folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edgecloud.serving.launcher import EchoProcess, GatewayProcess
from tests.conftest import require_tool

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow, require_tool(CHROMIUM, "chromium", "make system-deps")]
HOSTILE = ('<img src=x onerror="window.__xss=1">', "<script>window.__xss=2</script>")


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[GatewayProcess]:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        topology = tmp_path / "topology.yaml"
        topology.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge.url}"}}]}}
  cloud: {{upstreams: [{{url: "{cloud.url}"}}]}}
log_prompts: true
probe_interval_s: 0.2
""")
        with GatewayProcess(config=str(topology)) as running:
            running.wait_ready(60)
            yield running


def load(url: str, requests: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "edgecloud", "bench", "load", url, "--concurrency", "2"]
    command += ["--requests", str(requests), "--max-tokens", "4"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_page_shows_placement_live_and_its_controls_work(gateway: GatewayProcess, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        # Playwright's waits evaluate strings, which the page's CSP forbids: the test lifts the CSP, so
        # what the hostile prompts prove is the page's own escaping (the CSP is a second wall).
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, bypass_csp=True)
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.goto(f"{gateway.url}/dashboard")
        page.wait_for_function("Number(document.body.dataset.snapshots || 0) >= 2", timeout=20_000)

        assert load(gateway.url, 40).wait(timeout=120) == 0
        page.wait_for_function(
            "document.querySelectorAll('#decisions tbody tr').length >= 40", timeout=20_000
        )
        edge = page.locator('article[data-tier="edge"]')
        assert "requests/s" in edge.inner_text() and "answers in the last minute" in edge.inner_text()
        assert page.locator("#policy-legend span").count() >= 1  # the placement chart has a series
        page.screenshot(path=str(tmp_path / "1-traffic.png"), full_page=True)

        edge.get_by_role("button", name="take offline").click()
        state = "document.querySelector('article[data-tier=\"edge\"] .state').textContent"
        page.wait_for_function(f"{state}.startsWith('offline (')", timeout=20_000)
        assert load(gateway.url, 6).wait(timeout=120) == 0
        page.wait_for_function(
            "document.querySelector('#decisions tbody tr td:nth-child(4)').textContent === 'offline'",
            timeout=20_000,
        )
        assert page.locator("#decisions tbody tr td:nth-child(3)").first.inner_text() == "cloud"
        assert "offline edge" in page.locator("#controls").inner_text()
        page.screenshot(path=str(tmp_path / "2-edge-offline.png"), full_page=True)

        for text in HOSTILE:
            body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 4}
            body["metadata"] = {"note": text}
            assert httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30).status_code == 200
            body["model"] = text  # no tier serves it: a 404 before anything is placed or shown
            assert httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30).status_code == 404
        page.wait_for_function(
            "[...document.querySelectorAll('#decisions td')].some(td => td.textContent.includes('<script>'))",
            timeout=20_000,
        )
        page.wait_for_timeout(1500)  # another render or two with the rows in place
        assert page.evaluate("window.__xss") is None
        assert page.locator("#decisions img").count() == 0 and page.locator("#decisions script").count() == 0
        page.screenshot(path=str(tmp_path / "3-hostile-prompts.png"), full_page=True)
        browser.close()
    assert problems == []
    assert all((tmp_path / name).stat().st_size > 10_000 for name in ("1-traffic.png", "2-edge-offline.png"))
