"""Person and location names through Presidio with the bundled spaCy pipeline."""

from __future__ import annotations

import pytest

from edgecloud.gateway.placement import RequestView, TierState, TierStates
from edgecloud.gateway.policies.privacy import PrivacyPolicy
from edgecloud.privacy.redact import Redactor

pytestmark = pytest.mark.slow


def test_ner_precision_and_recall_on_the_labeled_set() -> None:
    from edgecloud.privacy.synthetic import ner_quality

    scores = ner_quality(count=90, seed=5)
    print(scores)
    assert scores["PERSON"]["recall"] >= 0.85 and scores["PERSON"]["precision"] >= 0.9
    assert scores["LOCATION"]["recall"] >= 0.9 and scores["LOCATION"]["precision"] >= 0.9


def test_privacy_policy_with_ner_keeps_names_local_and_redacts_them_reversibly() -> None:
    policy = PrivacyPolicy("keep-local", ner=True)
    tiers = TierStates({"edge": TierState("edge"), "cloud": TierState("cloud")}, now=0)
    view = RequestView(kind="chat", model="auto", text="Remind Maria Rossi about Lisbon.", prompt_tokens=8)
    decision = policy.decide(view, tiers)
    assert decision is not None and decision.tier == "edge" and "PERSON" in decision.reason
    redactor = Redactor(policy.detectors)
    hidden = redactor.redact(view.text)
    assert "Maria" not in hidden and "<PERSON_1>" in hidden and "<LOCATION_1>" in hidden
    assert redactor.restore(hidden) == view.text
