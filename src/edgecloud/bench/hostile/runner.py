"""Send the hostile cases to a live server at a bounded concurrency and judge every answer: no 5xx, every
error OpenAI-shaped, nothing hangs past its timeout, a normal request is answered afterwards; the
server's peak RSS is sampled beside it when its pid is known."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from edgecloud.bench.hostile.cases import Case

ERROR_KEYS = {"message", "type", "param", "code"}
SLOW_PIECES = 8
SLOW_PAUSE_S = 0.05


@dataclass
class Outcome:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_family: dict[str, Counter[int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # what broke the rules, one line each
    start_rss_mb: float | None = None  # before the first request: what the peak grew from
    peak_rss_mb: float | None = None
    after_ok: bool = False
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return not self.failures and self.after_ok


def judge(case: Case, response: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    if response.status_code >= 500:
        return f"{case.family}: {case.method} {case.path} -> {response.status_code} {response.text[:160]!r}"
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        return f"{case.family}: {response.status_code} is not JSON: {response.text[:160]!r}"
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("error"), dict)
        or set(body["error"]) != ERROR_KEYS
    ):
        return f"{case.family}: {response.status_code} is not an OpenAI error: {response.text[:160]!r}"
    return None


async def _slowly(body: bytes) -> AsyncIterator[bytes]:
    step = max(1, -(-len(body) // SLOW_PIECES))
    for start in range(0, len(body), step):
        yield body[start : start + step]
        await asyncio.sleep(SLOW_PAUSE_S)


async def _send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    headers = {"content-type": case.content_type} if case.content_type else {}
    if case.slow:
        headers["content-length"] = str(len(case.body))
        content: bytes | AsyncIterator[bytes] = _slowly(case.body)
    else:
        content = case.body
    return await client.request(case.method, case.path, content=content, headers=headers)


async def _sample_rss(pid: int, outcome: Outcome, stop: asyncio.Event) -> None:
    import psutil

    process = psutil.Process(pid)
    peak = 0
    while not stop.is_set():
        try:
            peak = max(
                peak, process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            )
        except psutil.Error:
            break
        outcome.peak_rss_mb = peak / 2**20
        if outcome.start_rss_mb is None:
            outcome.start_rss_mb = outcome.peak_rss_mb
        await asyncio.sleep(0.25)


async def run(
    url: str,
    cases: Sequence[Case],
    normal: dict[str, object],
    *,
    concurrency: int = 8,
    timeout_s: float = 60.0,
    pid: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> Outcome:
    outcome = Outcome()
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(pid, outcome, stop)) if pid else None
    queue: asyncio.Queue[Case] = asyncio.Queue()
    for case in cases:
        queue.put_nowait(case)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout_s, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                case = queue.get_nowait()
                await _one(client, case, outcome)
                if on_progress:
                    on_progress(outcome.sent)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        outcome.seconds = time.perf_counter() - started
        after = await client.post("/v1/chat/completions", json=normal)
        outcome.after_ok = after.status_code == 200
        if not outcome.after_ok:
            outcome.failures.append(
                f"the normal request afterwards got {after.status_code}: {after.text[:160]!r}"
            )
    stop.set()
    if sampler:
        await sampler
    return outcome


async def _one(client: httpx.AsyncClient, case: Case, outcome: Outcome) -> None:
    try:
        response = await _send(client, case)
        status, problem = response.status_code, judge(case, response)
    except httpx.TimeoutException:
        status, problem = (
            0,
            f"{case.family}: {case.method} {case.path} hung past the timeout: {case.body[:120]!r}",
        )
    except httpx.TransportError as exc:  # the server closed on us: acceptable only for a 413 it sent first
        status, problem = (
            -1,
            None if case.family == "huge string" else f"{case.family}: connection failed: {exc!r}",
        )
    outcome.sent += 1
    outcome.statuses[status] += 1
    outcome.by_family.setdefault(case.family, Counter())[status] += 1
    if problem:
        outcome.failures.append(problem)


def summary(outcome: Outcome) -> dict[str, object]:
    return {
        "sent": outcome.sent,
        "seconds": round(outcome.seconds, 1),
        "statuses": {str(k): v for k, v in sorted(outcome.statuses.items())},
        "by_family": {
            f: {str(k): v for k, v in sorted(c.items())} for f, c in sorted(outcome.by_family.items())
        },
        "failures": outcome.failures[:50],
        "failure_count": len(outcome.failures),
        "normal_request_after": outcome.after_ok,
        "start_rss_mb": None if outcome.start_rss_mb is None else round(outcome.start_rss_mb, 1),
        "peak_rss_mb": None if outcome.peak_rss_mb is None else round(outcome.peak_rss_mb, 1),
        "passed": outcome.passed,
    }


def dumps(outcome: Outcome) -> str:
    return json.dumps(summary(outcome), indent=2)
