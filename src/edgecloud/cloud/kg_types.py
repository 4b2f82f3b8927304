"""What the knowledge graph is made of: mentions, triples, the two labels that are not spaCy's, and how a
name is cleaned. Shared by the spaCy extractor (kg.py) and the LLM refiner (kg_llm.py), which each
build them, so neither has to import the other for its vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

CONCEPT = "CONCEPT"  # a plain noun phrase in a triple with at least one named entity
UNTYPED = "ENTITY"  # a proper noun spaCy's NER missed ("Turing described ...")


@dataclass(frozen=True)
class Mention:
    name: str
    label: str


@dataclass(frozen=True)
class Triple:
    subject: str
    subject_label: str
    relation: str
    object: str
    object_label: str
    sentence: str
    method: str = "spacy"  # or "llm" (kg_llm.py)


def clean_name(text: str) -> str:
    """'the University of Paris' -> 'University of Paris'; "Turing's" -> 'Turing'; spaces collapsed."""
    words = text.replace("\n", " ").split()
    if words and words[0].lower() == "the":
        words = words[1:]
    name = " ".join(words)
    return name[:-2] if name.endswith(("'s", "’s")) else name
