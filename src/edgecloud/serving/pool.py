"""The models a node serves: loaded in the background (so /health can say "loading"), each with the
scheduler that suits its engine: a decoder worker thread or an encoder batcher."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from edgecloud.catalogue import Catalogue, LocalPath, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.errors import ModelNotFound, Unavailable
from edgecloud.runtimes import create_runtime
from edgecloud.runtimes.base import Runtime
from edgecloud.runtimes.device import CPU, Device
from edgecloud.serving.batching import ContinuousBatcher
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.scheduler import DecoderWorker, EncoderBatcher

log = logging.getLogger(__name__)
LoadEvent = Callable[[str, str, float], None]  # (model, phase, seconds)


@dataclass
class ModelHandle:
    name: str
    spec: ModelSpec
    runtime: Runtime
    created: int
    worker: DecoderWorker | ContinuousBatcher | None = None
    batcher: EncoderBatcher | None = None

    @property
    def depth(self) -> int:
        if self.worker is not None:
            return self.worker.depth
        return self.batcher.depth if self.batcher is not None else 0


class ModelPool:
    def __init__(
        self,
        catalogue: Catalogue,
        specs: list[ModelSpec],
        settings: NodeSettings,
        metrics: NodeMetrics,
        on_event: LoadEvent | None = None,
        device: Device = CPU,
    ) -> None:
        self._catalogue = catalogue
        self.device = device
        self._specs = {spec.name: spec for spec in specs}
        self._settings = settings
        self._metrics = metrics
        self._on_event = on_event or (lambda model, phase, seconds: None)
        self._handles: dict[str, ModelHandle] = {}
        self.errors: dict[str, str] = {}
        self.loaded = threading.Event()

    @property
    def names(self) -> list[str]:
        return list(self._specs)

    @property
    def ready(self) -> bool:
        return self.loaded.is_set() and not self.errors

    def handles(self) -> list[ModelHandle]:
        return list(self._handles.values())

    def get(self, name: str) -> ModelHandle:
        if name not in self._specs:
            raise ModelNotFound(
                f"The model '{name}' does not exist on this node (serving: {', '.join(self._specs)})",
                param="model",
            )
        if name in self.errors:
            raise Unavailable(f"model {name!r} failed to load: {self.errors[name]}", retry_after=30)
        handle = self._handles.get(name)
        if handle is None:
            raise Unavailable(f"model {name!r} is still loading", retry_after=2, code="model_loading")
        return handle

    def load_all(self) -> None:
        """Blocking; run it in a thread. Failures are recorded per model and shown by /health."""
        try:
            for spec in self._specs.values():
                try:
                    self._load(spec)
                except Exception as exc:
                    log.exception("loading %s failed", spec.name)
                    self.errors[spec.name] = str(exc)
        finally:
            self.loaded.set()

    def _load(self, spec: ModelSpec) -> None:
        started = time.perf_counter()
        self._on_event(spec.name, "materialize", 0.0)
        speculative = self._drafts_for(spec)
        if spec.runtime != "remote" and not (speculative and self._settings.verify_url):
            path = self._catalogue.materialize(spec)
            spec = replace(spec, source=LocalPath(path))
        self._on_event(spec.name, "load", time.perf_counter() - started)
        runtime = self._speculative_runtime() if speculative else self._runtime(spec)
        runtime.load(spec)
        handle = ModelHandle(spec.name, spec, runtime, created=int(time.time()))
        if spec.kind in ("embedding", "classification"):  # encoders: batched dynamically
            handle.batcher = EncoderBatcher(
                spec.name,
                runtime,
                self._metrics,
                max_batch=self._settings.embed_max_batch,
                max_wait=self._settings.embed_max_wait_ms / 1000,
            )
        else:
            handle.worker = self._decoder_scheduler(spec.name, runtime)
            handle.worker.start()
        seconds = time.perf_counter() - started
        self._metrics.load_seconds.labels(spec.name).set(seconds)
        self._handles[spec.name] = handle
        self._on_event(spec.name, "ready", seconds)

    def _drafts_for(self, spec: ModelSpec) -> bool:
        """--draft-model speeds up every llama.cpp decoder the node serves, except the draft itself."""
        draft = self._settings.draft_model
        return (
            bool(draft)
            and spec.runtime == "llamacpp"
            and spec.kind in ("chat", "completion")
            and (
                spec.name != self._catalogue.resolve(draft).name  # type: ignore[arg-type]
            )
        )

    def _runtime(self, spec: ModelSpec) -> Runtime:
        settings = self._settings
        return create_runtime(
            spec,
            threads=settings.threads,
            n_ctx=settings.n_ctx,
            verify_sessions=settings.verify_sessions,
            verify_ttl=settings.verify_ttl,
            device=self.device,
            n_gpu_layers=settings.n_gpu_layers,
        )

    def _speculative_runtime(self) -> Runtime:
        from edgecloud.runtimes.speculative.runtime import SpeculativeRuntime

        settings = self._settings
        assert settings.draft_model is not None
        draft = self._catalogue.resolve(settings.draft_model)
        draft = replace(draft, source=LocalPath(self._catalogue.materialize(draft)))
        return SpeculativeRuntime(
            draft,
            n_threads=settings.threads,
            n_ctx=settings.n_ctx,
            verify_url=settings.verify_url,
            verify_key=settings.verify_key,
            fallback=settings.speculative_fallback,
            k=settings.draft_k,
        )

    def _decoder_scheduler(self, name: str, runtime: Runtime) -> DecoderWorker | ContinuousBatcher:
        """Engines that decode many sequences per step (transformers) batch continuously; the others
        (llama.cpp) get one worker thread that runs one request at a time."""
        settings = self._settings
        defaults = self.device.batch_defaults
        max_batch = settings.max_batch or defaults.max_batch
        if getattr(runtime, "can_batch", False) and max_batch > 1:
            return ContinuousBatcher(
                name,
                runtime,  # type: ignore[arg-type]
                self._metrics,
                max_batch=max_batch,
                max_batch_tokens=settings.max_batch_tokens or defaults.max_batch_tokens,
                max_queue=settings.max_queue,
            )
        return DecoderWorker(name, runtime, self._metrics, max_queue=settings.max_queue)

    async def close(self, timeout: float = 5.0) -> None:
        for handle in self._handles.values():
            idle = True
            if handle.worker is not None:
                idle = handle.worker.stop(timeout)
            if handle.batcher is not None:
                await handle.batcher.stop()
            if idle:  # never free an engine that a thread is still using
                handle.runtime.close()
