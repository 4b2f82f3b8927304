"""Settings read from EDGECLOUD_* environment variables (pydantic-settings), overridden by CLI flags."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "edgecloud"


class NodeSettings(BaseSettings):
    """How a node serves its models. Every field can be set as EDGECLOUD_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="EDGECLOUD_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    tier: str = Field("edge", description="label for metrics: which tier this node serves")
    threads: int = Field(2, ge=1, description="CPU threads per engine (measure 1 vs 2 under load)")
    n_ctx: int | None = Field(
        None, ge=64, description="context window for decoders (default: min(model, 4096))"
    )
    max_queue: int = Field(16, ge=1, description="requests waiting per decoder before 429")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where transformers engines run: auto takes a CUDA GPU when torch sees one"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="weights on a CUDA device: auto is bf16 (fp16 without bf16); the CPU runs fp32"
    )
    n_gpu_layers: int | None = Field(
        None, ge=-1, description="llama.cpp layers on the GPU (-1 all; default: all on a CUDA device)"
    )
    max_batch: int | None = Field(
        None,
        ge=1,
        description="sequences decoded together per step (transformers decoders; 1 = no batching; "
        "default: 32 on the CPU, 256 on a GPU)",
    )
    max_batch_tokens: int | None = Field(
        None,
        ge=1,
        description="tokens one batching step may process: decode tokens plus prompts joining "
        "(default: 4096 on the CPU, 16384 on a GPU)",
    )
    max_body_bytes: int = Field(4 << 20, ge=1024, description="largest accepted request body")
    max_audio_bytes: int = Field(
        25 << 20, ge=1024, description="largest accepted audio upload (OpenAI allows 25 MB)"
    )
    max_audio_seconds: float = Field(
        1800.0, gt=0, description="longest accepted audio; longer is a 413, found while decoding"
    )
    embed_max_batch: int = Field(32, ge=1)
    embed_max_wait_ms: float = Field(5.0, ge=0)
    shutdown_timeout: float = Field(30.0, ge=0, description="seconds in-flight streams get on SIGTERM")
    draft_model: str | None = Field(
        None, description="speculative decoding: this model drafts for the node's llama.cpp chat models"
    )
    draft_k: int | None = Field(
        None, ge=0, le=16, description="tokens drafted per round (default: adapts to acceptance and cost)"
    )
    verify_url: str | None = Field(
        None, description="speculative decoding across a link: the node whose verify route checks drafts"
    )
    verify_key: str | None = Field(None, description="API key for the verify node")
    speculative_fallback: Literal["edge", "none"] = Field(
        "none", description="verifier unreachable: go on with the draft alone (edge) or fail (none)"
    )
    verify_sessions: int = Field(16, ge=1, description="verify route: sessions whose KV cache is kept")
    verify_ttl: float = Field(120.0, gt=0, description="verify route: seconds an idle session is kept")
    cache_dir: Path = Field(default_factory=default_cache_dir)
