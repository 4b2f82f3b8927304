"""The gateway's topology: tiers, their upstreams, prices, timeouts and the policy chain. Read from
YAML (errors name the field and the file line), from --edge/--cloud flags, and overridden by
EDGECLOUD_GATEWAY__* environment variables (e.g. EDGECLOUD_GATEWAY__TIERS__CLOUD__PRICE__OUTPUT_PER_1K)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edgecloud.errors import InvalidRequest

ENV_PREFIX = "EDGECLOUD_GATEWAY__"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Timeouts(_Strict):
    connect: float = Field(2.0, gt=0, description="seconds to open a connection")
    first_token: float = Field(30.0, gt=0, description="seconds without a byte from the upstream")
    total: float = Field(300.0, gt=0, description="seconds for the whole request")


class Price(_Strict):
    input_per_1k: float = Field(0.0, ge=0)
    output_per_1k: float = Field(0.0, ge=0)


class UpstreamConfig(_Strict):
    url: str
    api_key_env: str | None = Field(None, description="environment variable holding the upstream's key")
    health_path: str = "/health"
    ca_file: Path | None = Field(None, description="CA bundle that signs this upstream's TLS certificate")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class TierConfig(_Strict):
    upstreams: list[UpstreamConfig] = Field(min_length=1)
    chat_model: str | None = Field(None, description="what `auto` means on this tier")
    embedding_model: str | None = None
    context_length: int | None = Field(None, ge=1, description="of the chat model; else discovered")
    price: Price = Field(default_factory=Price)
    timeouts: Timeouts = Field(default_factory=Timeouts)


class BreakerConfig(_Strict):
    failures: int = Field(5, ge=1, description="consecutive failures that open the breaker")
    cooldown_s: float = Field(10.0, gt=0, description="seconds before one probe request is let through")


class RetryConfig(_Strict):
    attempts: int = Field(3, ge=1, description="tries per tier on connect errors and 502/503/504")
    backoff_ms: float = Field(25.0, ge=0, description="base of the jittered exponential backoff")
    failover: bool = Field(True, description="try the other tier when the chosen one fails")


class Topology(_Strict):
    tiers: dict[str, TierConfig]
    policies: list[str] = Field(
        default_factory=lambda: ["privacy", "hint", "task", "offline", "cost", "router", "latency", "cascade"]
    )
    policy_settings: dict[str, dict[str, Any]] = Field(default_factory=dict)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    retries: RetryConfig = Field(default_factory=RetryConfig)
    probe_interval_s: float = Field(2.0, gt=0)
    upstream_ca: Path | None = Field(None, description="CA bundle for every https upstream without its own")
    decision_log: Path | None = None
    log_prompts: bool = False
    max_body_bytes: int = Field(4 << 20, ge=1024)
    max_audio_bytes: int = Field(25 << 20, ge=1024)  # an audio upload (OpenAI allows 25 MB)


def topology_from_urls(edge: str, cloud: str | None) -> dict[str, Any]:
    tiers: dict[str, Any] = {"edge": {"upstreams": [{"url": edge}]}}
    if cloud:
        tiers["cloud"] = {"upstreams": [{"url": cloud}]}
    return {"tiers": tiers}


def load_topology(
    path: Path | None = None,
    *,
    edge: str | None = None,
    cloud: str | None = None,
    env: dict[str, str] | None = None,
) -> Topology:
    """File values, then --edge/--cloud flags, then environment overrides."""
    raw: dict[str, Any] = {}
    lines: dict[tuple[str, ...], int] = {}
    if path is not None:
        text = path.read_text()
        raw = yaml.safe_load(text) or {}
        lines = _key_lines(text)
    if edge or cloud:
        flags = topology_from_urls(
            edge or raw.get("tiers", {}).get("edge", {}).get("upstreams", [{}])[0].get("url", ""), cloud
        )
        for name, tier in flags["tiers"].items():
            raw.setdefault("tiers", {}).setdefault(name, {})["upstreams"] = tier["upstreams"]
    _apply_env(raw, os.environ if env is None else env)
    try:
        return Topology.model_validate(raw)
    except ValidationError as exc:
        raise InvalidRequest(_describe(exc, path, lines)) from None


def _apply_env(raw: dict[str, Any], env: Any) -> None:
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [part.lower() for part in key[len(ENV_PREFIX) :].split("__")]
        node = raw
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(value)


def _describe(exc: ValidationError, path: Path | None, lines: dict[tuple[str, ...], int]) -> str:
    problems = []
    for error in exc.errors():
        loc = tuple(str(part) for part in error["loc"])
        line = _nearest_line(loc, lines)
        where = f"{path}:{line}: " if path and line else (f"{path}: " if path else "")
        problems.append(f"{where}{'.'.join(loc)}: {error['msg']}")
    return "invalid gateway topology:\n  " + "\n  ".join(problems)


def _nearest_line(loc: tuple[str, ...], lines: dict[tuple[str, ...], int]) -> int | None:
    for size in range(len(loc), 0, -1):
        if loc[:size] in lines:
            return lines[loc[:size]]
    return None


def _key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Maps each mapping key path (list items by index) to its 1-based line in the YAML file."""
    found: dict[tuple[str, ...], int] = {}

    def walk(node: yaml.Node, prefix: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = (*prefix, str(key.value))
                found[path] = key.start_mark.line + 1
                walk(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                path = (*prefix, str(index))
                found[path] = item.start_mark.line + 1
                walk(item, path)

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return found
