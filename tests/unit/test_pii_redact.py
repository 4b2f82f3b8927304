"""PII detectors and reversible redaction."""

from __future__ import annotations

import pytest

from edgecloud.gateway.placement import RequestView, TierState, TierStates
from edgecloud.gateway.policies.privacy import PrivacyPolicy
from edgecloud.privacy.pii import find_pii, iban_valid, luhn_valid
from edgecloud.privacy.redact import Redactor


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("write to jane.doe@example.com today", "EMAIL_ADDRESS", "jane.doe@example.com"),
        ("call +44 20 7946 0958", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("or (415) 555-0100", "PHONE_NUMBER", "(415) 555-0100"),
        ("card 4111 1111 1111 1111", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("pay to GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ("iban DE89370400440532013000", "IBAN_CODE", "DE89370400440532013000"),
        ("ssn 123-45-6789", "US_SSN", "123-45-6789"),
        ("host 10.20.30.40 down", "IP_ADDRESS", "10.20.30.40"),
        ("v6 2001:db8::8a2e:370:7334 up", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
        ("db https://bob:s3cret@db.example.com/x", "URL_CREDENTIALS", "https://bob:s3cret@db.example.com"),
    ],
)
def test_each_detector_finds_its_entity(text: str, kind: str, value: str) -> None:
    assert [(f.kind, f.text) for f in find_pii(text)] == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped",  # fails Luhn
        "GB82 WEST 1234 5698 7654 33",  # fails mod 97
        "ssn 000-12-3456",  # invalid area
        "version 1.2.3.4000 and 999.1.1.1",
        "at 12:30:45 on 2024-05-01",
        "https://example.com/path@v2",
        "what is the capital of France?",
    ],
)
def test_lookalikes_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_checksums() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")


def test_redaction_is_typed_consistent_and_reversible() -> None:
    redactor = Redactor()
    text = "Mail jane@example.com, card 4111 1111 1111 1111, again jane@example.com"
    hidden = redactor.redact(text)
    assert hidden == "Mail <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>, again <EMAIL_ADDRESS_1>"
    assert redactor.restore(hidden) == text
    second = redactor.redact("and bob@example.org")
    assert second == "and <EMAIL_ADDRESS_2>"


def test_streamed_answers_get_originals_back_even_when_a_placeholder_is_split() -> None:
    redactor = Redactor()
    redactor.redact("jane@example.com and +1 415 555 0100")
    stream = redactor.stream()
    pieces = ["Writing to <EM", "AIL_ADDR", "ESS_1> and <PHONE_NUMBER_1", ">. Also 3 < 4 and <b>"]
    out = "".join(stream.feed(p) for p in pieces) + stream.flush()
    assert out == "Writing to jane@example.com and +1 415 555 0100. Also 3 < 4 and <b>"


def test_unknown_placeholders_are_left_alone() -> None:
    redactor = Redactor()
    redactor.redact("jane@example.com")
    assert redactor.restore("<EMAIL_ADDRESS_9> <EMAIL_ADDRESS_1>") == "<EMAIL_ADDRESS_9> jane@example.com"


def _tiers() -> TierStates:
    return TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0)


def _view(text: str) -> RequestView:
    return RequestView(kind="chat", model="auto", text=text, prompt_tokens=5)


def test_privacy_modes() -> None:
    pii = _view("ssn 123-45-6789")
    assert PrivacyPolicy("keep-local").decide(pii, _tiers()).tier == "edge"  # type: ignore[union-attr]
    assert PrivacyPolicy("redact").decide(pii, _tiers()) is None
    with pytest.raises(Exception, match="blocks") as info:
        PrivacyPolicy("block").decide(pii, _tiers())
    assert getattr(info.value, "status", None) == 403
    with pytest.raises(ValueError):
        PrivacyPolicy("sometimes")


def test_keep_local_holds_whatever_the_chain_order() -> None:
    from edgecloud.gateway.placement import Decision

    policy = PrivacyPolicy("keep-local")
    moved = policy.keep_local(Decision("cloud", "hint", "client asked"), _view("jane@example.com"), _tiers())
    assert (moved.tier, moved.policy, moved.pinned) == ("edge", "privacy", True)
    same = policy.keep_local(Decision("cloud", "hint", "client asked"), _view("no pii here"), _tiers())
    assert same.tier == "cloud"


def test_detection_quality_on_the_seeded_set() -> None:
    from edgecloud.privacy.synthetic import detection_quality

    for kind, scores in detection_quality(count=140, seed=3).items():
        assert scores["recall"] >= 0.95, kind
        assert scores["precision"] >= 0.95, kind
