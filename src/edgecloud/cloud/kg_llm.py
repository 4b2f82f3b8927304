"""Optional LLM refinement of the knowledge graph: a chat model in llama.cpp reads a few sentences at a
time and answers with triples, constrained to a JSON schema (llama.cpp turns it into a GBNF grammar,
so the answer always parses). A triple is kept only if both its ends occur in the text (no invented
entities); its relation is lemmatised like spaCy's ("studied at" -> "study_at").

SmolLM2-135M answers this task with nonsense; qwen2.5-coder-0.5b-instruct gives usable triples."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from edgecloud.cloud.kg_types import CONCEPT, UNTYPED, Mention, Triple, clean_name

SCHEMA = {
    "type": "object",
    "properties": {
        "triples": {
            "type": "array",
            "maxItems": 8,
            "items": {
                "type": "object",
                "properties": {
                    "subject": {"type": "string"},
                    "relation": {"type": "string"},
                    "object": {"type": "string"},
                },
                "required": ["subject", "relation", "object"],
            },
        }
    },
    "required": ["triples"],
}
SYSTEM = (
    "You extract facts from a text as subject-relation-object triples. Subjects and objects are short "
    "names copied from the text. Answer in JSON."
)
Lemmatise = Callable[[str], str]  # '' for a phrase that is no relation
PRONOUNS = frozenset({"he", "she", "it", "they", "his", "her", "its", "their", "i", "we", "you"})


class LlmRefiner:
    """One llama.cpp model per Ray worker (one thread, like every other stage)."""

    def __init__(self, model: str, *, threads: int = 1, max_tokens: int = 320) -> None:
        from llama_cpp import Llama, LlamaGrammar

        from edgecloud.catalogue import Catalogue
        from edgecloud.config import NodeSettings

        catalogue = Catalogue(NodeSettings().cache_dir)
        path = catalogue.materialize(catalogue.resolve(model))
        self._llm = Llama(
            model_path=str(path), n_threads=threads, n_threads_batch=threads, n_ctx=2048, verbose=False
        )
        self._grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
        self._max_tokens = max_tokens

    def triples(self, text: str) -> list[dict[str, str]]:
        answer = self._llm.create_chat_completion(
            messages=[
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Text: {text}\nTriples:"},
            ],
            grammar=self._grammar,
            max_tokens=self._max_tokens,
            temperature=0,
        )
        content: Any = answer["choices"][0]["message"]["content"]
        try:
            found = json.loads(content or "{}").get("triples", [])
        except json.JSONDecodeError:  # cut off at max_tokens
            return []
        return [t for t in found if isinstance(t, dict)]


def grounded(
    raw: Sequence[dict[str, str]], text: str, mentions: Sequence[Mention], lemmatise: Lemmatise, sentence: str
) -> list[Triple]:
    """The model's triples whose subject and object both occur in the text, labelled from spaCy's
    mentions where the names match (else ENTITY for capitalised names, CONCEPT otherwise)."""
    lowered = text.lower()
    labels = {m.name.lower(): m.label for m in mentions}
    kept: list[Triple] = []
    for item in raw:
        subject, obj = clean_name(str(item.get("subject", ""))), clean_name(str(item.get("object", "")))
        relation = lemmatise(str(item.get("relation", "")))
        if not (subject and obj and relation) or subject.lower() == obj.lower():
            continue
        if subject.lower() not in lowered or obj.lower() not in lowered or subject.lower() in PRONOUNS:
            continue
        kept.append(
            Triple(subject, _label(subject, labels), relation, obj, _label(obj, labels), sentence, "llm")
        )
    return kept


def _label(name: str, labels: dict[str, str]) -> str:
    if name.lower() in labels:
        return labels[name.lower()]
    return UNTYPED if name[:1].isupper() else CONCEPT
