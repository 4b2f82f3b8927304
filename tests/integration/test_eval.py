"""The evaluation harness against a real node: prompt logprobs through completions with echo, every
suite kind scored end to end, and the cascade report from two endpoints."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from edgecloud.eval.harness import run_items, summarize
from edgecloud.eval.suites import load_suite
from edgecloud.serving.launcher import NodeProcess
from tests.conftest import BASE, CHAT

pytestmark = pytest.mark.slow


def test_echo_returns_the_prompt_with_logprobs_that_match_generation(node: NodeProcess):
    prompt = "The capital of France is"
    generated = httpx.post(
        f"{node.url}/v1/completions",
        json={"model": BASE, "prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 0},
        timeout=60,
    ).json()["choices"][0]
    token, logprob = generated["logprobs"]["tokens"][0], generated["logprobs"]["token_logprobs"][0]
    echoed = httpx.post(
        f"{node.url}/v1/completions",
        json={
            "model": BASE,
            "prompt": prompt + token,
            "max_tokens": 1,
            "temperature": 0,
            "echo": True,
            "logprobs": 0,
        },
        timeout=60,
    ).json()["choices"][0]
    assert echoed["text"].startswith(prompt + token)
    offsets, values = echoed["logprobs"]["text_offset"], echoed["logprobs"]["token_logprobs"]
    assert values[0] is None  # nothing precedes the first token
    at = offsets.index(len(prompt))
    assert values[at] == pytest.approx(logprob, abs=0.05)


def test_every_kind_of_suite_is_scored_against_the_real_chat_model(node: NodeProcess):
    for suite, methods in (("openbookqa", {"letter", "loglik"}), ("nq-open", {"exact", "contains"})):
        items = load_suite(suite, limit=3)
        records = asyncio.run(run_items(node.url, CHAT, suite, items))
        assert [r.id for r in records] == [i.id for i in items]
        assert all(r.error is None and set(r.scores) == methods for r in records), records
        assert all("mean_logprob" in r.confidence for r in records)
        summary = summarize(suite, CHAT, node.url, items, records)
        assert {m.method for m in summary.methods} == methods and summary.errors == 0
    items = load_suite("translation", limit=2)
    records = asyncio.run(run_items(node.url, CHAT, "translation", items))
    assert all(r.error is None and 0 <= r.scores["chrf"] <= 1 and r.answer for r in records)


def test_eval_cli_writes_records_and_a_cascade_report(node: NodeProcess, tmp_path: Path):
    out = tmp_path / "eval"
    command = [sys.executable, "-m", "edgecloud", "eval", node.url, "--suite", "sentiment", "--model", CHAT]
    command += ["--limit", "4", "--no-loglik", "--cloud", node.url, "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "95% CI" in result.stdout and "cascade on mean_logprob" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["tradeoffs"][0]["method"] == "letter" and len(report["tradeoffs"][0]["points"]) == 5
    assert "data:image/png;base64," in (out / "report.html").read_text()
    assert len((out / "records.jsonl").read_text().splitlines()) == 4
    # the same model on both sides: no difference, and the paired test says so
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["method"] == "letter" and comparison["n"] == 4
    assert comparison["mean_a"] == comparison["mean_b"] and not comparison["significant"]
    assert "cloud - edge on letter: +0.000" in result.stdout


def test_an_unknown_suite_is_a_clear_error():
    result = subprocess.run(
        [sys.executable, "-m", "edgecloud", "eval", "http://127.0.0.1:9", "--suite", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown suite 'nope'" in result.stdout + result.stderr


def test_a_task_profile_without_its_parameters_is_a_400_naming_the_field(node: NodeProcess):
    response = httpx.post(
        f"{node.url}/v1/chat/completions",
        json={
            "model": CHAT,
            "messages": [{"role": "user", "content": "Hi"}],
            "metadata": {"task": "translate"},
        },
        timeout=60,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "metadata.target"


def test_a_model_that_cannot_echo_says_so_with_a_400():
    with NodeProcess([CHAT], args=["--runtime", "transformers"]) as cloud:
        cloud.wait_ready(timeout=300)
        body = {"model": CHAT, "prompt": "Hi", "max_tokens": 1, "echo": True, "logprobs": 0}
        response = httpx.post(f"{cloud.url}/v1/completions", json=body, timeout=60)
        assert response.status_code == 400 and response.json()["error"]["param"] == "echo"
        items = load_suite("openbookqa", limit=1)
        records = asyncio.run(run_items(cloud.url, CHAT, "openbookqa", items))
        assert records[0].error is None and set(records[0].scores) == {"letter"}  # scored by letter only
