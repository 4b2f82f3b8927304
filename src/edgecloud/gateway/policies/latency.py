"""latency: predicted time to first token per tier, from the measured service time (EWMA of TTFT less
the link RTT), the queue each tier reports and the RTT the probe measures now; the faster tier within
the SLO wins."""

from __future__ import annotations

from edgecloud.gateway.placement import Decision, RequestView, TierState, TierStates


def predicted_ttft(state: TierState) -> float | None:
    if state.ewma_ttft is None or not state.available:
        return None
    rtt = state.rtt or 0.0
    service = max(state.ewma_ttft - rtt, 0.0)
    return service * (1 + state.queue_depth) + rtt


class LatencyPolicy:
    name = "latency"

    def __init__(self, slo_ttft_ms: float = 800.0) -> None:
        self.slo = slo_ttft_ms / 1000.0

    def decide(self, request: RequestView, tiers: TierStates) -> Decision | None:
        predictions = {name: predicted_ttft(state) for name, state in tiers.tiers.items()}
        known = {name: value for name, value in predictions.items() if value is not None}
        if len(known) < 2:
            return None  # nothing to compare yet
        best = min(known, key=lambda name: known[name])
        figures = ", ".join(f"{name} {value * 1000:.0f} ms" for name, value in sorted(known.items()))
        within = "within" if known[best] <= self.slo else "none within"
        return Decision(
            best, self.name, f"predicted TTFT {figures}; {within} the {self.slo * 1000:.0f} ms SLO"
        )
