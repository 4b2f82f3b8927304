"""The acceptance rule: greedy keeps exactly the target's argmax path; sampling leaves every emitted
token distributed as the target's p, whatever the draft's q (checked by chi-square on a small vocabulary)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from edgecloud.runtimes.speculative.rule import greedy_accept, probabilities, sampled_accept


def test_greedy_keeps_the_agreeing_prefix_and_adds_the_targets_token() -> None:
    logits = np.array([[0, 5, 0, 0], [0, 0, 5, 0], [5, 0, 0, 0], [0, 0, 0, 5]], dtype=float)
    assert greedy_accept(logits, [1, 2, 3]).__dict__ == {"accepted": 2, "next_token": 0}
    assert greedy_accept(logits, [1, 2, 0]).__dict__ == {"accepted": 3, "next_token": 3}
    assert greedy_accept(logits, [3, 2, 0]).__dict__ == {"accepted": 0, "next_token": 1}
    assert greedy_accept(logits[:1], []).__dict__ == {"accepted": 0, "next_token": 1}


def test_probabilities_cut_to_the_nucleus() -> None:
    probs = probabilities(np.log(np.array([[0.5, 0.3, 0.15, 0.05]])), 1.0, 0.75)
    np.testing.assert_allclose(probs[0], [0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0])
    greedyish = probabilities(np.array([[1.0, 2.0, 3.0]]), 0.01, 1.0)
    assert greedyish[0].argmax() == 2 and greedyish[0, 2] > 0.999


@pytest.mark.parametrize("k", [1, 3])
def test_sampled_tokens_follow_the_target_distribution(k: int) -> None:
    """Draft tokens sampled from q, passed through the rule: the first and the second emitted tokens
    (rows here do not depend on the prefix) must be distributed as p, not as q."""
    rng = np.random.default_rng(7)
    vocab = 5
    p_rows = rng.dirichlet(np.ones(vocab), size=k + 1)
    q_rows = rng.dirichlet(np.ones(vocab) * 0.5, size=k)
    trials = 20_000
    first = np.zeros(vocab)
    second = np.zeros(vocab)
    for _ in range(trials):
        drafts = [int(rng.choice(vocab, p=q_rows[i])) for i in range(k)]
        verdict = sampled_accept(p_rows, q_rows, drafts, rng)
        emitted = [*drafts[: verdict.accepted], verdict.next_token]
        first[emitted[0]] += 1
        if len(emitted) > 1:
            second[emitted[1]] += 1
    assert chisquare(first, p_rows[0] * trials).pvalue > 1e-3
    if k > 1:
        assert chisquare(second, p_rows[1] * second.sum()).pvalue > 1e-3
    # and the test can fail: the draft's own distribution is rejected by the same check
    assert chisquare(first, q_rows[0] * trials).pvalue < 1e-6


def test_a_draft_token_outside_its_own_distribution_is_an_error() -> None:
    p_rows = np.full((2, 3), 1 / 3)
    q_rows = np.array([[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="probability 0"):
        sampled_accept(p_rows, q_rows, [1], np.random.default_rng(0))
