"""Leak test: prompts seeded with PII of every supported type go through the gateway to a capturing
cloud upstream; none of the seeded values may reach it. In redact mode the answers (the echo
upstream repeats the prompt) must carry the originals again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from edgecloud.privacy.synthetic import KINDS, seeded_prompts
from edgecloud.serving.launcher import EchoProcess, GatewayProcess

PROMPTS = seeded_prompts(1000, seed=11)


def _config(tmp_path: Path, edge: str, cloud: str, mode: str) -> str:
    path = tmp_path / f"{mode}.yaml"
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge}"}}]}}
  cloud: {{upstreams: [{{url: "{cloud}"}}]}}
policies: [privacy, hint]
policy_settings: {{privacy: {{mode: {mode}}}}}
""")
    return str(path)


async def _send_all(url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=16)
    semaphore = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, index: int) -> httpx.Response:
        body = {
            "model": "auto",
            "messages": [{"role": "user", "content": PROMPTS[index].prompt}],
            "stream": index % 4 == 0,
        }
        async with semaphore:
            return await client.post(
                f"{url}/v1/chat/completions", json=body, headers={"x-edgecloud-tier": "cloud"}
            )

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(len(PROMPTS)))))


def _answer(response: httpx.Response) -> str:
    if response.headers["content-type"].startswith("text/event-stream"):
        import json

        text = ""
        for line in response.text.splitlines():
            if line.startswith("data: {"):
                for choice in json.loads(line[6:]).get("choices", []):
                    text += choice.get("delta", {}).get("content") or ""
        return text
    return str(response.json()["choices"][0]["message"]["content"])


def _leaks(cloud: EchoProcess) -> list[str]:
    captured = "\n".join(httpx.get(f"{cloud.url}/captured", timeout=30).json()["bodies"])
    return [value for item in PROMPTS for _, value in item.values if value in captured]


def test_every_supported_type_is_seeded() -> None:
    assert {kind for item in PROMPTS for kind, _ in item.values} == set(KINDS)


def test_redact_mode_sends_no_seeded_value_and_restores_the_answers(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_config(tmp_path, edge.url, cloud.url, "redact")) as gateway:
            gateway.wait_ready(30)
            responses = asyncio.run(_send_all(gateway.url))
        assert all(r.status_code == 200 for r in responses)
        assert all(r.headers["x-edgecloud-tier"] == "cloud" for r in responses)  # redacted, so allowed out
        assert _leaks(cloud) == []
        captured = "\n".join(httpx.get(f"{cloud.url}/captured").json()["bodies"])
        assert "<EMAIL_ADDRESS_1>" in captured and "<IBAN_CODE_1>" in captured
        for item, response in zip(PROMPTS, responses, strict=True):
            answer = _answer(response)
            for _, value in item.values:
                assert value in answer, (value, answer)


def test_keep_local_mode_sends_nothing_private_to_the_cloud(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_config(tmp_path, edge.url, cloud.url, "keep-local")) as gateway:
            gateway.wait_ready(30)
            responses = asyncio.run(_send_all(gateway.url))
        assert all(r.status_code == 200 for r in responses)
        assert all(r.headers["x-edgecloud-tier"] == "edge" for r in responses)
        assert all(r.headers["x-edgecloud-policy"] == "privacy" for r in responses)
        assert _leaks(cloud) == []


def test_block_mode_answers_403_with_the_reason(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=_config(tmp_path, edge.url, cloud.url, "block")) as gateway:
            gateway.wait_ready(30)
            r = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": PROMPTS[0].prompt}]},
            )
            assert r.status_code == 403
            assert r.json()["error"]["code"] == "pii_blocked"
            assert "EMAIL_ADDRESS" in r.json()["error"]["message"]
            clean = httpx.post(
                f"{gateway.url}/v1/chat/completions",
                json={"model": "auto", "messages": [{"role": "user", "content": "hello"}]},
            )
            assert clean.status_code == 200
