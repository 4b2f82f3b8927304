"""Loading the bench's engines on a chosen device, and the requests it sends them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from edgecloud.catalogue import Catalogue, LocalPath, ModelSpec
from edgecloud.runtimes.base import ChatMessage, InferenceRequest, Prepared, SamplingParams
from edgecloud.runtimes.device import Device
from edgecloud.runtimes.transformers import TransformersDecoder, TransformersEncoder


def local_spec(catalogue: Catalogue, model: str, runtime: str = "transformers") -> ModelSpec:
    """A catalogue name or a path, materialised, forced onto the transformers runtime."""
    spec = catalogue.resolve(model)
    if spec.kind not in ("embedding", "classification"):
        spec = replace(spec, runtime=runtime)  # type: ignore[arg-type]
    if isinstance(spec.source, LocalPath) and Path(spec.source.path).exists():
        return spec
    return replace(spec, source=LocalPath(catalogue.materialize(spec)))


def load_decoder(spec: ModelSpec, device: Device, n_ctx: int, threads: int | None) -> TransformersDecoder:
    decoder = TransformersDecoder(n_threads=threads, n_ctx=n_ctx, device=device)
    decoder.load(spec)
    return decoder


def load_encoder(spec: ModelSpec, device: Device, threads: int | None) -> TransformersEncoder:
    encoder = TransformersEncoder(n_threads=threads, device=device)
    encoder.load(spec)
    return encoder


def greedy_chat(decoder: TransformersDecoder, prompt: str, max_tokens: int, request_id: str) -> Prepared:
    request = InferenceRequest(
        request_id=request_id,
        kind="chat",
        messages=(ChatMessage("user", prompt),),
        sampling=SamplingParams(max_tokens=max_tokens, temperature=0.0),
    )
    return decoder.preprocess(request)
