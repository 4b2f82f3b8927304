"""The node's app factory: builds the model pool, metrics and routes, and nothing global."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from edgecloud.catalogue import Catalogue, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.device import CPU, Device, resolve_device
from edgecloud.security.auth import ApiKeyMiddleware
from edgecloud.security.keys import KeyStore
from edgecloud.serving.context import NodeContext
from edgecloud.serving.drain import DrainMiddleware, OpenResponses
from edgecloud.serving.errors import EXCEPTION_HANDLERS
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.openapi import node_document, openapi_route
from edgecloud.serving.pool import LoadEvent, ModelPool
from edgecloud.serving.routes.audio import dialogue, transcriptions
from edgecloud.serving.routes.classify import classify
from edgecloud.serving.routes.completions import chat_completions, completions
from edgecloud.serving.routes.embeddings import embeddings
from edgecloud.serving.routes.speculative import verify
from edgecloud.serving.routes.system import health, list_models, metrics


def resolve_specs(catalogue: Catalogue, models: Sequence[str], runtime: str | None = None) -> list[ModelSpec]:
    """Catalogue names or paths; `runtime` forces an engine (e.g. transformers for a GGUF file)."""
    specs = [catalogue.resolve(model) for model in models]
    if runtime:
        specs = [
            replace(spec, runtime=runtime)  # type: ignore[arg-type]
            if spec.kind not in ("embedding", "transcription", "classification")
            else spec
            for spec in specs
        ]
    return specs


def node_device(settings: NodeSettings, specs: Sequence[ModelSpec]) -> Device:
    """The device the node's engines use. `auto` looks for a GPU (importing torch) only when an engine
    could use one: a transformers model, or llama.cpp built with a GPU backend; `cuda` always checks, so
    a node asked for a GPU it does not have refuses to start."""
    if settings.device == "auto" and not any(_could_use_gpu(spec) for spec in specs):
        return CPU
    return resolve_device(settings.device, settings.precision)


def _could_use_gpu(spec: ModelSpec) -> bool:
    if spec.runtime == "transformers":
        return True
    if spec.runtime == "llamacpp":
        from edgecloud.runtimes.llamacpp import gpu_offload_supported

        return gpu_offload_supported()
    return False


def build_context(
    models: Sequence[str],
    settings: NodeSettings,
    *,
    runtime: str | None = None,
    on_event: LoadEvent | None = None,
) -> NodeContext:
    catalogue = Catalogue(settings.cache_dir)
    metrics = NodeMetrics()
    specs = resolve_specs(catalogue, models, runtime)
    if settings.draft_model:
        check_draft(catalogue, specs, settings)
    pool = ModelPool(catalogue, specs, settings, metrics, on_event, device=node_device(settings, specs))
    return NodeContext(settings=settings, pool=pool, metrics=metrics)


def check_draft(catalogue: Catalogue, specs: Sequence[ModelSpec], settings: NodeSettings) -> None:
    """A draft that cannot draft for a served model is refused before the node starts (one node: the
    vocabularies are compared here; across a link the cloud compares them on every round)."""
    from edgecloud.runtimes.speculative.vocab import check_same, vocabulary_of_file

    assert settings.draft_model is not None
    draft = catalogue.resolve(settings.draft_model)
    if draft.runtime != "llamacpp" or draft.kind not in ("chat", "completion"):
        raise InvalidRequest(
            f"draft model {draft.name!r} is not a llama.cpp decoder; speculative decoding drafts with GGUF",
            param="draft_model",
        )
    targets = [
        s for s in specs if s.runtime == "llamacpp" and s.kind in ("chat", "completion") and s != draft
    ]
    if not targets:
        raise InvalidRequest("--draft-model needs a llama.cpp chat model to draft for", param="draft_model")
    if settings.verify_url:
        return
    draft_vocabulary = vocabulary_of_file(catalogue.materialize(draft), draft.name)
    for target in targets:
        check_same(vocabulary_of_file(catalogue.materialize(target), target.name), draft_vocabulary)


def create_app(ctx: NodeContext, keys: KeyStore | None = None) -> Starlette:
    """Models load in a background thread so the server answers /health (503 "loading") at once."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loader = threading.Thread(target=ctx.pool.load_all, name="model-loader", daemon=True)
        loader.start()
        yield
        loader.join(timeout=ctx.settings.shutdown_timeout)
        await ctx.pool.close()

    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/completions", completions, methods=["POST"]),
        Route("/v1/embeddings", embeddings, methods=["POST"]),
        Route("/v1/classify", classify, methods=["POST"]),
        Route("/v1/speculative/verify", verify, methods=["POST"]),
        Route("/v1/audio/transcriptions", transcriptions, methods=["POST"]),
        Route("/v1/audio/dialogue", dialogue, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_route(node_document(ctx.pool.names)), methods=["GET"]),
    ]
    responses = OpenResponses()  # the server ends what is still open at its drain deadline
    middleware = [Middleware(DrainMiddleware, responses=responses)]
    if keys is not None:
        middleware.append(Middleware(ApiKeyMiddleware, store=keys))
    app = Starlette(
        routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan, middleware=middleware
    )
    app.state.open_responses = responses
    app.state.ctx = ctx
    return app
