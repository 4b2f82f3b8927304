"""The decision log: one JSON line per request (time, request id, tier, policy, reason, latency,
tokens, cost); prompt text only when the topology says log_prompts."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO


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
        line = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
