"""Sequence classifiers from HF `AutoModelForSequenceClassification` folders (e.g. the sentiment
classifier `edgecloud train classifier` writes, or its dynamic-int8 copy from `edgecloud optimize`):
one forward pass per batch of texts, label probabilities out.

A folder may carry `edgecloud_pooling: "mean"` in its config.json: the classifier head then reads the
attention-masked mean of the last hidden states (optionally L2-normalised, `edgecloud_normalize`)
instead of BERT's CLS pooler. That is how a logistic regression trained on frozen sentence embeddings
is served exactly as it was trained. Without the flag the model runs as plain transformers does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import InvalidRequest, ModelFileError
from edgecloud.runtimes.base import Capability, InferenceRequest, InferenceResult, Prepared, StepOutput
from edgecloud.runtimes.device import CPU, Device

POOLING_KEY = "edgecloud_pooling"  # "cls" (transformers' own head) or "mean"
NORMALIZE_KEY = "edgecloud_normalize"  # L2-normalise the mean-pooled vector first
MAX_LENGTH_KEY = "edgecloud_max_length"  # the truncation length the model was trained with
INT8_WEIGHTS = "model.int8.safetensors"  # edgecloud.optimize.int8.WEIGHTS_FILE
CHUNK = 64  # texts per forward pass inside one batch: bounds activation memory


def classifier_logits(model: Any, encoded: Any, pooling: str = "cls", normalize: bool = False) -> Any:
    """Logits of a sequence-classification model under the folder's pooling; training uses the same
    function, so what is served is what was measured."""
    import torch

    if pooling == "cls":
        return model(**encoded).logits
    hidden = model.base_model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    if normalize:
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return model.classifier(model.dropout(pooled) if hasattr(model, "dropout") else pooled)


def pooling_of(config: Any) -> tuple[str, bool]:
    pooling = str(getattr(config, POOLING_KEY, None) or "cls")
    if pooling not in ("cls", "mean"):
        raise ModelFileError(f"{POOLING_KEY} must be 'cls' or 'mean', not {pooling!r}")
    return pooling, bool(getattr(config, NORMALIZE_KEY, False))


def _load_model(path: Path, model_class: Any, device: Device = CPU) -> Any:
    """fp32 safetensors, or the int8 file `edgecloud optimize quantize --method dynamic-int8` writes
    (the config, and with it the pooling flags, is the source folder's)."""
    if (path / INT8_WEIGHTS).is_file():
        from edgecloud.optimize.int8 import load_int8

        return load_int8(path, model_class)
    from edgecloud.runtimes.transformers import on_device

    return on_device(model_class.from_pretrained(path), device)


class TransformersClassifier:
    """Label probabilities for a list of texts; the labels come from the folder's id2label."""

    capabilities = frozenset({Capability.CLASSIFICATION})

    def __init__(self, *, n_threads: int | None = None, device: Device = CPU) -> None:
        self._n_threads = n_threads
        self._model: Any = None
        self._tokenizer: Any = None
        self._pooling = "cls"
        self._normalize = False
        self.labels: tuple[str, ...] = ()
        self.context_length = 512
        self.forward_passes = 0
        # int8 folders hold CPU kernels (dynamic quantisation): they stay on the CPU whatever is asked
        self.device = device

    @property
    def device_label(self) -> str:
        return self.device.label

    def load(self, spec: ModelSpec) -> None:
        path = getattr(spec.source, "path", None)
        if path is None:
            raise ModelFileError(f"model {spec.name!r} has no local files; materialise it first")
        self.load_folder(Path(path), spec.context_length)

    def load_folder(self, path: Path, context_length: int = 512) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if self._n_threads:
            torch.set_num_threads(self._n_threads)
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        if (path / INT8_WEIGHTS).is_file():
            self.device = CPU
        self._model = _load_model(path, AutoModelForSequenceClassification, self.device)
        config = self._model.config
        self._pooling, self._normalize = pooling_of(config)
        id2label = {int(k): str(v) for k, v in config.id2label.items()}
        self.labels = tuple(id2label[i] for i in sorted(id2label))
        self.context_length = int(getattr(config, MAX_LENGTH_KEY, None) or context_length)

    @property
    def model(self) -> Any:
        """The loaded torch module (the cascade report quantises it in place of an exported copy)."""
        return self._model

    @model.setter
    def model(self, value: Any) -> None:
        self._model = value

    def preprocess(self, request: InferenceRequest) -> Prepared:
        if request.kind != "classification":
            raise InvalidRequest(f"this classifier does not serve {request.kind} requests", param="model")
        encoded = self._tokenizer(list(request.inputs), truncation=True, max_length=self.context_length)
        tokens = sum(len(ids) for ids in encoded["input_ids"])
        return Prepared(request=request, tokens=[], max_tokens=0, state=tokens)

    def infer(self, batch: Sequence[Prepared]) -> Iterator[StepOutput]:
        """One pass over every text of every request in the batch (in chunks of CHUNK texts)."""
        texts = [text for prepared in batch for text in prepared.request.inputs]
        probabilities = self.probabilities(texts)
        start = 0
        for prepared in batch:
            end = start + len(prepared.request.inputs)
            yield StepOutput(prepared, vectors=probabilities[start:end])
            start = end

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Softmax over the labels, one row per text, in the labels' order."""
        import torch

        rows = []
        for begin in range(0, len(texts), CHUNK):
            encoded = self._tokenizer(
                list(texts[begin : begin + CHUNK]),
                padding=True,
                truncation=True,
                max_length=self.context_length,
                return_tensors="pt",
            ).to(self.device.torch_device)
            with torch.inference_mode():
                logits = classifier_logits(self._model, encoded, self._pooling, self._normalize)
            rows.append(torch.softmax(logits.float(), dim=-1).cpu().numpy())
            self.forward_passes += 1
        if not rows:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return np.concatenate(rows).astype(np.float32)

    def postprocess(self, raw: StepOutput) -> InferenceResult:
        return InferenceResult(scores=raw.vectors, prompt_tokens=int(raw.prepared.state))

    def close(self) -> None:
        self._model = None
