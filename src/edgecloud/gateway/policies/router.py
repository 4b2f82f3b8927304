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
                self._encoder = _load_encoder()
            return self._encoder.embed([text])[0]


def _load_encoder() -> Any:
    from dataclasses import replace

    from edgecloud.catalogue import Catalogue, LocalPath
    from edgecloud.config import NodeSettings
    from edgecloud.router.model import EMBEDDING_MODEL
    from edgecloud.runtimes.transformers import TransformersEncoder

    catalogue = Catalogue(NodeSettings().cache_dir)
    spec = catalogue.resolve(EMBEDDING_MODEL)
    spec = replace(spec, source=LocalPath(catalogue.materialize(spec)))
    encoder = TransformersEncoder(n_threads=1)
    encoder.load(spec)
    return encoder
