"""GET /openapi.json: the OpenAPI 3.1 contract of a node or a gateway.

Request bodies are the pydantic models that validate them (serving/protocol.py, audio_format.py), so the
document cannot drift from what the server accepts; responses are described by the small models below,
each naming the fields a client can rely on (more may appear: OpenAI clients ignore unknown fields).
Every error status carries OpenAI's error shape. Schemathesis reads this document to fuzz both servers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from edgecloud.serving.audio_format import DialogueForm, TranscriptionForm
from edgecloud.serving.protocol import (
    ChatCompletionRequest,
    ClassifyRequest,
    CompletionRequest,
    ControlBody,
    EmbeddingRequest,
    VerifyBody,
)

REF = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "invalid request (malformed JSON, wrong types, context exceeded)",
    401: "missing or unknown API key",
    403: "the key may not do this, or the prompt carries PII this gateway blocks",
    404: "unknown model or route",
    405: "method not allowed on this route",
    413: "body over the size limit",
    429: "queue full; retry after Retry-After",
    503: "loading, shutting down, or no tier could answer; retry after Retry-After",
}


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail


class Usage(_Open):
    prompt_tokens: int
    total_tokens: int


class ChatMessageOut(_Open):
    role: str
    content: str | None


class ChatChoice(_Open):
    index: int
    message: ChatMessageOut
    finish_reason: str | None


class ChatCompletion(_Open):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[ChatChoice]


class CompletionChoice(_Open):
    index: int
    text: str
    finish_reason: str | None


class Completion(_Open):
    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    choices: list[CompletionChoice]


class Embedding(_Open):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class EmbeddingList(_Open):
    object: Literal["list"]
    data: list[Embedding]
    model: str


class Label(_Open):
    index: int
    label: str
    score: float


class Classification(_Open):
    object: Literal["list"]
    model: str
    data: list[Label]


class ModelCard(_Open):
    id: str
    object: Literal["model"]


class ModelList(_Open):
    object: Literal["list"]
    data: list[ModelCard]


class Health(_Open):
    status: str


class Verification(_Open):
    accepted: int


class Transcription(_Open):
    text: str


class Snapshot(_Open):
    time: float
    tiers: dict[str, Any]
    decisions: list[dict[str, Any]]


class ControlEvent(_Open):
    event: Literal["control"]
    who: str
    action: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    ok: type[BaseModel] | None  # None: a text body (metrics, subtitles)
    body: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart/form-data with a file field
    ok_types: tuple[str, ...] = ("application/json",)
    errors: tuple[int, ...] = (400, 401, 404, 405, 413, 429, 503)
    tags: tuple[str, ...] = field(default=())


GENERATION_TYPES = ("application/json", "text/event-stream")
NODE_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "post",
        "/v1/chat/completions",
        "Chat completion",
        ChatCompletion,
        ChatCompletionRequest,
        ok_types=GENERATION_TYPES,
    ),
    Operation(
        "post", "/v1/completions", "Text completion", Completion, CompletionRequest, ok_types=GENERATION_TYPES
    ),
    Operation("post", "/v1/embeddings", "Embeddings", EmbeddingList, EmbeddingRequest),
    Operation(
        "post", "/v1/classify", "Text classification (e.g. sentiment)", Classification, ClassifyRequest
    ),
    Operation(
        "post", "/v1/speculative/verify", "One verify round of speculative decoding", Verification, VerifyBody
    ),
    Operation(
        "post",
        "/v1/audio/transcriptions",
        "Speech to text",
        Transcription,
        form=TranscriptionForm,
        ok_types=("application/json", "text/plain", "text/vtt"),
    ),
    Operation(
        "post",
        "/v1/audio/dialogue",
        "Speech in, the chat model's answer out (SSE)",
        None,
        form=DialogueForm,
        ok_types=("text/event-stream",),
    ),
    Operation("get", "/v1/models", "Models served", ModelList, errors=(401, 405)),
    Operation("get", "/health", "Readiness and queue depths", Health, errors=(405, 503)),
    Operation("get", "/metrics", "Prometheus metrics", None, ok_types=("text/plain",), errors=(405,)),
)
GATEWAY_PATHS = (
    "/v1/audio/transcriptions",
    "/v1/audio/dialogue",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/classify",
    "/v1/models",
    "/health",
    "/metrics",
)


DASHBOARD_OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "get", "/dashboard", "The operator dashboard (a login page when keys are required)", None,
        ok_types=("text/html",), errors=(403, 405),
    ),
    Operation("get", "/dashboard/snapshot", "The dashboard's figures now", Snapshot, errors=(401, 403, 405)),
    Operation(
        "get", "/dashboard/events", "The dashboard's live feed: a snapshot a second", None,
        ok_types=("text/event-stream",), errors=(401, 403, 405),
    ),
    Operation(
        "post", "/dashboard/control", "Take a tier offline or back, or move a threshold", ControlEvent,
        ControlBody, errors=(400, 401, 403, 405, 413),
    ),
)  # fmt: skip


def gateway_operations() -> tuple[Operation, ...]:
    """The gateway's routes take the node's bodies (with `model: auto` besides the served names) and
    can also answer 403 (a key's scope, PII blocked); the dashboard's page, feeds and controls follow."""
    chosen = [op for op in NODE_OPERATIONS if op.path in GATEWAY_PATHS]
    api = tuple(
        replace(op, errors=tuple(sorted({*op.errors, 403}))) if op.body or op.form else op for op in chosen
    )
    return api + DASHBOARD_OPERATIONS


def document(
    title: str, version: str, operations: Sequence[Operation], models: Sequence[str] = ()
) -> dict[str, Any]:
    """`models`: names this server answers to, given as examples of every `model` field (a fuzzer then
    reaches the models, not only the 404 for an unknown name); the field stays any string."""
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schemas)
    _component(ErrorBody, schemas)
    for schema in schemas.values():
        model = schema.get("properties", {}).get("model")
        if models and isinstance(model, dict) and model.get("type") == "string":
            model["examples"] = list(models)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _component(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF)
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    ok_schema = _component(op.ok, schemas) if op.ok is not None else {"type": "string"}
    content = {kind: {"schema": _schema_for(kind, ok_schema)} for kind in op.ok_types}
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    error = {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}
    for status in op.errors:
        responses[str(status)] = {"description": ERROR_TEXT[status], "content": error}
    spec: dict[str, Any] = {"summary": op.summary, "operationId": _operation_id(op), "responses": responses}
    if op.body is not None:
        spec["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _component(op.body, schemas)}},
        }
    elif op.form is not None:
        form = op.form.model_json_schema(ref_template=REF)
        form["properties"]["file"] = {"type": "string", "format": "binary"}
        form["required"] = sorted({*form.get("required", []), "file"})
        spec["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": form}}}
    return spec


SSE_EVENT = {  # OpenAPI 3.1 reads the schema of text/event-stream as the schema of each event
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {"type": "string", "description": "a JSON chunk (or error), or [DONE] at the end"},
        "event": {"type": "string"},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def _schema_for(media_type: str, json_schema: dict[str, Any]) -> dict[str, Any]:
    if media_type == "application/json":
        return json_schema
    return SSE_EVENT if media_type == "text/event-stream" else {"type": "string"}


def _operation_id(op: Operation) -> str:
    return op.method + op.path.replace("/v1/", "_").replace("/", "_").replace(".", "_")


def node_document(models: Sequence[str]) -> dict[str, Any]:
    from edgecloud import __version__

    return document("edgecloud node", __version__, NODE_OPERATIONS, models)


def gateway_document() -> dict[str, Any]:
    from edgecloud import __version__

    return document("edgecloud gateway", __version__, gateway_operations(), ["auto"])


def openapi_route(doc: dict[str, Any]) -> Callable[[Request], Awaitable[Response]]:
    """The handler: the document is built once, when the app is."""
    body = JSONResponse(doc).body

    async def serve(request: Request) -> Response:
        return Response(body, media_type="application/json")

    return serve
