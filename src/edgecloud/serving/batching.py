"""Continuous batching for decoders that can decode many sequences per forward pass (transformers).

One thread per model owns a `DecodeBatch`. Between two decode steps it
- drops sequences whose client went away (their slot is free for the very next step),
- admits waiting requests first come, first served while the batch has room (`max_batch` sequences)
  and the step's token budget allows (`max_batch_tokens`: decode tokens plus prompt tokens prefilled
  this step; a prompt larger than the whole budget still gets in when it is first in line, alone),
- runs one step and streams each sequence's delta to its own client; finished sequences leave at once.
Requests wait in a bounded queue: beyond the batch's free slots, `max_queue` requests may wait; more is
back-pressure (429), as with DecoderWorker."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

from edgecloud.errors import EdgecloudError, Overloaded, Unavailable
from edgecloud.runtimes.base import InferenceResult, Prepared, StepOutput
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.scheduler import _DONE, Job, post

log = logging.getLogger(__name__)


class DecodeBatch(Protocol):
    """What the scheduler needs from an engine's batch (runtimes/transformers_batch.py has one)."""

    def __len__(self) -> int: ...

    def add(self, prepared: Prepared) -> StepOutput: ...

    def step(self) -> list[StepOutput]: ...

    def remove(self, leaving: Iterable[Prepared]) -> None: ...


class BatchingRuntime(Protocol):
    """A runtime that can open a continuous batch, and turns steps into text deltas."""

    @property
    def can_batch(self) -> bool: ...

    def open_batch(self) -> DecodeBatch: ...

    def postprocess(self, raw: StepOutput) -> InferenceResult: ...


class ContinuousBatcher:
    """Drop-in for DecoderWorker (submit/depth/start/stop) that decodes up to `max_batch` requests
    together, admitting and releasing them between steps."""

    def __init__(
        self,
        model: str,
        runtime: BatchingRuntime,
        metrics: NodeMetrics,
        *,
        max_batch: int = 32,
        max_batch_tokens: int = 4096,
        max_queue: int = 16,
    ) -> None:
        self.model = model
        self._runtime = runtime
        self._metrics = metrics
        self.max_batch = max_batch
        self.max_batch_tokens = max_batch_tokens
        self.max_queue = max_queue
        self._waiting: deque[Job] = deque()
        self._running: dict[int, Job] = {}  # id(prepared) -> job, in admission order
        self._wake = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"batcher-{model}", daemon=True)
        self.admitted: deque[str] = deque(maxlen=1024)  # recent request ids in admission order

    @property
    def depth(self) -> int:
        """Requests waiting or running, as /health and the gateway's latency policy read it."""
        return len(self._waiting) + len(self._running)

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self) -> None:
        self._thread.start()

    def submit(self, prepared: Prepared) -> Job:
        job = Job(prepared, asyncio.get_running_loop())
        with self._wake:
            if self._stopping:
                raise Unavailable(f"model {self.model!r} is shutting down", retry_after=5)
            free_slots = max(0, self.max_batch - len(self._running))  # they are admitted next step
            if len(self._waiting) >= self.max_queue + free_slots:
                raise Overloaded(
                    f"model {self.model!r} is busy: its queue of {self.max_queue} is full; retry shortly",
                    retry_after=1.0,
                )
            self._waiting.append(job)
            self._wake.notify()
        self._publish_depth()
        return job

    def stop(self, timeout: float = 5.0) -> bool:
        """Finish what is queued and running, then end the thread; True when it has."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _publish_depth(self) -> None:
        self._metrics.queue_depth.labels(self.model).set(self.depth)

    def _run(self) -> None:
        batch = self._runtime.open_batch()
        while True:
            with self._wake:
                while not self._waiting and not self._running and not self._stopping:
                    self._wake.wait()
                if self._stopping and not self._waiting and not self._running:
                    return
            try:
                self._release_cancelled(batch)
                self._admit(batch)
                if self._running:
                    self._step(batch)
            except Exception:  # never leave clients waiting on a dead thread: fail them, start afresh
                log.exception("batcher %s: resetting the batch", self.model)
                self._fail(list(self._running.values()), Unavailable(f"model {self.model!r} failed; retry"))
                batch = self._runtime.open_batch()
            self._publish_depth()

    def _admit(self, batch: DecodeBatch) -> None:
        """First come, first served: the head of the queue goes in, or nobody behind it does."""
        budget = self.max_batch_tokens - len(self._running)  # each running sequence decodes one token
        prefilled = 0
        while len(self._running) < self.max_batch:
            with self._wake:
                if not self._waiting:
                    return
                head = self._waiting[0]
                size = len(head.prepared.tokens)
                if prefilled and size > budget:
                    return  # waits for the next step rather than letting later requests overtake it
                self._waiting.popleft()
                if head.cancelled.is_set():
                    head.put(_DONE)
                    continue
                self._running[id(head.prepared)] = head  # holds its slot from now on (see submit)
            budget -= size
            prefilled += 1
            self.admitted.append(head.prepared.request.request_id)
            self._start(batch, head)

    def _start(self, batch: DecodeBatch, job: Job) -> None:
        try:
            first = batch.add(job.prepared)
        except EdgecloudError as exc:
            self._fail([job], exc)
            return
        except Exception:
            log.exception("batcher %s failed to prefill %s", self.model, job.prepared.request.request_id)
            self._fail([job], Unavailable(f"model {self.model!r} failed while generating; see the node log"))
            return
        self._metrics.forward_passes.labels(self.model).inc()
        self._deliver(batch, [first])

    def _step(self, batch: DecodeBatch) -> None:
        self._metrics.forward_passes.labels(self.model).inc()
        self._metrics.batch_size.labels(self.model).observe(len(batch))
        try:
            outputs = batch.step()
        except Exception:
            log.exception("batcher %s failed on a step of %d sequences", self.model, len(batch))
            jobs = list(self._running.values())
            batch.remove(job.prepared for job in jobs)
            self._fail(jobs, Unavailable(f"model {self.model!r} failed while generating; see the node log"))
            return
        self._deliver(batch, outputs)

    def _deliver(self, batch: DecodeBatch, outputs: Sequence[StepOutput]) -> None:
        """Each output to its own client; sequences that finished (EOS, length, stop string) leave."""
        leaving: list[Prepared] = []
        mail: list[tuple[Job, object]] = []
        tokens = 0
        for output in outputs:
            job = self._running.get(id(output.prepared))
            if job is None:
                continue
            tokens += output.token_id is not None
            result = self._runtime.postprocess(output)
            mail.append((job, result))
            if result.finish_reason is not None:
                leaving.append(output.prepared)
        if tokens:
            self._metrics.generated.labels(self.model).inc(tokens)
        batch.remove(leaving)  # a stop string ends a sequence the engine still thinks is running
        post(mail + self._finished(leaving))  # one wake-up of the event loop per step

    def _release_cancelled(self, batch: DecodeBatch) -> None:
        """Clients that left: running ones give up their slot, waiting ones their place in the queue."""
        with self._wake:
            gone = [job for job in self._waiting if job.cancelled.is_set()]
            for job in gone:
                self._waiting.remove(job)
                job.put(_DONE)
        cancelled = [job.prepared for job in self._running.values() if job.cancelled.is_set()]
        if cancelled:
            batch.remove(cancelled)
            self._finish(cancelled)

    def _finish(self, leaving: Iterable[Prepared]) -> None:
        post(self._finished(leaving))

    def _finished(self, leaving: Iterable[Prepared]) -> list[tuple[Job, object]]:
        """The end-of-stream items of sequences that left, which no longer hold a slot."""
        jobs = [self._running.pop(id(prepared), None) for prepared in leaving]
        return [(job, _DONE) for job in jobs if job is not None]

    def _fail(self, jobs: Iterable[Job], error: EdgecloudError) -> None:
        for job in jobs:
            job.put(error)
            job.put(_DONE)
            self._running.pop(id(job.prepared), None)
