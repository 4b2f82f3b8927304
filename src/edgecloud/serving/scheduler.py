"""Where requests wait and how they reach an engine without blocking the event loop.

- DecoderWorker: engines that are not thread-safe (llama.cpp) get one thread and a bounded queue; a full
  queue is back-pressure (429), and a cancelled job stops at the next token.
- EncoderBatcher: encoders batch dynamically (max batch, max wait), one forward pass per batch."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from edgecloud.errors import EdgecloudError, Overloaded, Unavailable
from edgecloud.runtimes.base import InferenceResult, Prepared, Runtime
from edgecloud.serving.metrics import NodeMetrics

log = logging.getLogger(__name__)
_DONE = object()


class Job:
    """One decoder request; results cross from the worker thread to the event loop via a queue."""

    def __init__(self, prepared: Prepared, loop: asyncio.AbstractEventLoop) -> None:
        self.prepared = prepared
        self.cancelled = threading.Event()
        self._loop = loop
        self._events: asyncio.Queue[object] = asyncio.Queue()

    def put(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, item)
        except RuntimeError:  # the loop is gone (shutdown): nobody is listening any more
            self.cancelled.set()

    def cancel(self) -> None:
        self.cancelled.set()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def receive(self, item: object) -> None:
        """On the job's own event loop: queue one item for results()."""
        self._events.put_nowait(item)

    async def results(self) -> AsyncIterator[InferenceResult]:
        while True:
            item = await self._events.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, InferenceResult)
            yield item


def post(mail: list[tuple[Job, object]]) -> None:
    """Many jobs' items with one wake-up of each event loop instead of one per item: a batch step
    answers hundreds of sequences, and each cross-thread call is a write to the loop's self-pipe that
    the loop thread must wake for (and take the GIL from the engine thread for)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Job, object]]] = {}
    for job, item in mail:
        by_loop.setdefault(job.loop, []).append((job, item))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_put_all, items)
        except RuntimeError:  # the loop is gone (shutdown): nobody is listening any more
            for job, _ in items:
                job.cancelled.set()


def _put_all(items: list[tuple[Job, object]]) -> None:
    for job, item in items:
        job.receive(item)


class Call:
    """Work other than a generation that must run on the engine's own thread (a verify round)."""

    def __init__(self, fn: Callable[[], Any], loop: asyncio.AbstractEventLoop) -> None:
        self.fn = fn
        self.future: asyncio.Future[Any] = loop.create_future()
        self._loop = loop

    def run(self) -> None:
        try:
            result, error = self.fn(), None
        except BaseException as exc:  # handed to the awaiting coroutine
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody awaits any more
            self._loop.call_soon_threadsafe(_resolve, self.future, result, error)


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class DecoderWorker:
    """One thread per model drives runtime.infer/postprocess for one request at a time."""

    def __init__(self, model: str, runtime: Runtime, metrics: NodeMetrics, *, max_queue: int = 16) -> None:
        self.model = model
        self._runtime = runtime
        self._metrics = metrics
        self._queue: queue.Queue[Job | Call | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._depth = 0
        self._thread = threading.Thread(target=self._run, name=f"decoder-{model}", daemon=True)

    @property
    def depth(self) -> int:
        return self._depth

    def start(self) -> None:
        self._thread.start()

    def submit(self, prepared: Prepared) -> Job:
        job = Job(prepared, asyncio.get_running_loop())
        self._enqueue(job)
        return job

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Runs fn on this engine's thread between generations, behind the same bounded queue."""
        call = Call(fn, asyncio.get_running_loop())
        self._enqueue(call)
        return await call.future

    def _enqueue(self, item: Job | Call) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            raise Overloaded(
                f"model {self.model!r} is busy: its queue of {self._queue.maxsize} is full; retry shortly",
                retry_after=1.0,
            ) from None
        self._add_depth(1)

    def stop(self, timeout: float = 5.0) -> bool:
        """Asks the thread to finish after its current job; True when it has."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning("decoder %s: queue still full at shutdown", self.model)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _add_depth(self, delta: int) -> None:
        with self._lock:
            self._depth += delta
            self._metrics.queue_depth.labels(self.model).set(self._depth)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            if isinstance(job, Call):
                job.run()
                self._add_depth(-1)
                continue
            try:
                if not job.cancelled.is_set():
                    self._generate(job)
            except EdgecloudError as exc:
                job.put(exc)
            except Exception:
                log.exception("decoder %s failed on %s", self.model, job.prepared.request.request_id)
                job.put(Unavailable(f"model {self.model!r} failed while generating; see the node log"))
            finally:
                job.put(_DONE)
                self._add_depth(-1)

    def _generate(self, job: Job) -> None:
        steps = self._runtime.infer([job.prepared])
        generated = self._metrics.generated.labels(self.model)
        try:
            for step in steps:
                if step.token_id is not None:
                    generated.inc()
                result = self._runtime.postprocess(step)
                job.put(result)
                if result.finish_reason is not None or job.cancelled.is_set():
                    break
        finally:
            steps.close()  # type: ignore[attr-defined]


class EncoderBatcher:
    """Collects concurrent embedding requests into one forward pass (max batch texts, max wait)."""

    def __init__(
        self,
        model: str,
        runtime: Runtime,
        metrics: NodeMetrics,
        *,
        max_batch: int = 32,
        max_wait: float = 0.005,
        max_queue: int = 1024,
    ) -> None:
        self.model = model
        self._runtime = runtime
        self._metrics = metrics
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._max_queue = max_queue
        self._pending: list[tuple[Prepared, asyncio.Future[InferenceResult]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"encoder-{model}")

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def embed(self, prepared: Prepared) -> InferenceResult:
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._loop())
        if len(self._pending) >= self._max_queue:
            raise Overloaded(f"model {self.model!r} has {self._max_queue} requests waiting", retry_after=1)
        future: asyncio.Future[InferenceResult] = asyncio.get_running_loop().create_future()
        self._pending.append((prepared, future))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        assert self._wakeup is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            if self._texts_waiting() < self._max_batch:
                await asyncio.sleep(self._max_wait)  # let concurrent requests join this batch
            batch = self._take_batch()
            if not self._pending:
                self._wakeup.clear()
            if batch:
                await loop.run_in_executor(self._executor, self._forward, batch, loop)

    def _texts_waiting(self) -> int:
        return sum(len(prepared.request.inputs) for prepared, _ in self._pending)

    def _take_batch(self) -> list[tuple[Prepared, asyncio.Future[InferenceResult]]]:
        batch: list[tuple[Prepared, asyncio.Future[InferenceResult]]] = []
        texts = 0
        while self._pending:
            prepared, future = self._pending[0]
            size = len(prepared.request.inputs)
            if batch and texts + size > self._max_batch:
                break
            self._pending.pop(0)
            if not future.done():  # a client that went away is dropped before the forward pass
                batch.append((prepared, future))
                texts += size
        return batch

    def _forward(
        self, batch: list[tuple[Prepared, asyncio.Future[InferenceResult]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        self._metrics.forward_passes.labels(self.model).inc()
        self._metrics.batch_size.labels(self.model).observe(len(batch))
        try:
            outputs = list(self._runtime.infer([prepared for prepared, _ in batch]))
            results = [self._runtime.postprocess(step) for step in outputs]
        except Exception as exc:
            log.exception("encoder %s failed", self.model)
            error = exc if isinstance(exc, EdgecloudError) else Unavailable(f"model {self.model!r} failed")
            for _, future in batch:
                loop.call_soon_threadsafe(_settle, future, None, error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(
    future: asyncio.Future[InferenceResult], result: InferenceResult | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)
