"""Prometheus metrics of the gateway, named as DESIGN.md says (the shared ones come from the node's)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge

from edgecloud.serving.metrics import ServiceMetrics


class GatewayMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.placements = Counter(
            "edgecloud_placements", "Placement decisions", ["tier", "policy"], registry=r
        )
        self.upstream_up = Gauge(
            "edgecloud_upstream_up", "1 when the upstream takes traffic", ["upstream"], registry=r
        )
        self.breaker_open = Gauge(
            "edgecloud_breaker_open", "1 while the upstream's breaker is open", ["upstream"], registry=r
        )
        self.cost = Counter("edgecloud_cost", "Spend by tier, in price units", ["tier"], registry=r)
        self.retries = Counter("edgecloud_retries", "Upstream attempts retried", ["tier"], registry=r)
        self.failovers = Counter(
            "edgecloud_failovers", "Requests moved to another tier", ["from_tier"], registry=r
        )
        self.escalations = Counter("edgecloud_escalations", "Cascade escalations to the cloud", registry=r)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """metric.labels(*labels), memoised: the hot path skips prometheus' lock and label checks.
        Bounded, since some label values (model names) come from clients."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            if len(self._children) > 4096:
                self._children.clear()
            found = self._children[key] = metric.labels(*labels)
        return found
