"""Speculative decoding with the bundled pair (Qwen2.5-Coder 0.5B drafts for 1.5B): identical greedy text
(or a divergence at a counted near-tie), seeded sampling, the serve flags over HTTP with the official
client, the verify route's sessions and errors, the vocabulary check, and a lost link."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from edgecloud.bench.netem import LinkProfile
from edgecloud.bench.scenario_stack import LinkThread
from edgecloud.bench.speculative.client import first_divergence, generate
from edgecloud.bench.speculative.report import NEAR_TIE
from edgecloud.catalogue import Catalogue, LocalPath, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.runtimes.base import ChatMessage, InferenceRequest, SamplingParams
from edgecloud.runtimes.llamacpp import LlamaCppRuntime
from edgecloud.runtimes.speculative.protocol import Draft, VerifyRequest
from edgecloud.runtimes.speculative.runtime import SpeculativeRuntime
from edgecloud.serving.launcher import NodeProcess, free_port
from tests.conftest import metric_value

pytestmark = pytest.mark.slow

TARGET = "qwen2.5-coder-1.5b-instruct"
DRAFT = "qwen2.5-coder-0.5b-instruct"
PROMPTS = (
    "Write a Python function that checks whether a number is prime.",
    "What is the capital of Australia? Answer in one sentence.",
    "Give me one tip for sleeping better.",
)


def _local(name: str) -> ModelSpec:
    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(name)
    return replace(spec, source=LocalPath(catalogue.materialize(spec)))


def _request(prompt: str, **sampling: object) -> InferenceRequest:
    params = SamplingParams(**{"max_tokens": 40, "temperature": 0.0, **sampling})  # type: ignore[arg-type]
    return InferenceRequest("t", "chat", messages=(ChatMessage("user", prompt),), sampling=params)


@pytest.fixture(scope="module")
def target() -> Iterator[LlamaCppRuntime]:
    runtime = LlamaCppRuntime(n_threads=2, verify_sessions=1)
    runtime.load(_local(TARGET))
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def speculative() -> Iterator[SpeculativeRuntime]:
    runtime = SpeculativeRuntime(_local(DRAFT), k=4)
    runtime.load(_local(TARGET))
    yield runtime
    runtime.close()


def _steps(runtime: LlamaCppRuntime | SpeculativeRuntime, request: InferenceRequest) -> list:  # type: ignore[type-arg]
    return list(runtime.infer([runtime.preprocess(request)]))


def test_greedy_output_is_the_targets_token_for_token(
    target: LlamaCppRuntime, speculative: SpeculativeRuntime
) -> None:
    near_ties = 0
    for prompt in PROMPTS:
        alone = [
            s
            for s in _steps(target, _request(prompt, logprobs=True, top_logprobs=2))
            if s.token_id is not None
        ]
        drafted = [s.token_id for s in _steps(speculative, _request(prompt)) if s.token_id is not None]
        reference = [s.token_id for s in alone]
        if drafted != reference:  # allowed only where the target's top two logits (nearly) tie
            at = next(i for i, (a, b) in enumerate(zip(reference, drafted, strict=False)) if a != b)
            top = alone[at].top_logprobs
            assert top[0][1] - top[1][1] < NEAR_TIE, f"{prompt!r} diverges at token {at} without a near-tie"
            near_ties += 1
    assert near_ties <= 1


def test_rounds_report_their_figures_and_respect_the_budget(speculative: SpeculativeRuntime) -> None:
    steps = _steps(speculative, _request(PROMPTS[0], max_tokens=24))
    stats = steps[-1].stats
    assert steps[-1].finish_reason == "length" and stats["generated"] == 24
    assert stats["rounds"] < 24 and stats["accepted"] > 0  # several tokens per target pass
    assert stats["target_passes_per_token"] == pytest.approx(stats["rounds"] / 24, abs=1e-3)


def test_seeded_sampling_repeats(speculative: SpeculativeRuntime) -> None:
    def text(seed: int) -> list[int | None]:
        return [s.token_id for s in _steps(speculative, _request(PROMPTS[2], temperature=0.9, seed=seed))]

    assert text(3) == text(3)
    assert text(3) != text(4)


def test_verify_sessions_resume_and_evicted_ones_are_reprefilled(target: LlamaCppRuntime) -> None:
    """verify_sessions=1: a third session evicts the first, which is then re-prefilled from the context
    every round carries, and answered as a fresh session would be."""
    prompt = target.preprocess(_request(PROMPTS[0])).tokens
    draft = Draft(tuple(target.preprocess(_request("prime numbers")).tokens[-3:]))

    def round_(session: str, context: list[int]) -> tuple[int, tuple[int, ...], int]:
        done = target.verify(VerifyRequest(session=session, context=tuple(context), draft=draft))
        return done.accepted, done.tokens, done.prefilled

    first = round_("a", prompt)
    assert first[2] == len(prompt)
    assert round_("a", prompt)[2] == 0  # resident: nothing to evaluate again
    round_("b", prompt[:-5])
    _steps(target, _request("hello", max_tokens=3))  # a plain generation in between
    assert round_("b", prompt[:-5])[2] == 0  # b's cache was saved and restored
    round_("c", prompt)  # evicts a (one saved session at most)
    again = round_("a", prompt)
    assert again[2] == len(prompt) and again[:2] == first[:2]
    fresh = round_("z", prompt)
    assert fresh[:2] == first[:2]


@pytest.fixture(scope="module")
def cloud() -> Iterator[NodeProcess]:
    with NodeProcess([TARGET], args=["--tier", "cloud"]) as node:
        node.wait_ready(300)
        yield node


@pytest.fixture(scope="module")
def link(cloud: NodeProcess) -> Iterator[LinkThread]:
    with LinkThread(("127.0.0.1", cloud.port), LinkProfile(rtt_s=0.02)) as thread:
        yield thread


@pytest.fixture(scope="module")
def edge(link: LinkThread) -> Iterator[NodeProcess]:
    args = ["--draft-model", DRAFT, "--verify-url", link.url, "--speculative-fallback", "edge"]
    with NodeProcess([TARGET], args=args) as node:
        node.wait_ready(300)
        yield node


def test_the_edge_drafts_the_cloud_verifies_over_http(cloud: NodeProcess, edge: NodeProcess) -> None:
    from openai import OpenAI

    messages = [{"role": "user", "content": PROMPTS[0]}]
    alone = generate(cloud.url, TARGET, messages, 32)
    drafted = generate(edge.url, TARGET, messages, 32)
    assert drafted.stats is not None and drafted.stats["fallback"] is None and drafted.stats["rounds"] >= 1
    at = first_divergence(alone.tokens, drafted.tokens)
    assert at is None or alone.margins[at] < NEAR_TIE, f"diverges at {at} without a near-tie"
    same = len(alone.tokens) if at is None else at  # logprobs are the target's, up to kernel rounding
    assert all(
        abs(a - b) < NEAR_TIE for a, b in zip(alone.margins[:same], drafted.margins[:same], strict=True)
    )
    with OpenAI(base_url=f"{edge.url}/v1", api_key="x", max_retries=0) as client:
        whole = client.chat.completions.create(model=TARGET, messages=messages, max_tokens=8, temperature=0)  # type: ignore[arg-type]
        assert whole.choices[0].finish_reason == "length" and whole.usage.completion_tokens == 8
        assert whole.model_extra["speculative"]["generated"] == 8
        chunks = list(
            client.chat.completions.create(
                model=TARGET,
                messages=messages,
                max_tokens=60,
                temperature=0,
                stream=True,
                stop=["def "],  # type: ignore[arg-type]
            )
        )
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "def " not in streamed and chunks[-1].choices[0].finish_reason == "stop"


def test_a_client_that_leaves_stops_the_rounds(cloud: NodeProcess, edge: NodeProcess) -> None:
    body = {"model": TARGET, "messages": [{"role": "user", "content": PROMPTS[0]}], "max_tokens": 400}
    received = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", f"{edge.url}/v1/chat/completions", json={**body, "stream": True}) as response,
    ):
        for line in response.iter_lines():
            received += line.startswith("data: {")
            if received >= 4:
                break  # leaving the block closes the connection mid-stream
    time.sleep(1.0)  # the round in flight ends
    settled = metric_value(cloud.url, "edgecloud_generated_tokens_total", {"model": TARGET})
    time.sleep(2.0)  # ~30 more tokens, had the rounds gone on
    assert metric_value(cloud.url, "edgecloud_generated_tokens_total", {"model": TARGET}) == settled
    follow_up = httpx.post(f"{edge.url}/v1/chat/completions", json={**body, "max_tokens": 4}, timeout=120)
    assert follow_up.status_code == 200


def test_a_lost_link_falls_back_to_the_draft_and_says_so(link: LinkThread, edge: NodeProcess) -> None:
    import asyncio

    body = {"model": TARGET, "messages": [{"role": "user", "content": PROMPTS[1]}], "max_tokens": 12}
    asyncio.run_coroutine_threadsafe(link.emulator.set_online(False), link._loop).result(10)
    try:
        answer = httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=120).json()
    finally:
        asyncio.run_coroutine_threadsafe(link.emulator.set_online(True), link._loop).result(10)
    assert answer["speculative"]["fallback"] == "edge"
    assert answer["choices"][0]["message"]["content"]


def test_without_fallback_a_lost_link_is_a_503() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with NodeProcess([TARGET], args=["--draft-model", DRAFT, "--verify-url", dead]) as node:
        node.wait_ready(300)
        body = {"model": TARGET, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
        response = httpx.post(f"{node.url}/v1/chat/completions", json=body, timeout=120)
    assert response.status_code == 503
    assert "cannot be reached" in response.json()["error"]["message"]


def test_the_verify_route_refuses_bad_rounds(cloud: NodeProcess) -> None:
    url = f"{cloud.url}/v1/speculative/verify"
    cases = [
        ({"model": TARGET, "session": "s", "tokens": [10**7]}, 400, "outside the vocabulary"),
        ({"model": TARGET, "session": "s", "tokens": [1], "draft": [2], "temperature": 0.7}, 400, "need q"),
        ({"model": "nope", "session": "s", "tokens": [1]}, 404, "does not exist"),
        ({"model": TARGET, "session": "s", "tokens": []}, 400, "tokens"),
        (
            {
                "model": TARGET,
                "session": "s",
                "tokens": [1],
                "vocabulary": {"model": "smollm2-135m-instruct", "size": 49152, "sha256": "0"},
            },
            400,
            "smollm2-135m-instruct",
        ),
    ]
    for body, status, text in cases:
        response = httpx.post(url, json=body, timeout=60)
        assert response.status_code == status, (body, response.text)
        assert text in response.json()["error"]["message"]


def test_a_draft_with_another_vocabulary_is_refused_at_startup() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edgecloud", "serve", "-m", TARGET, "--draft-model", "smollm2-135m-instruct"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "smollm2-135m-instruct" in result.stdout + result.stderr
    assert TARGET in result.stdout + result.stderr
