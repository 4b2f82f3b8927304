"""What every route needs, built once by the app factory and passed down (no module globals)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from edgecloud.config import NodeSettings
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.pool import ModelPool


@dataclass
class NodeContext:
    settings: NodeSettings
    pool: ModelPool
    metrics: NodeMetrics
    started: float = field(default_factory=time.time)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def request_id(self, prefix: str) -> str:
        return f"{prefix}-{int(self.started):x}{next(self._ids):06x}"
