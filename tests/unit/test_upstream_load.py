"""What the gateway believes about a tier's queue and speed: its own in-flight count beside the node's
report, and TTFT samples stripped of the queueing they waited through, so the latency policy does not
count a busy tier's queue twice."""

from __future__ import annotations

from edgecloud.gateway.placement import RequestView, TierStates
from edgecloud.gateway.policies.latency import LatencyPolicy, predicted_ttft
from edgecloud.gateway.topology import Topology
from edgecloud.gateway.upstreams import InFlight, Tier, build_tiers


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _tiers() -> dict[str, Tier]:
    topology = Topology.model_validate(
        {
            "tiers": {
                "edge": {"upstreams": [{"url": "http://e"}]},
                "cloud": {"upstreams": [{"url": "http://c"}]},
            }
        }
    )
    return build_tiers(topology)


def test_in_flight_counts_open_requests_and_forgets_abandoned_ones() -> None:
    clock = FakeClock()
    flight = InFlight(expire_s=60, clock=clock)
    first, second = flight.begin(), flight.begin()
    assert flight.count() == 2
    flight.end(first)
    flight.end(first)  # ending twice is harmless
    assert flight.count() == 1
    clock.now = 61  # `second` was never read to the end
    assert flight.count() == 0
    flight.end(second)
    assert flight.count() == 0


def test_load_is_the_fresher_of_the_probe_and_the_in_flight_count() -> None:
    upstream = _tiers()["edge"].upstreams[0]
    upstream.queue_depth = 1  # the last probe
    tokens = [upstream.in_flight.begin() for _ in range(3)]
    assert upstream.load() == 3
    for token in tokens:
        upstream.in_flight.end(token)
    assert upstream.load() == 1


def test_ttft_samples_are_stripped_of_the_queue_they_waited_in() -> None:
    upstream = _tiers()["cloud"].upstreams[0]
    upstream.rtt.add(0.08)
    upstream.observe_ttft(0.68, ahead=2)  # 0.6 s of service and queue behind two requests
    assert upstream.ttft.value is not None
    assert abs(upstream.ttft.value - 0.28) < 1e-9  # RTT + 0.6 / 3


def test_a_busy_edge_that_is_still_faster_keeps_the_request() -> None:
    """Edge: 0.15 s queue-free, seen at 0.6 s behind 3 requests, 2 in flight now -> 0.45 s predicted.
    Cloud: 0.5 s service + 80 ms RTT, idle -> 0.58 s. Counting the queue twice (0.6 x 3 = 1.8 s) sent
    such requests to the cloud, where they waited longer."""
    tiers = _tiers()
    edge, cloud = tiers["edge"].upstreams[0], tiers["cloud"].upstreams[0]
    edge.observe_ttft(0.6, ahead=3)
    cloud.rtt.add(0.08)
    cloud.observe_ttft(0.58, ahead=0)
    open_now = [edge.in_flight.begin() for _ in range(2)]
    states = TierStates({name: tier.state(spend=0.0) for name, tier in tiers.items()}, now=0.0)
    assert states.get("edge").queue_depth == 2
    assert abs((predicted_ttft(states.get("edge")) or 0) - 0.45) < 1e-9
    view = RequestView(kind="chat", model="auto", text="hi", prompt_tokens=3)
    decision = LatencyPolicy(slo_ttft_ms=800).decide(view, states)
    assert decision is not None and decision.tier == "edge"
    for token in open_now:
        edge.in_flight.end(token)
