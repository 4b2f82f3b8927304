"""The simulator places requests as the real gateway does: a decision log recorded from the real
`edgecloud gateway` (two echo upstreams on loopback, the cloud made slow and then fast, a cloud budget
that runs out) replays through the simulator's placement with >= 99% identical decisions."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from pathlib import Path

import httpx

from edgecloud.serving.launcher import EchoProcess, GatewayProcess
from edgecloud.sim.replay import replay_log

POLICIES = ["privacy", "hint", "task", "offline", "cost", "latency", "cascade"]
SETTINGS = {"cost": {"cloud_budget": 2.0}, "cascade": {"threshold": -1.0}}


def _topology(tmp: Path, edge: str, cloud: str) -> Path:
    path = tmp / "topology.yaml"
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge}"}}], context_length: 512}}
  cloud:
    upstreams: [{{url: "{cloud}"}}]
    context_length: 8192
    price: {{input_per_1k: 1.0, output_per_1k: 1.0}}
policies: {json.dumps(POLICIES)}
policy_settings: {json.dumps(SETTINGS)}
probe_interval_s: 0.2
decision_log: {tmp / "decisions.jsonl"}
""")
    return path


def _request(rng: random.Random, i: int) -> tuple[dict[str, object], dict[str, str]]:
    """A mix of what placement reads: PII, hints, tasks, task aliases, long prompts, streams."""
    words = " ".join(
        rng.choice(["alpha", "beta", "gamma", "delta", "omega"]) for _ in range(rng.randint(3, 12))
    )
    body: dict[str, object] = {"model": "auto", "max_tokens": 16, "stream": rng.random() < 0.4}
    headers: dict[str, str] = {}
    roll = rng.random()
    if roll < 0.08:
        words += f" reach me at user{i}@example.com"
    elif roll < 0.12:
        body["metadata"] = {"privacy": "local"}
    elif roll < 0.18:
        headers["x-edgecloud-tier"] = rng.choice(["edge", "cloud"])
    elif roll < 0.26:
        body["metadata"] = {"task": rng.choice(["mining", "dialogue", "speech", "batch"])}
    elif roll < 0.30:
        body["model"] = "edgecloud-summarize-long"
    elif roll < 0.34:
        words = " ".join(["lorem ipsum dolor sit amet"] * 120)  # ~600 estimated tokens: over the edge's 512
    body["messages"] = [{"role": "user", "content": words}]
    return body, headers


async def _send(url: str, count: int, seed: int) -> Counter[int]:
    rng = random.Random(seed)
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def one(i: int) -> None:
            body, headers = _request(rng, i)
            response = await client.post("/v1/chat/completions", json=body, headers=headers)
            statuses[response.status_code] += 1

        for start in range(0, count, 4):  # four in flight: queues and EWMAs move between decisions
            await asyncio.gather(*(one(i) for i in range(start, min(start + 4, count))))
    return statuses


def test_a_real_gateway_decision_log_replays_through_the_simulator(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=str(_topology(tmp_path, edge.url, cloud.url))) as gateway:
            gateway.wait_ready(30)
            statuses: Counter[int] = Counter()
            # cloud slow, then edge slow (the latency policy flips), until the cloud budget runs out
            for phase, (edge_delay, cloud_delay) in enumerate([(0.0, 0.04), (0.03, 0.0), (0.0, 0.0)]):
                httpx.post(f"{edge.url}/control", json={"delay_s": edge_delay})
                httpx.post(f"{cloud.url}/control", json={"delay_s": cloud_delay})
                time.sleep(0.3)
                statuses += asyncio.run(_send(gateway.url, 140, seed=phase))
    assert statuses[200] == sum(statuses.values())
    time.sleep(0.2)
    log = tmp_path / "decisions.jsonl"
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert all("messages" not in json.dumps(r) and "lorem" not in json.dumps(r) for r in records)
    policies = Counter(r["placement"]["decision"]["policy"] for r in records if "placement" in r)
    print(f"decisions by policy: {dict(policies)}")
    assert {"privacy", "hint", "task", "latency", "cost"} <= set(policies)

    report = replay_log(log, POLICIES, SETTINGS)
    print(
        f"replayed {report.replayed}/{report.total}: {report.agreement:.2%} identical, "
        f"{report.exact_agreement:.2%} exactly (reason text too); mismatches: {report.mismatches[:3]}"
    )
    assert report.replayed >= 0.95 * report.total
    assert report.agreement >= 0.99
    assert report.exact_agreement >= 0.99
