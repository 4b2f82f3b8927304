"""ONNX Runtime sentence encoder for folders the optimizer wrote (`model.onnx` + tokenizer files).

It pools and normalises exactly like the transformers encoder (mean over real tokens, L2 norm, truncation
at sentence_bert_config's max_seq_length), so an exported model serves the same vectors its report
measured."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, ModelFileError
from edgecloud.runtimes.base import Capability, InferenceRequest, InferenceResult, Prepared, StepOutput

MODEL_FILE = "model.onnx"


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """[batch, tokens, dim] -> [batch, dim]: mean over unmasked tokens, then L2-normalised."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)


def onnx_session(path: Path, threads: int | None) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxEncoder:
    """Sentence embeddings from an ONNX graph whose first output is last_hidden_state."""

    capabilities = frozenset({Capability.EMBEDDING})

    def __init__(self, *, n_threads: int | None = None) -> None:
        self._n_threads = n_threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: tuple[str, ...] = ()
        self.context_length = 512
        self.forward_passes = 0

    def load(self, spec: ModelSpec) -> None:
        from transformers import AutoTokenizer

        from edgecloud.runtimes.transformers import _max_seq_length

        path = getattr(spec.source, "path", None)
        if path is None or not (Path(path) / MODEL_FILE).is_file():
            raise ModelFileError(f"model {spec.name!r}: no {MODEL_FILE} in {path}")
        folder = Path(path)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._session = onnx_session(folder / MODEL_FILE, self._n_threads)
        self._inputs = tuple(i.name for i in self._session.get_inputs())
        self.context_length = _max_seq_length(folder, spec.context_length)

    def preprocess(self, request: InferenceRequest) -> Prepared:
        if request.kind != "embedding":
            raise InvalidRequest(f"this encoder does not serve {request.kind} requests", param="model")
        encoded = self._tokenizer(list(request.inputs), truncation=True, max_length=self.context_length)
        return Prepared(request=request, state=sum(len(ids) for ids in encoded["input_ids"]))

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        texts = [text for prepared in batch for text in prepared.request.inputs]
        vectors = self.embed(texts)
        start = 0
        for prepared in batch:
            end = start + len(prepared.request.inputs)
            yield StepOutput(prepared, vectors=vectors[start:end])
            start = end

    def encode(self, texts: list[str]) -> dict[str, np.ndarray]:
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.context_length, return_tensors="np"
        )
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self._inputs if name in encoded}
        for name in self._inputs:  # a graph that takes token_type_ids gets zeros if the tokenizer has none
            feeds.setdefault(name, np.zeros_like(feeds["input_ids"]))
        return feeds

    def embed(self, texts: list[str]) -> np.ndarray:
        feeds = self.encode(texts)
        hidden = self._session.run(None, feeds)[0]
        self.forward_passes += 1
        return mean_pool(hidden, feeds["attention_mask"])

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return InferenceResult(embeddings=raw.vectors, prompt_tokens=int(raw.prepared.state))

    def close(self) -> None:
        self._session = None
