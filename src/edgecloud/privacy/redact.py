"""Reversible redaction: each PII entity becomes a typed placeholder (<EMAIL_ADDRESS_1>) before a
prompt leaves the edge, and the originals are put back in the answer, also when an answer streams
in pieces and a placeholder is split across them."""

from __future__ import annotations

import re

from edgecloud.privacy.pii import Detector, default_detectors, find_pii

PLACEHOLDER = re.compile(r"<([A-Z]+(?:_[A-Z]+)*_\d+)>")
_PARTIAL = re.compile(r"<[A-Z_0-9]*$")
_LONGEST = 40  # no placeholder is longer; a held-back tail never grows past it


class Redactor:
    """One per request: the same value gets the same placeholder in every message of the request."""

    def __init__(self, detectors: list[Detector] | None = None) -> None:
        self._detectors = detectors or default_detectors()
        self._by_value: dict[str, str] = {}
        self.originals: dict[str, str] = {}  # placeholder -> original text

    def redact(self, text: str) -> str:
        findings = find_pii(text, self._detectors)
        if not findings:
            return text
        parts, last = [], 0
        for finding in findings:
            parts += [text[last : finding.start], self._placeholder(finding.kind, finding.text)]
            last = finding.end
        parts.append(text[last:])
        return "".join(parts)

    def restore(self, text: str) -> str:
        if not self.originals or "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self.originals.get(m.group(1), m.group(0)), text)

    def stream(self) -> StreamRestorer:
        return StreamRestorer(self)

    def _placeholder(self, kind: str, value: str) -> str:
        name = self._by_value.get(value)
        if name is None:
            count = sum(1 for existing in self.originals if existing.rsplit("_", 1)[0] == kind)
            name = f"{kind}_{count + 1}"
            self._by_value[value] = name
            self.originals[name] = value
        return f"<{name}>"


class StreamRestorer:
    """Restores placeholders in text that arrives in deltas, holding back a tail that may still become
    a placeholder ("<EMA" ... "IL_ADDRESS_1>")."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._pending = ""

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        partial = _PARTIAL.search(text)
        if partial is not None and len(text) - partial.start() < _LONGEST:
            self._pending = text[partial.start() :]
            text = text[: partial.start()]
        else:
            self._pending = ""
        return self._redactor.restore(text)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return self._redactor.restore(rest)
