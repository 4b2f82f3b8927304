"""What the gateway reads from a client request: a light validation (the upstream validates the rest,
so fields a vLLM accepts are never refused here), the RequestView placement sees, and the payload each
tier receives (its concrete model, usage requested for accounting, logprobs for the cascade)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edgecloud.errors import InvalidRequest
from edgecloud.privacy.redact import Redactor
from edgecloud.serving.tasks import TEMPLATES
from edgecloud.strict_json import parse_json

TASK_ALIAS_PREFIX = "edgecloud-"
AUTO = "auto"


@dataclass(frozen=True)
class Inbound:
    kind: str  # chat | completion | embedding
    body: dict[str, Any]
    raw: bytes
    key_id: str = ""  # the API key's id, for the decision log (never the key)

    @property
    def model(self) -> str:
        return str(self.body["model"])

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.body.get("metadata")
        return meta if isinstance(meta, dict) else {}

    def text(self) -> str:
        if self.kind == "chat":
            return "\n".join(_message_text(m) for m in self.body.get("messages", []))
        key = "prompt" if self.kind == "completion" else "input"
        value = self.body.get(key, "")
        return "\n".join(str(v) for v in value) if isinstance(value, list) else str(value)

    def client_wants_usage(self) -> bool:
        options = self.body.get("stream_options")
        return isinstance(options, dict) and bool(options.get("include_usage"))

    def client_wants_logprobs(self) -> bool:
        return bool(self.body.get("logprobs"))


def _message_text(message: Any) -> str:
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


REQUIRED = {"chat": "messages", "completion": "prompt", "embedding": "input", "classification": "input"}


def parse_inbound(kind: str, raw: bytes) -> Inbound:
    body = parse_json(raw) if raw else None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("'model' is required and must be a string", param="model")
    field = REQUIRED[kind]
    value = body.get(field)
    if kind == "chat" and (not isinstance(value, list) or not value):
        raise InvalidRequest("'messages' must be a non-empty list", param="messages")
    if value is None or value == "" or value == []:
        raise InvalidRequest(f"'{field}' is required", param=field)
    if "stream" in body and not isinstance(body["stream"], bool):
        raise InvalidRequest("'stream' must be a boolean", param="stream")
    return Inbound(kind, body, raw)


def task_alias(model: str) -> str | None:
    """`edgecloud-mining` -> "mining": a model name that names a task and means `auto`."""
    return model[len(TASK_ALIAS_PREFIX) :] if model.startswith(TASK_ALIAS_PREFIX) else None


def estimate_tokens(text: str) -> int:
    """~4 characters a token for English BPE vocabularies; placement only needs the order of magnitude."""
    return len(text) // 4 + 1


GATEWAY_KEYS = ("tier", "privacy")  # metadata that steers placement and means nothing to a model


def framing_metadata(metadata: Any) -> dict[str, Any] | None:
    """The metadata a node needs to frame the request (a task with a prompt template, e.g. translate and
    its source/target): without it the tier answers a different question. Placement-only metadata
    (mining, tier, privacy) stays in the gateway, so a plain OpenAI-compatible upstream never sees it."""
    if not isinstance(metadata, dict) or metadata.get("task") not in TEMPLATES:
        return None
    return {k: v for k, v in metadata.items() if k not in GATEWAY_KEYS}


def tier_payload(inbound: Inbound, model: str, *, want_usage: bool, want_logprobs: bool) -> bytes:
    """The body one tier receives. Unchanged bytes when nothing needs rewriting (the fast path)."""
    body = inbound.body
    needs_usage = want_usage and inbound.stream and not inbound.client_wants_usage()
    needs_logprobs = want_logprobs and not inbound.client_wants_logprobs()
    if model == body["model"] and "metadata" not in body and not needs_usage and not needs_logprobs:
        return inbound.raw
    rewritten = {k: v for k, v in body.items() if k != "metadata"}
    framing = framing_metadata(body.get("metadata"))
    if framing:
        rewritten["metadata"] = framing
    rewritten["model"] = model
    if needs_usage:
        rewritten["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    if needs_logprobs:
        rewritten["logprobs"] = True
    return json.dumps(rewritten, separators=(",", ":")).encode()


def redacted(inbound: Inbound, redactor: Redactor) -> Inbound:
    """The same request with every PII entity in its text replaced by a placeholder."""
    body = dict(inbound.body)
    if inbound.kind == "chat":
        body["messages"] = [_redact_message(m, redactor) for m in body.get("messages", [])]
    else:
        key = "prompt" if inbound.kind == "completion" else "input"
        value = body.get(key)
        body[key] = (
            [redactor.redact(str(v)) for v in value]
            if isinstance(value, list)
            else redactor.redact(str(value))
        )
    raw = json.dumps(body, separators=(",", ":")).encode()
    return Inbound(inbound.kind, body, raw, inbound.key_id)


def _redact_message(message: Any, redactor: Redactor) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": redactor.redact(content)}
    if isinstance(content, list):
        parts = [
            {**p, "text": redactor.redact(str(p.get("text", "")))} if isinstance(p, dict) else p
            for p in content
        ]
        return {**message, "content": parts}
    return message
