"""The GPU bench's arithmetic (parity, levels) and the scheduler's one-wake-up delivery, on the CPU."""

from __future__ import annotations

import asyncio

from edgecloud.bench.gpu.decode import Answer, level_of
from edgecloud.bench.gpu.parity import compare
from edgecloud.runtimes.base import InferenceRequest, InferenceResult, Prepared
from edgecloud.serving.scheduler import _DONE, Job, post


def test_parity_counts_identical_answers_and_the_first_divergence() -> None:
    reference = [[1, 2, 3, 4], [5, 6, 7], [8, 9]]
    candidate = [[1, 2, 3, 4], [5, 0, 7], [8]]
    parity = compare(reference, candidate, ("cpu", "gpu"))
    assert parity.identical == 1
    assert parity.first_divergence == [None, 1, 1]  # a shorter answer diverges where it stops
    assert parity.agreeing_tokens == 4 + 1 + 1
    assert parity.compared_tokens == 9


def test_a_level_is_tokens_over_wall_time_with_ttft_percentiles() -> None:
    answers = [Answer(tokens=10, ttft=0.1 * (i + 1), seconds=1.0) for i in range(20)]
    level = level_of(20, answers, wall=2.0)
    assert level.tokens == 200 and level.tok_s == 100.0
    assert level.ttft_p50_s == 1.05  # the median of 0.1 .. 2.0
    assert level.ttft_p95_s == 2.0
    assert level.step_ms == 200.0  # 2 s over the longest answer's 10 steps


def _job(loop: asyncio.AbstractEventLoop, name: str) -> Job:
    return Job(Prepared(InferenceRequest(request_id=name, kind="completion", prompt="x")), loop)


def test_post_delivers_many_jobs_items_in_order() -> None:
    async def scenario() -> list[list[str]]:
        loop = asyncio.get_running_loop()
        jobs = [_job(loop, "a"), _job(loop, "b")]
        post([(jobs[0], InferenceResult(text="1")), (jobs[1], InferenceResult(text="x"))])
        post([(jobs[0], InferenceResult(text="2")), (jobs[0], _DONE), (jobs[1], _DONE)])
        return [[r.text async for r in job.results()] for job in jobs]

    assert asyncio.run(scenario()) == [["1", "2"], ["x"]]


def test_post_to_a_closed_loop_cancels_the_jobs() -> None:
    loop = asyncio.new_event_loop()
    job = _job(loop, "gone")
    loop.close()
    post([(job, InferenceResult(text="late"))])
    assert job.cancelled.is_set()
