"""Engines behind the Runtime contract, and the one place that picks an engine for a ModelSpec."""

from __future__ import annotations

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.base import Capability, Runtime

__all__ = ["Capability", "Runtime", "create_runtime"]


def create_runtime(
    spec: ModelSpec,
    *,
    threads: int,
    n_ctx: int | None = None,
    verify_sessions: int = 16,
    verify_ttl: float = 120.0,
) -> Runtime:
    """The engine for a spec: llama.cpp for GGUF, transformers for HF folders (or a GGUF file when the
    spec asks for the transformers runtime: dequantised full precision), remote for URLs."""
    if spec.runtime == "llamacpp":
        from edgecloud.runtimes.llamacpp import LlamaCppRuntime

        return LlamaCppRuntime(
            n_ctx=n_ctx, n_threads=threads, verify_sessions=verify_sessions, verify_ttl=verify_ttl
        )
    if spec.runtime == "onnx":
        from edgecloud.runtimes.onnx import OnnxEncoder

        return OnnxEncoder(n_threads=threads)
    if spec.runtime == "transformers" and spec.kind == "classification":  # fp32 or dynamic-int8 folders
        from edgecloud.runtimes.classifier import TransformersClassifier

        return TransformersClassifier(n_threads=threads)
    if spec.runtime == "transformers" and spec.quantization == "dynamic-int8":
        from edgecloud.runtimes.int8 import Int8Decoder, Int8Encoder

        return Int8Encoder(n_threads=threads) if spec.kind == "embedding" else Int8Decoder(n_threads=threads)
    if spec.runtime == "transformers":
        from edgecloud.runtimes.transformers import TransformersDecoder, TransformersEncoder

        if spec.kind == "embedding":
            return TransformersEncoder(n_threads=threads)
        return TransformersDecoder(n_threads=threads, n_ctx=n_ctx)
    if spec.runtime == "whisper":
        from edgecloud.runtimes.whisper import WhisperRuntime

        return WhisperRuntime(n_threads=threads)
    if spec.runtime == "remote":
        from edgecloud.runtimes.remote import RemoteRuntime

        return RemoteRuntime(
            spec.options["base_url"], model=spec.options.get("model"), api_key=spec.options.get("api_key")
        )
    raise InvalidRequest(f"unknown runtime {spec.runtime!r}")
