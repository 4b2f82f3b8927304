"""The decision log: one JSON line per request (time, request id, tier, policy, reason, latency,
tokens, cost); prompt text only when the topology says log_prompts. Each line also carries what
placement read (`placement`: the request's features without its text, the tier states and the
decision), so a log can be replayed through the policies offline (`edgecloud.sim.replay`)."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

from edgecloud.gateway.placement import Decision, RequestView, TierState, TierStates

# Everything placement reads from a request but its text (the prompt stays out of the log).
FEATURES = tuple(f.name for f in fields(RequestView) if f.name != "text")


@dataclass(frozen=True)
class DecisionRecord:
    time: float
    request_id: str
    model: str
    tier: str
    policy: str
    reason: str
    status: int
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    escalated: bool = False
    attempts: int = 1
    key_id: str = ""
    prompt: str | None = None
    placement: dict[str, Any] | None = None  # placement_features(): what the decision was made from
    ttft_s: float | None = None  # first byte of the answer (a whole answer: all of it) after arrival


def placement_features(view: RequestView, states: TierStates, decision: Decision) -> dict[str, Any]:
    """The inputs and output of one placement, JSON-ready and without the prompt text."""
    request = {name: getattr(view, name) for name in FEATURES}
    if view.pii is not None:
        request["pii"] = list(view.pii)
    return {
        "request": request,
        "states": {name: asdict(state) for name, state in states.tiers.items()},
        "now": states.now,
        "edge": states.edge,
        "cloud": states.cloud,
        "decision": asdict(decision),
    }


def replay_inputs(features: dict[str, Any]) -> tuple[RequestView, TierStates, Decision]:
    """placement_features() read back: the view (empty text, PII kinds as detected), states, decision."""
    request = dict(features["request"])
    if request.get("pii") is not None:
        request["pii"] = tuple(request["pii"])
    view = RequestView(text="", **request)
    tiers = {name: TierState(**state) for name, state in features["states"].items()}
    states = TierStates(tiers, now=features["now"], edge=features["edge"], cloud=features["cloud"])
    return view, states, Decision(**features["decision"])


class DecisionLog:
    def __init__(self, path: Path | None, log_prompts: bool = False) -> None:
        self.log_prompts = log_prompts
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", buffering=1, encoding="utf-8")

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def write(self, record: DecisionRecord) -> None:
        if self._file is None:
            return
        data = asdict(record)
        if not self.log_prompts or data["prompt"] is None:
            data.pop("prompt")
        if data["placement"] is None:
            data.pop("placement")
        if data["ttft_s"] is None:
            data.pop("ttft_s")
        self._line(data)

    def event(self, event: dict[str, Any]) -> None:
        """A line that is not an answer (an operator's change at run time): `event` names its kind, so
        readers of answers (replay, telemetry) pass it by."""
        if self._file is not None:
            self._line(event)

    def _line(self, data: dict[str, Any]) -> None:
        assert self._file is not None
        line = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
