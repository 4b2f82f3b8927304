"""The scenario file a fleet simulation runs: device classes (their engines, networks and workloads),
the cloud tier (replicas, batching throughput curve, queue limit, cold start, prices) and the gateway
policies, exactly as a gateway topology names them. Validated with pydantic; errors name the field and
the file line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edgecloud.errors import InvalidRequest
from edgecloud.gateway.policies import DEFAULT_ORDER, POLICIES
from edgecloud.gateway.topology import _key_lines, _nearest_line  # one YAML line finder for all configs

# Policies the simulator can run: each is a pure function of the request features and tier states.
# `router` embeds the prompt text, which a simulated request does not have.
SIMULATED_POLICIES = tuple(name for name in POLICIES if name != "router")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Lengths(_Strict):
    """A token-length distribution: lognormal around `median`, clipped to [minimum, maximum]."""

    median: float = Field(gt=0)
    sigma: float = Field(0.5, ge=0, description="log-space standard deviation; 0 = always the median")
    minimum: int = Field(1, ge=1)
    maximum: int = Field(8192, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Lengths:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} exceeds maximum {self.maximum}")
        return self


class TaskMix(_Strict):
    """One kind of work in a device class's mix."""

    task: str | None = Field(None, description="metadata.task the request carries (None: plain auto chat)")
    share: float = Field(gt=0, description="relative weight within the class's mix")
    kind: Literal["chat", "completion", "embedding"] = "chat"
    prompt_tokens: Lengths
    answer_tokens: Lengths
    max_tokens: int | None = Field(256, ge=1, description="the request's max_tokens (answers are capped)")
    stream: float = Field(0.0, ge=0, le=1, description="share of requests that stream")
    pii: float = Field(0.0, ge=0, le=1, description="share of prompts with PII the detectors find")
    privacy_local: float = Field(0.0, ge=0, le=1, description="share with metadata.privacy: local")
    hint_cloud: float = Field(0.0, ge=0, le=1, description="share with x-edgecloud-tier: cloud")
    escalation: float = Field(0.0, ge=0, le=1, description="share of cascade answers that escalate")


class Arrivals(_Strict):
    process: Literal["poisson", "diurnal", "bursts", "closed"] = "poisson"
    users: int = Field(1, ge=1, description="closed: clients that each wait for an answer, then ask again")
    round_requests: int = Field(
        0,
        ge=0,
        description="closed: requests per round; each round starts `users` requests at once when the last "
        "one's answer is in and round_gap_s has passed (a benchmark's rounds). 0: one continuous run",
    )
    round_gap_s: float = Field(0.0, ge=0, description="closed: idle time between rounds")
    peak_to_mean: float = Field(2.0, ge=1, description="diurnal: peak rate over mean rate")
    period_s: float = Field(86_400.0, gt=0, description="diurnal: length of one day")
    burst_share: float = Field(0.2, ge=0, le=1, description="bursts: share of requests inside bursts")
    bursts: int = Field(10, ge=1, description="bursts: how many over the run")
    burst_s: float = Field(30.0, gt=0, description="bursts: how long each lasts")


class Network(_Strict):
    rtt_ms_median: float = Field(40.0, ge=0)
    rtt_sigma: float = Field(0.4, ge=0, description="lognormal spread of the per-device RTT")
    bandwidth_mbit: float = Field(20.0, gt=0)
    outage: float = Field(0.0, ge=0, le=1, description="share of requests sent while the link is down")


class DeviceClass(_Strict):
    name: str
    count: int = Field(ge=1)
    traffic_share: float = Field(gt=0, description="relative share of all requests from this class")
    decode_tok_s: float = Field(gt=0, description="edge model decode speed, one stream")
    prefill_tok_s: float = Field(gt=0, description="edge model prompt processing speed")
    context_length: int = Field(2048, ge=1)
    max_queue: int = Field(8, ge=1, description="requests the edge node queues before it says full")
    active_power_w: float = Field(3.0, ge=0, description="device power while generating")
    offline: float = Field(0.0, ge=0, le=1, description="share of requests while the edge model is off")
    network: Network = Field(default_factory=Network)
    arrivals: Arrivals = Field(default_factory=Arrivals)
    mix: list[TaskMix] = Field(min_length=1)
    mix_order: Literal["random", "cycle"] = Field(
        "random",
        description="random: each request's kind drawn by share; cycle: kinds spread evenly in a fixed "
        "order, as a load generator's prompt list (e.g. `edgecloud bench scenario`) issues them",
    )
    mix_cycle: list[int] | None = Field(
        None,
        description="cycle: the mix entries (0-based) in the order they repeat, e.g. a bench report's "
        "cycle; default: each entry spread evenly by its share",
    )

    @model_validator(mode="after")
    def _cycle(self) -> DeviceClass:
        cycle = self.mix_cycle
        if cycle is not None and (not cycle or any(not 0 <= m < len(self.mix) for m in cycle)):
            raise ValueError(f"mix_cycle names mix entries 0..{len(self.mix) - 1}: {self.mix_cycle}")
        if cycle is not None and self.mix_order != "cycle":
            raise ValueError("mix_cycle needs mix_order: cycle")
        return self


class Price(_Strict):
    input_per_1k: float = Field(0.0, ge=0)
    output_per_1k: float = Field(0.0, ge=0)
    replica_per_hour: float = Field(0.0, ge=0)


class Cloud(_Strict):
    replicas: int = Field(2, ge=0)
    max_replicas: int | None = Field(None, ge=0, description="autoscale up to this many; None: fixed")
    scale_up_queue: int = Field(8, ge=1, description="queued requests per replica that add one")
    cold_start_s: float = Field(30.0, ge=0, description="seconds before an added replica serves")
    max_batch: int = Field(16, ge=1, description="sequences decoded together per replica")
    throughput: list[tuple[int, float]] = Field(
        default_factory=lambda: [(1, 60.0), (4, 200.0), (16, 480.0)],
        description="[concurrency, total decode tok/s] points per replica, e.g. from bench batching",
    )
    prefill_tok_s: float = Field(4000.0, gt=0)
    queue_limit: int = Field(512, ge=0, description="queued requests before the cloud answers 429")
    context_length: int = Field(8192, ge=1)
    price: Price = Field(default_factory=Price)

    @model_validator(mode="after")
    def _curve(self) -> Cloud:
        points = [c for c, _ in self.throughput]
        if not points or points != sorted(set(points)) or points[0] < 1:
            raise ValueError("throughput concurrency points must be increasing integers >= 1")
        if any(rate <= 0 for _, rate in self.throughput):
            raise ValueError("throughput rates must be positive")
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise ValueError(f"max_replicas {self.max_replicas} is below replicas {self.replicas}")
        return self


class Gateway(_Strict):
    """The placement part of a gateway topology: the same names and settings `edgecloud gateway` takes."""

    policies: list[str] = Field(default_factory=lambda: [n for n in DEFAULT_ORDER if n in SIMULATED_POLICIES])
    policy_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    probe_interval_s: float = Field(2.0, gt=0, description="how often tiers report their queue depth")

    @model_validator(mode="after")
    def _known(self) -> Gateway:
        unknown = [p for p in self.policies if p not in SIMULATED_POLICIES]
        if unknown:
            raise ValueError(f"policies {unknown} cannot be simulated; use {', '.join(SIMULATED_POLICIES)}")
        return self


class Slo(_Strict):
    ttft_ms: float = Field(800.0, gt=0)
    e2e_ms: float | None = Field(None, gt=0)


class Scenario(_Strict):
    name: str = "scenario"
    seed: int = 0
    requests: int = Field(ge=1)
    duration_s: float = Field(gt=0, description="simulated span the arrivals cover")
    devices: list[DeviceClass] = Field(min_length=1)
    cloud: Cloud = Field(default_factory=Cloud)
    gateway: Gateway = Field(default_factory=Gateway)
    slo: Slo = Field(default_factory=Slo)

    @model_validator(mode="after")
    def _names(self) -> Scenario:
        names = [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise ValueError(f"device class names must be unique: {names}")
        if any(d.arrivals.process == "closed" for d in self.devices) and len(self.devices) > 1:
            raise ValueError("closed-loop arrivals (a benchmark's clients) need a single device class")
        return self

    @property
    def closed_users(self) -> int:
        """Closed-loop clients (0: open-loop arrivals at the drawn times)."""
        first = self.devices[0].arrivals
        return first.users if first.process == "closed" else 0


def load_scenario(path: Path) -> Scenario:
    """The scenario in a YAML file; InvalidRequest naming each bad field and its line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidRequest(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"{path}: not valid YAML: {exc}") from None
    return parse_scenario(raw, path, _key_lines(text))


def parse_scenario(
    raw: Any, path: Path | None = None, lines: dict[tuple[str, ...], int] | None = None
) -> Scenario:
    if not isinstance(raw, dict):
        raise InvalidRequest(f"{path or 'scenario'}: the top level must be a mapping")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            line = _nearest_line(loc, lines or {})
            where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
            problems.append(f"{where}{'.'.join(loc) or '(top level)'}: {error['msg']}")
        raise InvalidRequest("invalid scenario:\n  " + "\n  ".join(problems)) from None
