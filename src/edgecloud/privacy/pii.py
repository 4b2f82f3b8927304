"""Pattern detectors for PII that need no NER model: emails, phone numbers (international formats),
payment card numbers (Luhn), IBANs (mod-97), US SSNs, IPv4/IPv6 addresses and URLs carrying
credentials. Checksums keep order numbers and the like from triggering. Overlapping matches are
resolved once, by priority, so each character belongs to at most one finding."""

from __future__ import annotations

import ipaddress
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
    needs: str  # a cheap precondition: "@", "digits" (7 or more), "ip" or "" for none

    def find(self, text: str) -> list[Finding]: ...


class RegexDetector:
    def __init__(self, kind: str, pattern: str, needs: str = "", flags: int = 0) -> None:
        self.kind = kind
        self.needs = needs
        self._pattern = re.compile(pattern, flags)

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
        super().__init__(
            "CREDIT_CARD",
            r"(?<![\w+-])(?:\d{4}[ -]?\d{6}[ -]?\d{5}|(?:\d{4}[ -]?){3}\d{1,7})(?![\w-])",
            needs="digits",
        )

    def valid(self, candidate: str) -> bool:
        digits = re.sub(r"\D", "", candidate)
        return digits[0] in "23456" and luhn_valid(digits)  # card networks' first digits (IIN ranges)


class IbanDetector(RegexDetector):
    def __init__(self) -> None:
        super().__init__(
            "IBAN_CODE", r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", needs="digits"
        )

    def valid(self, candidate: str) -> bool:
        return iban_valid(candidate)


class SsnDetector(RegexDetector):
    def __init__(self) -> None:
        super().__init__(
            "US_SSN", r"\b(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}\b", needs="digits"
        )


class IpDetector(RegexDetector):
    def __init__(self) -> None:
        super().__init__(
            "IP_ADDRESS",
            r"(?<![\w.:])(?:(?:\d{1,3}\.){3}\d{1,3}|(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4})(?![\w:]|\.\d)",
            needs="ip",
        )

    def valid(self, candidate: str) -> bool:
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            return False
        return candidate.count(":") >= 2 or candidate.count(".") == 3


class PhoneDetector:
    """Phone numbers through Google's libphonenumber (the `phonenumbers` port): numbers in
    international form anywhere, national ones for the default region, and only numbers that are valid
    for their region, so dates, versions and account numbers do not count."""

    kind = "PHONE_NUMBER"
    needs = "digits"

    def __init__(self, region: str = "US") -> None:
        self.region = region

    def find(self, text: str) -> list[Finding]:
        import phonenumbers

        matcher = phonenumbers.PhoneNumberMatcher(text, self.region, leniency=phonenumbers.Leniency.VALID)
        return [Finding(self.kind, m.start, m.end, m.raw_string) for m in matcher]


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


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34:
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


EMAIL = RegexDetector("EMAIL_ADDRESS", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b", needs="@")
URL_CREDENTIALS = RegexDetector(
    "URL_CREDENTIALS", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:[^\s/@]+@[^\s/]*[^\s/.,;:!?)]", needs="@"
)
_DIGIT = re.compile(r"\d")


def default_detectors() -> list[Detector]:
    """In priority order: where matches overlap, the earlier detector wins."""
    return [
        URL_CREDENTIALS,
        EMAIL,
        IbanDetector(),
        CardDetector(),
        SsnDetector(),
        IpDetector(),
        PhoneDetector(),
    ]


def find_pii(text: str, detectors: list[Detector] | None = None) -> list[Finding]:
    """Non-overlapping findings in text order. Detectors whose precondition fails are skipped: most
    prompts have no "@" and few digits, and the gateway runs this on every request."""
    digits = len(_DIGIT.findall(text))
    present = {"": True, "@": "@" in text, "digits": digits >= 7, "ip": digits >= 4 or "::" in text}
    taken: list[Finding] = []
    for detector in detectors or default_detectors():
        if not present.get(detector.needs, True):
            continue
        for finding in detector.find(text):
            if all(finding.end <= other.start or finding.start >= other.end for other in taken):
                taken.append(finding)
    return sorted(taken, key=lambda f: f.start)
