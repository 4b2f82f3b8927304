"""Pattern detectors for PII that needs no NER model: emails, phone numbers and payment card numbers
(Luhn-checked, so order numbers do not trigger). Used by the gateway's privacy policy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    text: str


class Detector(Protocol):
    kind: str
    needs: str  # a cheap precondition: "@", "digits" (7 or more) or "" for none

    def find(self, text: str) -> list[Finding]: ...


class RegexDetector:
    def __init__(self, kind: str, pattern: str, needs: str = "") -> None:
        self.kind = kind
        self.needs = needs
        self._pattern = re.compile(pattern)

    def find(self, text: str) -> list[Finding]:
        return [
            Finding(self.kind, m.start(), m.end(), m.group())
            for m in self._pattern.finditer(text)
            if self.valid(m.group())
        ]

    def valid(self, candidate: str) -> bool:
        return True


class CardDetector(RegexDetector):
    def __init__(self) -> None:
        super().__init__("CREDIT_CARD", r"\b(?:\d[ -]?){12,18}\d\b", needs="digits")

    def valid(self, candidate: str) -> bool:
        return luhn_valid(re.sub(r"\D", "", candidate))


class PhoneDetector(RegexDetector):
    def __init__(self) -> None:
        super().__init__(
            "PHONE_NUMBER",
            r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){2,4}\b",
            needs="digits",
        )

    def valid(self, candidate: str) -> bool:
        digits = re.sub(r"\D", "", candidate)
        return 7 <= len(digits) <= 15 and not luhn_card_like(digits)


def luhn_valid(digits: str) -> bool:
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        value = int(char)
        if i % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def luhn_card_like(digits: str) -> bool:
    return len(digits) >= 13 and luhn_valid(digits)


EMAIL = RegexDetector("EMAIL_ADDRESS", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", needs="@")
_DIGIT = re.compile(r"\d")


def default_detectors() -> list[Detector]:
    return [EMAIL, CardDetector(), PhoneDetector()]


def find_pii(text: str, detectors: list[Detector] | None = None) -> list[Finding]:
    """Every finding, in text order. Detectors whose precondition fails are skipped: most prompts
    have no "@" and few digits, and the gateway runs this on every request."""
    findings: list[Finding] = []
    present = {"": True, "@": "@" in text, "digits": len(_DIGIT.findall(text)) >= 7}
    for detector in detectors or default_detectors():
        if present.get(detector.needs, True):
            findings.extend(detector.find(text))
    return sorted(findings, key=lambda f: f.start)
