"""The soak: an edge node, a cloud node behind an emulated link that drops connections and goes down
now and then, and a gateway in front of both, under a steady mixed load for minutes. Fails on any lost
request, or on RSS or file descriptors that keep growing after warm-up."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edgecloud.bench.netem import LinkProfile
from edgecloud.bench.scenario_stack import LinkThread
from edgecloud.bench.soak.load import Tally, steady_load
from edgecloud.bench.soak.monitor import Series
from edgecloud.serving.launcher import GatewayProcess, NodeProcess, ServiceProcess

CHAT = "smollm2-135m-instruct"
EMBED = "all-minilm-l6-v2"
GROWTH_LIMIT = 0.10
FD_SLACK = 8  # sockets of requests in flight come and go; a leak keeps adding


@dataclass(frozen=True)
class SoakConfig:
    minutes: float = 30.0
    rate: float = 2.0  # requests a second
    sample_s: float = 60.0
    warm_up_s: float = 60.0
    rtt_s: float = 0.02
    loss: float = 0.02  # share of connections through the link that are reset
    flap_every_s: float = 30.0  # the link goes down this often ...
    flap_for_s: float = 3.0  # ... for this long
    workdir: Path = Path("bench-results/soak")


@dataclass
class SoakResult:
    config: SoakConfig
    tally: Tally
    series: list[Series] = field(default_factory=list)
    flaps: int = 0

    def problems(self) -> list[str]:
        found = [f"lost: {line}" for line in self.tally.lost[:20]]
        for series in self.series:
            rss = series.growth(self.config.warm_up_s)
            if rss > GROWTH_LIMIT:
                found.append(f"{series.name}: RSS grew {rss:.0%} after warm-up")
            grown, base = series.fd_growth(self.config.warm_up_s)
            if grown > max(FD_SLACK, GROWTH_LIMIT * base):
                found.append(f"{series.name}: {grown} more open files after warm-up")
        return found


def _topology(workdir: Path, edge: str, cloud: str) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "topology.yaml"
    path.write_text(f"""\
tiers:
  edge: {{upstreams: [{{url: "{edge}"}}]}}
  cloud: {{upstreams: [{{url: "{cloud}"}}]}}
probe_interval_s: 0.5
decision_log: {workdir / "decisions.jsonl"}
""")
    return path


def run_soak(config: SoakConfig, on_sample: Callable[[str, float, float, int], None]) -> SoakResult:
    args = ["--threads", "1", "--max-queue", "64"]
    with (
        NodeProcess([CHAT, EMBED], args=[*args, "--tier", "edge"]) as edge,
        NodeProcess([CHAT], args=[*args, "--tier", "cloud"]) as cloud,
    ):
        edge.wait_ready(timeout=300)
        cloud.wait_ready(timeout=300)
        host, port = cloud.url.removeprefix("http://").split(":")
        profile = LinkProfile(rtt_s=config.rtt_s, loss=config.loss)
        with LinkThread((host, int(port)), profile) as link:
            topology = _topology(config.workdir, edge.url, link.url)
            with GatewayProcess(config=str(topology)) as gateway:
                gateway.wait_ready(timeout=60)
                return _soak(
                    config, {"edge": edge, "cloud": cloud, "gateway": gateway}, link, gateway.url, on_sample
                )


def _soak(
    config: SoakConfig,
    processes: dict[str, ServiceProcess],
    link: LinkThread,
    url: str,
    on_sample: Callable[[str, float, float, int], None],
) -> SoakResult:
    result = SoakResult(config, Tally())
    for name, process in processes.items():
        assert process.process is not None
        result.series.append(Series(name, process.process.pid))
    stop = threading.Event()
    started = time.perf_counter()
    watchers = [
        threading.Thread(target=_sample, args=(result, started, stop, on_sample), daemon=True),
        threading.Thread(target=_flap, args=(result, link, stop), daemon=True),
    ]
    for watcher in watchers:
        watcher.start()
    try:
        asyncio.run(steady_load(url, config.rate, config.minutes * 60, EMBED, result.tally))
    finally:
        stop.set()
        for watcher in watchers:
            watcher.join(30)
        link.set_online(True)
    for series in result.series:  # the state the load left behind
        series.take(started)
    return result


def _sample(
    result: SoakResult,
    started: float,
    stop: threading.Event,
    on_sample: Callable[[str, float, float, int], None],
) -> None:
    while True:
        for series in result.series:
            sample = series.take(started)
            if sample is not None:
                on_sample(series.name, sample.at_s, sample.rss_mb, sample.fds)
        if stop.wait(result.config.sample_s):
            return


def _flap(result: SoakResult, link: LinkThread, stop: threading.Event) -> None:
    config = result.config
    while not stop.wait(config.flap_every_s):
        link.set_online(False)
        result.flaps += 1
        stopped = stop.wait(config.flap_for_s)
        link.set_online(True)
        if stopped:
            return
