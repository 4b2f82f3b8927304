"""What the hybrid scenario runs against: an edge node, a cloud node behind the link emulator, and a
gateway in front of both. Starts what was not given, and always stops everything it started (an
ExitStack unwinds in reverse order, on errors and Ctrl-C too).

The link emulator runs in this process on its own thread and event loop, so the RTT can change
between phases (the sweep) without restarting anything: it reads its profile per chunk."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import yaml

from edgecloud.bench.netem import LinkEmulator, LinkProfile
from edgecloud.catalogue import hybrid_pair
from edgecloud.errors import Unavailable
from edgecloud.gateway.topology import Price, Topology, load_topology
from edgecloud.serving.launcher import GatewayProcess, NodeProcess, ServiceProcess, free_port

# The example topology's cloud prices (examples/topology.yaml): the edge is paid for already.
CLOUD_PRICE = Price(input_per_1k=0.0005, output_per_1k=0.0015)
EDGE_PRICE = Price()


@dataclass(frozen=True)
class StackConfig:
    # The catalogue's hybrid pair: Qwen2.5-Coder-0.5B at the edge, Qwen2.5-Coder-1.5B (3x its
    # parameters, and it knows more) in the cloud; a router ships for this pair.
    edge_model: str = hybrid_pair()[0].name
    cloud_model: str = hybrid_pair()[1].name
    cloud_runtime: str | None = None  # the catalogue's engine for it; e.g. "transformers" to force one
    edge_url: str | None = None  # use this edge node instead of starting one
    cloud_url: str | None = None  # use this cloud node instead of starting one
    rtt_s: float = 0.08
    threads: int = 1  # per node engine: on a busy 2-core machine one thread beats two (DEPENDENCIES.md)
    workdir: Path = Path("bench-results")


class LinkThread:
    """A LinkEmulator on a private event loop in a daemon thread, listening on a free loopback port."""

    def __init__(self, upstream: tuple[str, int], profile: LinkProfile) -> None:
        self.port = free_port()
        self.emulator = LinkEmulator(("127.0.0.1", self.port), upstream, profile)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netem", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_rtt(self, rtt_s: float) -> None:
        # One attribute store: the emulator reads its profile afresh for every chunk it forwards.
        self.emulator.profile = replace(self.emulator.profile, rtt_s=rtt_s)

    def set_online(self, online: bool) -> None:
        """Takes the link down (open connections cut, new ones refused) or brings it back."""
        asyncio.run_coroutine_threadsafe(self.emulator.set_online(online), self._loop).result(10)

    def __enter__(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.emulator.start(), self._loop).result(10)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self._loop).result(10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop.close()


@dataclass
class Stack:
    """Live URLs: the edge node, the cloud as the client sees it (through the link), the gateway."""

    edge_url: str
    cloud_url: str
    gateway_url: str
    link: LinkThread
    topology: Topology
    cloud_node_url: str  # behind the link

    def urls(self) -> list[str]:
        return [self.edge_url, self.cloud_node_url, self.cloud_url, self.gateway_url]


PROBE_INTERVAL_S = 0.5
# How long the load stops before each round: two probes, so the gateway's view of both tiers (what the
# node's /health reported) is idle again; without it a round that follows an edge-only round starts
# with the edge looking busy with requests that ended before the round began.
SETTLE_S = 2 * PROBE_INTERVAL_S + 0.1


def topology_for(config: StackConfig, edge_url: str, cloud_link_url: str) -> dict[str, Any]:
    """The gateway's topology: the full policy chain, both tiers' chat models and prices, a quick probe
    (so the latency policy sees a new RTT within a second)."""
    return {
        "tiers": {
            "edge": {
                "upstreams": [{"url": edge_url}],
                "chat_model": config.edge_model,
                "price": EDGE_PRICE.model_dump(),
            },
            "cloud": {
                "upstreams": [{"url": cloud_link_url}],
                "chat_model": config.cloud_model,
                "price": CLOUD_PRICE.model_dump(),
            },
        },
        "policies": ["privacy", "hint", "task", "offline", "cost", "router", "latency", "cascade"],
        "policy_settings": {"latency": {"slo_ttft_ms": 800}},
        "probe_interval_s": PROBE_INTERVAL_S,
        # What the gateway saw at each decision, for `edgecloud.sim.replay` and `sim.bench_fit`.
        "decision_log": str(config.workdir / "decisions.jsonl"),
    }


def check_serves(url: str, what: str, model: str) -> None:
    """A given node must be healthy now and serve the model: the scenario measures nodes, it does not
    wait for them, and a wrong model name would only show up as a report full of 404s."""
    try:
        httpx.get(f"{url}/health", timeout=5.0).raise_for_status()
        listed = httpx.get(f"{url}/v1/models", timeout=5.0).raise_for_status().json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Unavailable(f"the {what} node at {url} is not healthy: {exc}") from None
    names = [str(entry.get("id")) for entry in listed.get("data", [])]
    if model not in names:
        raise Unavailable(
            f"the {what} node at {url} does not serve {model!r} (it serves {', '.join(names) or 'nothing'}); "
            f"name its model with --{what}-model"
        )


def start_nodes(
    config: StackConfig, stack: ExitStack, on_wait: Callable[[str, ServiceProcess], None]
) -> tuple[str, str]:
    """The edge and cloud URLs: given ones checked, missing ones started (loading in parallel)."""
    started: list[tuple[str, NodeProcess]] = []
    if config.edge_url is None:
        args = ["--tier", "edge", "--threads", str(config.threads)]
        started.append(("edge node", NodeProcess([config.edge_model], args=args)))
    if config.cloud_url is None:
        args = ["--tier", "cloud", "--n-ctx", "2048", "--threads", str(config.threads)]
        args += ["--runtime", config.cloud_runtime] if config.cloud_runtime else []
        started.append(("cloud node", NodeProcess([config.cloud_model], args=args)))
    for _, process in started:
        stack.enter_context(process)
    for what, process in started:
        on_wait(what, process)
    urls = dict(started)
    edge_url = (config.edge_url or urls["edge node"].url).rstrip("/")
    cloud_url = (config.cloud_url or urls["cloud node"].url).rstrip("/")
    if config.edge_url is not None:
        check_serves(edge_url, "edge", config.edge_model)
    if config.cloud_url is not None:
        check_serves(cloud_url, "cloud", config.cloud_model)
    return edge_url, cloud_url


def start_stack(
    config: StackConfig, stack: ExitStack, on_wait: Callable[[str, ServiceProcess], None]
) -> Stack:
    """Enters every process into `stack`; the caller's `with ExitStack()` stops them."""
    edge_url, cloud_url = start_nodes(config, stack, on_wait)
    parts = urlsplit(cloud_url)
    link = stack.enter_context(
        LinkThread((parts.hostname or "127.0.0.1", parts.port or 80), LinkProfile(rtt_s=config.rtt_s))
    )
    raw = topology_for(config, edge_url, link.url)
    config.workdir.mkdir(parents=True, exist_ok=True)
    path = config.workdir / "topology.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    gateway = stack.enter_context(GatewayProcess(config=str(path)))
    on_wait("gateway", gateway)
    return Stack(edge_url, link.url, gateway.url, link, load_topology(path, env={}), cloud_url)
