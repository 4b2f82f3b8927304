"""The soak's short form (make soak runs 30 minutes): gateway + edge + cloud behind a link that resets
connections and goes down every 30 s, under steady mixed load, for 3 minutes beside the rest of the
suite (soak_background.py). Nothing lost, no RSS or open-file growth after warm-up; the report holds a
sample per process every 15 s."""

from __future__ import annotations

import json

import pytest

from tests.integration.soak_background import KEY, MINUTES, BackgroundSoak

pytestmark = pytest.mark.slow


def test_a_short_soak_loses_nothing_and_grows_nothing(request: pytest.FixtureRequest) -> None:
    soak = request.config.stash.get(KEY, None) or BackgroundSoak.start()  # started at collection
    code, output = soak.wait()
    assert code == 0, output
    out = soak.out
    result = json.loads((out / "soak.json").read_text())
    assert result["lost"] == [] and result["problems"] == []
    assert sum(result["sent"].values()) >= MINUTES * 60 * 2 * 0.95  # the rate held
    assert set(result["sent"]) == {"chat", "stream", "embedding", "mining"}
    assert result["flaps"] >= int(MINUTES * 2) - 1  # the link went down every 30 s
    for name in ("edge", "cloud", "gateway"):
        assert len(result["processes"][name]["samples"]) >= MINUTES * 4
    assert (out / "decisions.jsonl").read_text().count("\n") >= sum(result["sent"].values()) - 5
