"""router: the learned router as a pre-generation cascade. From the prompt's MiniLM embedding it
predicts whether the edge's answer will be good enough; below the threshold the request goes to the
cloud before anything is generated, so streaming requests are placed up front too."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from edgecloud.gateway.placement import Decision, RequestView, TierStates


class RouterPolicy:
    name = "router"

    def __init__(self, path: str, threshold: float | None = None) -> None:
        from edgecloud.router.model import load_router

        self.net, self.meta = load_router(Path(path))
        self.threshold = float(threshold if threshold is not None else self.meta.get("threshold", 0.5))
        self._encoder: Any = None
        self._lock = threading.Lock()

    def probability(self, text: str) -> float:
        import torch

        vector = self._embed(text)
        with torch.no_grad():
            return float(torch.sigmoid(self.net(torch.from_numpy(vector))).item())

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if request.kind != "chat" or not tiers.get(tiers.cloud).available:
            return None
        p = self.probability(request.text)
        if p >= self.threshold:
            return Decision(
                tiers.edge, self.name, f"router: edge answer good with p={p:.2f} >= {self.threshold:g}"
            )
        return Decision(
            tiers.cloud, self.name, f"router: edge answer good with p={p:.2f} < {self.threshold:g}"
        )

    def _embed(self, text: str) -> Any:
        with self._lock:
            if self._encoder is None:
                from edgecloud.router.model import load_encoder

                self._encoder = load_encoder(threads=1)
            return self._encoder.embed([text])[0]
