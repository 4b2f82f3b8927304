"""The draft length follows the costs: a verifier whose cost grows with every token (this CPU) and an
expensive draft push k to 0; a slow link (large fixed cost per round) and a good draft push k up."""

from __future__ import annotations

from edgecloud.runtimes.speculative.adapt import PROBE_EVERY, DraftLength


def _feed(lengths: DraftLength, *, accept: float, draft_s: float, fixed_s: float, per_token_s: float) -> None:
    for _ in range(40):
        k = lengths.next()
        accepted = round(accept * k) if k else 0
        lengths.observe(
            drafted=k,
            accepted=accepted,
            draft_seconds=k * draft_s,
            verify_seconds=fixed_s + per_token_s * (k + 1),
        )


def test_cpu_costs_turn_speculation_off_but_keep_probing() -> None:
    lengths = DraftLength()
    _feed(lengths, accept=0.6, draft_s=0.030, fixed_s=0.030, per_token_s=0.030)
    ks = [lengths.next() for _ in range(PROBE_EVERY * 2)]
    assert ks.count(0) >= len(ks) - 2  # the target alone, apart from probes
    assert any(k > 0 for k in ks)  # probes still measure the draft


def test_a_slow_link_and_a_good_draft_draft_more() -> None:
    lengths = DraftLength()
    _feed(lengths, accept=0.9, draft_s=0.005, fixed_s=0.080, per_token_s=0.001)
    assert lengths.next() >= 5


def test_a_fixed_length_stays_fixed() -> None:
    lengths = DraftLength(fixed=3)
    _feed(lengths, accept=0.1, draft_s=0.05, fixed_s=0.0, per_token_s=0.05)
    assert lengths.next() == 3
