"""The quality router end to end: `edgecloud router train|eval` on the committed pairs of the bundled tiers,
and a real gateway that routes by the shipped router out of the box when its tiers serve that pair
(echo upstreams named as the pair's models, so what is tested is placement, not generation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from edgecloud.catalogue import hybrid_pair
from edgecloud.routing.router import artifact
from edgecloud.serving.launcher import EchoProcess, GatewayProcess

pytestmark = pytest.mark.slow
EDGE, CLOUD = (spec.name for spec in hybrid_pair())
ROOT = Path(__file__).parents[2]
PAIRS = ROOT / "examples" / "router" / f"pairs-{EDGE}__{CLOUD}.jsonl"


def _edgecloud(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "edgecloud", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=ROOT)


def test_router_train_and_eval_judge_on_held_out_items(tmp_path: Path) -> None:
    done = _edgecloud(
        "router", "train", "--pairs", str(PAIRS), "--out", str(tmp_path / "r"), "--kinds", "logistic,knn"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    curves = report["curves"]
    assert set(curves) == {"logistic", "knn", "random", "cascade (edge logprob)", "oracle"}
    assert curves["random"]["apgr"] == pytest.approx(0.5)
    assert curves["oracle"]["apgr"] > curves[report["chosen"]]["apgr"] > 0.5  # beats random, held out
    assert (tmp_path / "r" / "report.html").read_text().count("<img") == 1
    trained = artifact.load(tmp_path / "r")
    assert trained.pair == (EDGE, CLOUD) and trained.meta["train_items"] > 100

    done = _edgecloud("router", "eval", "--pairs", str(PAIRS), "--out", str(tmp_path / "e"))
    assert done.returncode == 0, done.stderr[-3000:]
    shipped = json.loads((tmp_path / "e" / "report.json").read_text())
    assert shipped["operating_point"]["cloud_share"] < 1.0

    other = tmp_path / "other.jsonl"
    other.write_text(PAIRS.read_text().replace(CLOUD, "some-other-cloud", 1))
    done = _edgecloud("router", "eval", "--pairs", str(other), "--router", str(tmp_path / "r"))
    assert done.returncode == 2 and "was trained for edge" in done.stdout + done.stderr


def _topology(tmp: Path, edge: str, cloud: str, extra: str = "") -> Path:
    path = tmp / "topology.yaml"
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge}"}}], chat_model: {EDGE}}}
  cloud: {{upstreams: [{{url: "{cloud}"}}], chat_model: {CLOUD}}}
probe_interval_s: 0.2
{extra}""")
    return path


REVIEW = 'Movie review: "{}"\nIs the sentiment of this review positive or negative? Answer with one word.'


def test_the_gateway_routes_by_the_shipped_router_for_its_pair(tmp_path: Path) -> None:
    with EchoProcess() as edge, EchoProcess() as cloud:
        edge.wait_ready(30)
        cloud.wait_ready(30)
        with GatewayProcess(config=str(_topology(tmp_path, edge.url, cloud.url))) as gateway:
            gateway.wait_ready(60)
            placed = []
            for text in (
                "Question: Where would you put a plate after washing it?\nA. table\nB. cupboard\nC. sink\n"
                "Answer with the letter of the correct option only.",
                REVIEW.format("a warm, funny and wise film"),
                "Answer the question with a short answer of a few words, nothing else.\n"
                "Question: Who wrote the novel Moby-Dick?",
            ):
                body = {"model": "auto", "messages": [{"role": "user", "content": text}], "max_tokens": 4}
                response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30)
                assert response.status_code == 200, response.text
                placed.append((response.headers["x-edgecloud-policy"], response.headers["x-edgecloud-tier"]))
                assert "expected" in response.headers["x-edgecloud-reason"]
    assert {policy for policy, _ in placed} == {"router"}  # in the default chain, no configuration


def test_a_router_for_another_pair_is_refused_at_startup(tmp_path: Path) -> None:
    router = tmp_path / "router"
    shipped = artifact.load(artifact.shipped_for(EDGE, CLOUD))  # type: ignore[arg-type]
    artifact.save(router, shipped.model, {**shipped.meta, "cloud_model": "some-other-cloud"})
    extra = f"policy_settings: {{router: {{path: {router}}}}}\n"
    config = _topology(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9", extra)
    done = subprocess.run(
        [sys.executable, "-m", "edgecloud", "gateway", "--config", str(config), "--port", "9"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"trained for edge {EDGE} and cloud some-other-cloud" in done.stdout + done.stderr
