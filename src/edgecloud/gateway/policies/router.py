"""router: the learned quality router as a placement policy. From the prompt's MiniLM embedding it scores
whether the edge's answer will be as good as the cloud's; below the threshold the request goes to the
cloud before anything is generated, so streaming requests are placed up front too.

With a `path` the router is that file, checked against the tiers' models when the gateway starts. Without
one the policy uses the router shipped for the pair of chat models the tiers serve, and abstains when
none ships for that pair: in the default chain, a gateway in front of the bundled edge and cloud routes by
quality out of the box, and any other pair keeps the chain's other policies."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from edgecloud.gateway.placement import Decision, RequestView, TierStates
from edgecloud.routing.router.artifact import RouterFile, load, shipped_for

PRIMED = 256  # recent prompts' embeddings: primed ones wait here for their decision


class RouterPolicy:
    name = "router"

    def __init__(self, path: str | None = None, threshold: float | None = None) -> None:
        self.path = Path(path) if path else None
        self.router: RouterFile | None = load(self.path) if self.path else None
        self._bound: tuple[str | None, str | None] | None = None
        self._threshold = threshold
        self._encoder: Any = None
        self._lock = threading.Lock()  # one encoder, one embedding at a time
        self._cache_lock = threading.Lock()
        self._embedded: OrderedDict[str, Any] = OrderedDict()  # prompts primed off the event loop

    @property
    def threshold(self) -> float:
        if self._threshold is not None:
            return self._threshold
        return self.router.threshold if self.router is not None else 0.5

    @threshold.setter
    def threshold(self, value: float) -> None:
        """An operator's choice at run time (the dashboard), over the router file's own."""
        self._threshold = value

    def bind(self, edge_model: str | None, cloud_model: str | None) -> None:
        """Once the gateway knows what its tiers serve: check a configured router against that pair
        (a mismatch stops the gateway with a clear error), or pick the shipped one for it."""
        if self.path is not None and self.router is not None:
            cloud = cloud_model if self.router.pair[1] != "*" else "*"
            self.router.check_pair(edge_model, cloud, self.path)
            return
        if self._bound == (edge_model, cloud_model):
            return  # the configured pair at construction, confirmed at start: loaded once
        shipped = shipped_for(edge_model, cloud_model)
        self.router = load(shipped) if shipped is not None else None
        self._bound = (edge_model, cloud_model)

    def score(self, text: str) -> float:
        if self.router is None:
            raise RuntimeError("no router bound")
        return float(self.router.model.scores(self._embed(text)[None, :])[0])

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        if self.router is None or request.kind != "chat" or not tiers.get(tiers.cloud).available:
            return None
        p = self.score(request.text)
        if p >= self.threshold:
            reason = f"edge expected as good as cloud (score {p:.3f} >= {self.threshold:.3f})"
            return Decision(tiers.edge, self.name, reason)
        reason = f"cloud expected to answer better (score {p:.3f} < {self.threshold:.3f})"
        return Decision(tiers.cloud, self.name, reason)

    def warm(self) -> None:
        """Loads the encoder now (a second or two), so the first routed request does not wait for it."""
        if self.router is not None:
            self._embed("warm-up")

    def prime(self, text: str) -> None:
        """Embeds a chat prompt ahead of `decide`: the gateway calls this in a worker thread, so MiniLM's
        10-50 ms per prompt never holds the event loop (and every other request) up."""
        if self.router is not None:
            self._embed(text)

    def _embed(self, text: str) -> Any:
        with self._cache_lock:  # held for a lookup only: the event loop never waits on an embedding
            if text in self._embedded:
                self._embedded.move_to_end(text)
                return self._embedded[text]
        with self._lock:
            if self._encoder is None:
                from edgecloud.runtimes.embedder import load_encoder

                self._encoder = load_encoder(threads=1)
            vector = self._encoder.embed([text])[0]
        with self._cache_lock:
            self._embedded[text] = vector
            while len(self._embedded) > PRIMED:
                self._embedded.popitem(last=False)
        return vector
