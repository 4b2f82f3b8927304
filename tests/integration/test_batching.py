"""Continuous batching of the transformers decoder (SmolLM2 dequantised to fp32), in process: the same
answers as alone, slots freed on cancel, first-come-first-served admission, back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from edgecloud.catalogue import Catalogue, LocalPath
from edgecloud.config import NodeSettings
from edgecloud.errors import Overloaded
from edgecloud.runtimes import create_runtime
from edgecloud.runtimes.base import ChatMessage, InferenceRequest, Runtime, SamplingParams
from edgecloud.runtimes.transformers import TransformersDecoder
from edgecloud.serving.batching import ContinuousBatcher
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.scheduler import Job
from tests.conftest import CHAT

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Hi",
    "What is the capital of France?",
    "Explain in detail how a steam engine works, step by step, and where steam engines were used in history.",
    "List three colours.",
    "Write a haiku about the sea.",
]
Answer = tuple[str, str | None, int, list[float]]


@pytest.fixture(scope="module")
def runtime() -> Iterator[TransformersDecoder]:
    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(CHAT)
    spec = replace(spec, source=LocalPath(catalogue.materialize(spec)), runtime="transformers")
    engine = create_runtime(spec, threads=2, n_ctx=2048)
    engine.load(spec)
    assert isinstance(engine, TransformersDecoder) and engine.can_batch
    yield engine
    engine.close()


def _request(i: int, question: str, **sampling: object) -> InferenceRequest:
    params = SamplingParams(**{"max_tokens": 16, "temperature": 0.0, **sampling})  # type: ignore[arg-type]
    return InferenceRequest(f"q{i}", "chat", messages=(ChatMessage("user", question),), sampling=params)


def _alone(runtime: Runtime, request: InferenceRequest) -> Answer:
    prepared = runtime.preprocess(request)
    text, finish, count, logprobs = "", None, 0, []
    for step in runtime.infer([prepared]):
        result = runtime.postprocess(step)
        text += result.text
        logprobs += [lp.logprob for lp in result.logprobs]
        finish, count = result.finish_reason, result.completion_tokens
        if finish:
            break
    return text, finish, count, logprobs


async def _collect(job: Job) -> Answer:
    text, finish, count, logprobs = "", None, 0, []
    async for result in job.results():
        text += result.text
        logprobs += [lp.logprob for lp in result.logprobs]
        finish, count = result.finish_reason, result.completion_tokens
    return text, finish, count, logprobs


def _batcher(runtime: TransformersDecoder, **limits: int) -> ContinuousBatcher:
    batcher = ContinuousBatcher(CHAT, runtime, NodeMetrics(), **limits)
    batcher.start()
    return batcher


def _mixed_requests() -> list[InferenceRequest]:
    """Greedy prompts of different lengths, plus per-request sampling, stop strings and logprobs."""
    requests = [_request(i, q) for i, q in enumerate(QUESTIONS[:4])]
    requests.append(_request(4, "Tell me a story.", temperature=0.9, top_p=0.9, seed=7))
    requests.append(_request(5, QUESTIONS[1], stop=("Paris",), max_tokens=24))
    requests.append(_request(6, QUESTIONS[4], logprobs=True, top_logprobs=2))
    return requests


def test_concurrent_answers_equal_each_request_run_alone(runtime: TransformersDecoder) -> None:
    requests = _mixed_requests()
    alone = [_alone(runtime, request) for request in requests]

    async def concurrently() -> list[Answer]:
        batcher = _batcher(runtime, max_batch=8)
        jobs: list[asyncio.Task[Answer]] = []
        for n, request in enumerate(requests):  # joining at different steps of the running batch
            jobs.append(asyncio.create_task(_collect(batcher.submit(runtime.preprocess(request)))))
            await asyncio.sleep(0.05 * n)
        answers = await asyncio.gather(*jobs)
        assert batcher.stop()
        return answers

    together = asyncio.run(concurrently())
    for request, mine, reference in zip(requests, together, alone, strict=True):
        assert mine[:3] == reference[:3], request.request_id
        assert mine[3] == pytest.approx(reference[3], abs=1e-4)
    assert together[5][1] == "stop" and "Paris" not in together[5][0]
    assert len(together[6][3]) == together[6][2] > 0


def test_a_cancelled_request_frees_its_slot_at_the_next_step(runtime: TransformersDecoder) -> None:
    async def scenario() -> tuple[int, Answer]:
        batcher = _batcher(runtime, max_batch=1)
        long = batcher.submit(runtime.preprocess(_request(0, QUESTIONS[2], max_tokens=400)))
        seen = 0
        async for _ in long.results():
            seen += 1
            if seen == 3:
                long.cancel()  # what the route does when the client disconnects
                break
        short = batcher.submit(runtime.preprocess(_request(1, QUESTIONS[1], max_tokens=6)))
        answer = await asyncio.wait_for(_collect(short), timeout=60)
        assert batcher.stop()
        return seen, answer

    _, (text, finish, count, _) = asyncio.run(scenario())
    assert text and finish in ("stop", "length") and count <= 6


def test_admission_is_first_come_first_served_and_a_long_request_starves_nobody(
    runtime: TransformersDecoder,
) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        batcher = _batcher(runtime, max_batch=2)
        finished: list[str] = []

        async def run(request: InferenceRequest) -> None:
            await _collect(batcher.submit(runtime.preprocess(request)))
            finished.append(request.request_id)

        long = _request(0, QUESTIONS[2], max_tokens=60)
        tasks = [asyncio.create_task(run(long))]
        await asyncio.sleep(0.2)
        for i in range(1, 5):
            tasks.append(asyncio.create_task(run(_request(i, QUESTIONS[1], max_tokens=4))))
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        assert batcher.stop()
        return list(batcher.admitted), finished

    admitted, finished = asyncio.run(scenario())
    assert admitted == ["q0", "q1", "q2", "q3", "q4"]
    assert finished[-1] == "q0"  # the short ones shared the batch with it and left first


def test_a_full_queue_is_overloaded_with_retry_after(runtime: TransformersDecoder) -> None:
    async def scenario() -> Overloaded:
        batcher = _batcher(runtime, max_batch=1, max_queue=1)
        running = batcher.submit(runtime.preprocess(_request(0, QUESTIONS[2], max_tokens=200)))
        await anext(running.results())  # admitted: the slot is taken
        waiting = batcher.submit(runtime.preprocess(_request(1, QUESTIONS[1])))
        with pytest.raises(Overloaded) as rejected:
            batcher.submit(runtime.preprocess(_request(2, QUESTIONS[1])))
        running.cancel()
        assert (await _collect(waiting))[0]
        assert batcher.stop()
        return rejected.value

    error = asyncio.run(scenario())
    assert error.status == 429 and error.headers["Retry-After"] == "1"
