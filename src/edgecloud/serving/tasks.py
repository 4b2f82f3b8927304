"""Task profiles: `metadata.task` on a chat request selects a prompt template (translate, summarize,
generate, dialogue) that frames the user's last message, so clients send plain text and every tier
asks its model the same way. A model may carry its own wording in its catalogue options
(`task.<name>`); tasks without a template (mining, batch ...) only steer placement in the gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from string import Formatter
from typing import Any

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.base import ChatMessage, InferenceRequest

# Small models follow an instruction in the user turn far better than one in the system prompt.
TEMPLATES: Mapping[str, str] = {
    "translate": "Translate this {source} text into {target}. Reply with the {target} translation only."
    "\n\n{text}",
    "summarize": "Summarize the following text in at most {sentences} sentences. Reply with the summary "
    "only.\n\n{text}",
    "generate": "{text}",
    "dialogue": "You are a voice assistant. Answer in one or two short, spoken-style sentences.\n\n{text}",
}
DEFAULTS: Mapping[str, str] = {"source": "English", "sentences": "3"}


def apply_task(
    request: InferenceRequest, metadata: Mapping[str, Any] | None, spec: ModelSpec
) -> InferenceRequest:
    """The request with its last user message framed by the task's template; unchanged without one."""
    task = (metadata or {}).get("task")
    if not isinstance(task, str) or request.kind != "chat":
        return request
    template = spec.options.get(f"task.{task}") or TEMPLATES.get(task)
    if template is None:
        return request
    last = max((i for i, m in enumerate(request.messages) if m.role == "user"), default=None)
    if last is None:
        raise InvalidRequest(f"task {task!r} needs a user message to work on", param="messages")
    fields = _fields(template, task, metadata or {})
    text = template.format(text=request.messages[last].content, **fields)
    messages = list(request.messages)
    messages[last] = ChatMessage("user", text)
    return replace(request, messages=tuple(messages))


def _fields(template: str, task: str, metadata: Mapping[str, Any]) -> dict[str, str]:
    names = {name for _, name, _, _ in Formatter().parse(template) if name and name != "text"}
    values: dict[str, str] = {}
    for name in sorted(names):
        value = metadata.get(name, DEFAULTS.get(name))
        if value is None or not str(value).strip():
            raise InvalidRequest(
                f'task {task!r} needs metadata.{name} (e.g. {{"task": "{task}", "{name}": "French"}})',
                param=f"metadata.{name}",
            )
        values[name] = str(value).strip()[:64]
    return values
