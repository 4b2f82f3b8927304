"""Labeled synthetic PII: prompts seeded with valid values of every supported entity type, and
lookalikes that must not count. Used by the leak test and to measure detection precision/recall."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from edgecloud.privacy.pii import Detector, find_pii

FIRST = ("jane", "omar", "li", "ana", "kofi", "maria", "yuki", "ivan", "sara", "tom")
LAST = ("doe", "haddad", "wei", "silva", "mensah", "rossi", "tanaka", "petrov", "berg", "lee")
DOMAINS = ("example.com", "mail.example.org", "corp.example.net")
PHONE_REGIONS = ("GB", "US", "DE", "FR", "IN", "JP", "BR")
TEMPLATES = (
    "Please contact {0} about the order.",
    "My details: {0} and {1}. Can you draft a reply?",
    "Summarise this note: customer {0} asked us to use {1} instead of {2}.",
    "Translate to French: the invoice goes to {0}.",
)
NEGATIVES = (
    "Order 4111 1111 1111 1112 ships on 2024-05-01 at 12:30:45.",
    "Version 1.2.3.4000 fixed bug #1234567 in build 20240501.",
    "The price rose from 1,234,567 to 2,345,678 units in 2023.",
    "Call the function with 555 and 0100 as arguments, then 42.",
    "Room 12-345 is booked; reference GB00 TEST 0000 0000 0000 00 and code 4000-1234.",
)


@dataclass(frozen=True)
class Seeded:
    prompt: str
    values: tuple[tuple[str, str], ...]  # (entity type, value)


def _card(rng: random.Random) -> str:
    digits = [4] + [rng.randrange(10) for _ in range(14)]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        value = digit * 2 if i % 2 == 0 else digit
        total += value - 9 if value > 9 else value
    digits.append((10 - total % 10) % 10)
    text = "".join(map(str, digits))
    return " ".join(text[i : i + 4] for i in range(0, 16, 4))


def _iban(rng: random.Random) -> str:
    country, bban = rng.choice(
        [
            ("GB", lambda: "WEST" + "".join(str(rng.randrange(10)) for _ in range(14))),
            ("DE", lambda: "".join(str(rng.randrange(10)) for _ in range(18))),
            ("FR", lambda: "".join(str(rng.randrange(10)) for _ in range(23))),
        ]
    )
    body = bban()
    numeric = "".join(str(int(c, 36)) for c in body + country + "00")
    check = 98 - int(numeric) % 97
    iban = f"{country}{check:02d}{body}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def _phone(rng: random.Random) -> str:
    import phonenumbers

    region = rng.choice(PHONE_REGIONS)
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None, region
    national = str(example.national_number)
    while True:
        candidate = national[:2] + "".join(str(rng.randrange(10)) for _ in range(len(national) - 2))
        number = phonenumbers.parse(f"+{example.country_code}{candidate}")
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _value(kind: str, rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.randrange(100)}"
    if kind == "EMAIL_ADDRESS":
        return f"{name}@{rng.choice(DOMAINS)}"
    if kind == "CREDIT_CARD":
        return _card(rng)
    if kind == "IBAN_CODE":
        return _iban(rng)
    if kind == "US_SSN":
        area = rng.choice([rng.randrange(1, 666), rng.randrange(667, 900)])
        return f"{area:03d}-{rng.randrange(1, 100):02d}-{rng.randrange(1, 10000):04d}"
    if kind == "IP_ADDRESS":
        if rng.random() < 0.8:
            return ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        return "2001:db8:" + ":".join(f"{rng.randrange(1, 65535):x}" for _ in range(6))
    if kind == "URL_CREDENTIALS":
        return f"https://{name.split('.')[0]}:{rng.randrange(10**8):08d}x@db{rng.randrange(99)}.example.com"
    return _phone(rng)


KINDS = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "US_SSN",
    "IP_ADDRESS",
    "URL_CREDENTIALS",
)


def seeded_prompts(count: int, seed: int = 0) -> list[Seeded]:
    rng = random.Random(seed)
    prompts = []
    for index in range(count):
        template = TEMPLATES[index % len(TEMPLATES)]
        slots = template.count("{")
        kinds = [KINDS[(index + i) % len(KINDS)] for i in range(slots)]
        values = tuple((kind, _value(kind, rng)) for kind in kinds)
        prompts.append(Seeded(template.format(*(v for _, v in values)), values))
    return prompts


def detection_quality(
    count: int = 700, seed: int = 1, detectors: list[Detector] | None = None
) -> dict[str, dict[str, float]]:
    """Precision and recall per entity type on seeded prompts plus lookalike-only negatives."""
    samples = [(s.prompt, s.values) for s in seeded_prompts(count, seed)] + [(n, ()) for n in NEGATIVES * 20]
    return quality(samples, KINDS, detectors)


CITIES = ("Berlin", "Lisbon", "Nairobi", "Tokyo", "Toronto", "Madrid", "Cairo", "Oslo", "Lima", "Seoul")
NER_TEMPLATES = (
    "My name is {person} and I live in {location}.",
    "Please book a table for {person} in {location} tonight.",
    "{person} will present the results in {location} next week.",
)


def ner_prompts(count: int, seed: int = 0) -> list[Seeded]:
    rng = random.Random(seed)
    prompts = []
    for index in range(count):
        person = f"{rng.choice(FIRST).title()} {rng.choice(LAST).title()}"
        location = rng.choice(CITIES)
        text = NER_TEMPLATES[index % len(NER_TEMPLATES)].format(person=person, location=location)
        prompts.append(Seeded(text, (("PERSON", person), ("LOCATION", location))))
    return prompts


def quality(
    samples: list[tuple[str, tuple[tuple[str, str], ...]]],
    kinds: tuple[str, ...],
    detectors: list[Detector] | None,
) -> dict[str, dict[str, float]]:
    truth, found, hits = Counter[str](), Counter[str](), Counter[str]()
    for prompt, values in samples:
        expected = set(values)
        detected = {(f.kind, f.text) for f in find_pii(prompt, detectors)}
        truth.update(kind for kind, _ in expected)
        found.update(kind for kind, _ in detected)
        hits.update(kind for kind, _ in expected & detected)
    return {
        kind: {
            "precision": hits[kind] / found[kind] if found[kind] else 1.0,
            "recall": hits[kind] / truth[kind] if truth[kind] else 1.0,
            "support": float(truth[kind]),
        }
        for kind in kinds
    }


def ner_quality(count: int = 150, seed: int = 2) -> dict[str, dict[str, float]]:
    from edgecloud.privacy.ner import PresidioNerDetector

    samples = [(s.prompt, s.values) for s in ner_prompts(count, seed)] + [(n, ()) for n in NEGATIVES]
    return quality(samples, ("PERSON", "LOCATION"), [PresidioNerDetector()])
