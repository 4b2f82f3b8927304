"""PyTorch/transformers engines: sentence encoders (mean-pooled, L2-normalised, matching
sentence-transformers) and full-precision decoders from HF folders or dequantised GGUF files."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, ModelFileError
from edgecloud.runtimes import hf_cache
from edgecloud.runtimes.base import Capability, InferenceRequest, InferenceResult, Prepared, StepOutput
from edgecloud.runtimes.device import CPU, Device
from edgecloud.runtimes.gguf_hf import load_gguf_decoder
from edgecloud.runtimes.hf_detok import HFDetokenizer
from edgecloud.runtimes.textstream import DecodeState, StopMatcher, decoder_postprocess, token_budget

if TYPE_CHECKING:
    from edgecloud.runtimes.transformers_batch import DecodeBatch


def _local_path(spec: ModelSpec) -> Path:
    path = getattr(spec.source, "path", None)
    if path is None:
        raise ModelFileError(f"model {spec.name!r} has no local files; materialise it first")
    return Path(path)


class TransformersEncoder:
    """Sentence embeddings the way sentence-transformers computes them for MiniLM-style models."""

    capabilities = frozenset({Capability.EMBEDDING})

    def __init__(self, *, n_threads: int | None = None, device: Device = CPU) -> None:
        self._n_threads = n_threads
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self.context_length = 512
        self.forward_passes = 0

    @property
    def device_label(self) -> str:
        return self.device.label

    def load(self, spec: ModelSpec) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        if self._n_threads:
            torch.set_num_threads(self._n_threads)
        path = _local_path(spec)
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = on_device(AutoModel.from_pretrained(path), self.device)
        self.context_length = _max_seq_length(path, spec.context_length)

    def preprocess(self, request: InferenceRequest) -> Prepared:
        if request.kind != "embedding":
            raise InvalidRequest(f"this encoder does not serve {request.kind} requests", param="model")
        counts = [
            len(ids)
            for ids in self._tokenizer(list(request.inputs), truncation=True, max_length=self.context_length)[
                "input_ids"
            ]
        ]
        return Prepared(request=request, tokens=[], max_tokens=0, state=sum(counts))

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        """One forward pass over every text of every request in the batch."""
        texts = [text for prepared in batch for text in prepared.request.inputs]
        vectors = self.embed(texts)
        start = 0
        for prepared in batch:
            end = start + len(prepared.request.inputs)
            yield StepOutput(prepared, vectors=vectors[start:end])
            start = end

    def embed(self, texts: list[str]) -> np.ndarray:
        import torch

        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.context_length, return_tensors="pt"
        ).to(self.device.torch_device)
        with torch.inference_mode():
            hidden = self._model(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        normalised = torch.nn.functional.normalize(pooled, p=2, dim=1)
        self.forward_passes += 1
        return np.asarray(normalised.float().cpu().numpy(), dtype=np.float32)

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return InferenceResult(embeddings=raw.vectors, prompt_tokens=int(raw.prepared.state))

    def close(self) -> None:
        self._model = None


def on_device(model: Any, device: Device) -> Any:
    """The model in eval mode on `device`, in the device's dtype (a no-op for fp32 on the CPU; a folder
    saved in half precision is widened there, since CPU kernels are fp32)."""
    return model.to(device=device.torch_device, dtype=device.torch_dtype).eval()


def _max_seq_length(path: Path, default: int) -> int:
    """sentence-transformers truncates at sentence_bert_config's max_seq_length, so we do too."""
    config = path / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", default))
    return default


class TransformersDecoder:
    """A full-precision causal LM. `infer` runs one sequence with its own KV cache; `open_batch` gives
    the continuous batch the node's scheduler drives (sequences join and leave between steps)."""

    capabilities = frozenset({Capability.CHAT, Capability.COMPLETION, Capability.LOGPROBS})

    def __init__(
        self, *, n_threads: int | None = None, n_ctx: int | None = None, device: Device = CPU
    ) -> None:
        self._n_threads = n_threads
        self._n_ctx = n_ctx
        self.device = device
        self._model: Any = None
        self._tokenizer: Any = None
        self._default_system: str | None = None
        self.context_length = 2048

    def load(self, spec: ModelSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self._n_threads:
            torch.set_num_threads(self._n_threads)
        path = _local_path(spec)
        if path.is_file() and path.suffix == ".gguf":  # dequantised to fp32 once, then kept
            self._tokenizer, model = load_gguf_decoder(path)
        else:
            self._tokenizer = AutoTokenizer.from_pretrained(path)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
        self._model = on_device(model, self.device)
        self.context_length = min(self._n_ctx or spec.context_length, spec.context_length)
        self._default_system = spec.default_system_prompt

    def preprocess(self, request: InferenceRequest) -> Prepared:
        tok = self._tokenizer
        if request.sampling.echo:  # a silently missing echo would score as nothing in an eval harness
            raise InvalidRequest("echo is served by llama.cpp models only", param="echo")
        if request.kind == "chat":
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
            if self._default_system and not any(m["role"] == "system" for m in messages):
                messages.insert(0, {"role": "system", "content": self._default_system})
            if not getattr(tok, "chat_template", None):
                raise InvalidRequest("this model has no chat template; use /v1/completions", param="model")
            tokens = list(
                tok.apply_chat_template(
                    messages, add_generation_prompt=True, tokenize=True, return_dict=False
                )
            )
        elif request.kind == "completion":
            tokens = list(tok(request.prompt)["input_ids"])
        else:
            raise InvalidRequest(f"this decoder does not serve {request.kind} requests", param="model")
        max_tokens = token_budget(len(tokens), request.sampling.max_tokens, self.context_length)
        state = DecodeState(
            detokenizer=HFDetokenizer(tok, tokens),
            stops=StopMatcher(request.sampling.stop),
            piece=self._piece,
        )
        return Prepared(request=request, tokens=tokens, max_tokens=max_tokens, state=state)

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        """One sequence, token by token, with its own cache: the reference the batch is checked against."""
        import torch

        from edgecloud.runtimes.transformers_batch import new_generator, step_output

        if len(batch) != 1:
            raise ValueError("the transformers decoder runs one sequence at a time; use open_batch()")
        prepared = batch[0]
        generator = new_generator(prepared.request.sampling.seed)
        eos = set(_eos_ids(self._model, self._tokenizer))
        where = self.device.torch_device
        input_ids = torch.tensor([prepared.tokens], device=where)
        past: Any = None
        with torch.inference_mode():
            for produced in range(1, prepared.max_tokens + 1):
                logits, past = hf_cache.forward(self._model, past, input_ids=input_ids)
                logprobs = torch.log_softmax(logits[0, -1].float(), dim=-1)
                output, token = step_output(prepared, logprobs, generator, produced, eos, _sample)
                yield output
                if token is None:
                    return
                input_ids = torch.tensor([[token]], device=where)

    @property
    def can_batch(self) -> bool:
        """Whether open_batch() works for this model (full-attention caches only)."""
        from transformers import DynamicCache

        from edgecloud.runtimes.transformers_batch import cache_is_batchable

        return self._model is not None and cache_is_batchable(DynamicCache(config=self._model.config))

    def open_batch(self) -> DecodeBatch:
        """A continuous batch over this model, for the node's batching scheduler (one thread owns it)."""
        from edgecloud.runtimes.transformers_batch import DecodeBatch

        return DecodeBatch(
            self._model, set(_eos_ids(self._model, self._tokenizer)), _sample, self.device.torch_device
        )

    @property
    def device_label(self) -> str:
        return self.device.label

    @property
    def model(self) -> Any:
        """The loaded torch module (the GPU bench times its bare forward pass)."""
        return self._model

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return decoder_postprocess(raw)

    def close(self) -> None:
        self._model = None

    def _piece(self, token: int) -> bytes:
        return str(self._tokenizer.decode([token])).encode("utf-8")


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = model.generation_config.eos_token_id if model.generation_config else None
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return list(ids) if isinstance(ids, list | tuple) else [int(ids)]


def _sample(logprobs: Any, temperature: float, top_p: float, generator: Any) -> int:
    import torch

    if temperature <= 0:
        return int(torch.argmax(logprobs).item())
    logprobs = logprobs.cpu()  # the request's seeded generator lives on the CPU, whatever the device
    probs = torch.softmax(logprobs / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(sorted_probs, dim=-1) - sorted_probs < top_p
        filtered = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        probs = filtered / filtered.sum()
    return int(torch.multinomial(probs, 1, generator=generator).item())
