"""Engines behind the Runtime contract, and the one place that picks an engine for a ModelSpec."""

from __future__ import annotations

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest
from edgecloud.runtimes.base import Capability, Runtime
from edgecloud.runtimes.device import CPU, Device

__all__ = ["Capability", "Runtime", "create_runtime", "planned_device"]


def planned_device(spec: ModelSpec, device: Device) -> str:
    """Where create_runtime's engine for `spec` will run on `device` (what `models list` shows before
    anything is loaded; /health reports the loaded engine's own answer)."""
    if spec.runtime == "remote":
        return "remote"
    if spec.runtime == "llamacpp":
        from edgecloud.runtimes.llamacpp import gpu_offload_supported

        return "cuda (all layers)" if device.kind == "cuda" and gpu_offload_supported() else "cpu"
    if spec.runtime == "transformers" and spec.quantization != "dynamic-int8":
        return device.label
    return "cpu"  # onnx, whisper and dynamic-int8 engines use CPU kernels


def create_runtime(
    spec: ModelSpec,
    *,
    threads: int,
    n_ctx: int | None = None,
    verify_sessions: int = 16,
    verify_ttl: float = 120.0,
    device: Device = CPU,
    n_gpu_layers: int | None = None,
) -> Runtime:
    """The engine for a spec: llama.cpp for GGUF, transformers for HF folders (or a GGUF file when the
    spec asks for the transformers runtime: dequantised full precision), remote for URLs. `device` is
    where the transformers engines run (dynamic-int8 and whisper models stay on the CPU); llama.cpp
    offloads `n_gpu_layers` when its build has a GPU backend (None: all layers on a CUDA device)."""
    if spec.runtime == "llamacpp":
        from edgecloud.runtimes.llamacpp import LlamaCppRuntime

        if n_gpu_layers is None:
            n_gpu_layers = -1 if device.kind == "cuda" else 0
        return LlamaCppRuntime(
            n_ctx=n_ctx,
            n_threads=threads,
            verify_sessions=verify_sessions,
            verify_ttl=verify_ttl,
            n_gpu_layers=n_gpu_layers,
        )
    if spec.runtime == "onnx":
        from edgecloud.runtimes.onnx import OnnxEncoder

        return OnnxEncoder(n_threads=threads)
    if spec.runtime == "transformers" and spec.kind == "classification":  # fp32 or dynamic-int8 folders
        from edgecloud.runtimes.classifier import TransformersClassifier

        return TransformersClassifier(n_threads=threads, device=device)
    if spec.runtime == "transformers" and spec.quantization == "dynamic-int8":
        from edgecloud.runtimes.int8 import Int8Decoder, Int8Encoder

        return Int8Encoder(n_threads=threads) if spec.kind == "embedding" else Int8Decoder(n_threads=threads)
    if spec.runtime == "transformers":
        from edgecloud.runtimes.transformers import TransformersDecoder, TransformersEncoder

        if spec.kind == "embedding":
            return TransformersEncoder(n_threads=threads, device=device)
        return TransformersDecoder(n_threads=threads, n_ctx=n_ctx, device=device)
    if spec.runtime == "whisper":
        from edgecloud.runtimes.whisper import WhisperRuntime

        return WhisperRuntime(n_threads=threads)
    if spec.runtime == "remote":
        from edgecloud.runtimes.remote import RemoteRuntime

        return RemoteRuntime(
            spec.options["base_url"], model=spec.options.get("model"), api_key=spec.options.get("api_key")
        )
    raise InvalidRequest(f"unknown runtime {spec.runtime!r}")
