"""A model under measurement, whatever its format: an fp32 HF folder, our int8 safetensors folder or an
ONNX folder, loaded the way the node loads it, with one `forward` from token arrays to its first output
(token embeddings for encoders, logits for classifiers and decoders)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.optimize.artifact import ModelKind, model_kind, read_manifest, size_on_disk

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True)
class Subject:
    label: str
    path: Path
    kind: ModelKind
    format: str
    size_bytes: int
    parameters: int
    load_seconds: float
    tokenizer: Any
    max_length: int
    input_names: tuple[str, ...]
    forward: Callable[[Feeds], np.ndarray]

    def encode(self, texts: list[str]) -> Feeds:
        encoded = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feeds = {
            name: np.asarray(encoded[name], dtype=np.int64) for name in self.input_names if name in encoded
        }
        for name in self.input_names:
            feeds.setdefault(name, np.zeros_like(feeds["input_ids"]))
        return feeds


def max_length_of(folder: Path, default: int = 128) -> int:
    """sentence-transformers' max_seq_length (what the node truncates at), else a CPU-friendly 128."""
    config = folder / "sentence_bert_config.json"
    if config.is_file():
        return int(json.loads(config.read_text()).get("max_seq_length", default))
    return default


def _model_class(kind: ModelKind) -> Any:
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

    return {"embedding": AutoModel, "classifier": AutoModelForSequenceClassification}.get(
        kind, AutoModelForCausalLM
    )


def _torch_forward(model: Any) -> Callable[[Feeds], np.ndarray]:
    import torch

    def forward(feeds: Feeds) -> np.ndarray:
        with torch.inference_mode():
            out = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}, return_dict=True)
        first = out.logits if hasattr(out, "logits") else out.last_hidden_state
        return np.asarray(first.float().numpy())

    return forward


def _onnx_forward(session: Any) -> Callable[[Feeds], np.ndarray]:
    def forward(feeds: Feeds) -> np.ndarray:
        return np.asarray(session.run(None, feeds)[0])

    return forward


def load_subject(path: Path, label: str, *, threads: int) -> Subject:
    """Loads a folder (timed: tokenizer and weights) in the format its manifest names."""
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(threads)
    manifest = read_manifest(path)
    weight_format = manifest.format if manifest else "hf"
    kind = manifest.kind if manifest else model_kind(path)
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path)
    if kind == "decoder" and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if weight_format == "onnx":
        from edgecloud.optimize.onnx_export import MODEL_FILE
        from edgecloud.runtimes.onnx import onnx_session

        session = onnx_session(path / MODEL_FILE, threads)
        forward, names = _onnx_forward(session), tuple(i.name for i in session.get_inputs())
        parameters = _onnx_parameters(path / MODEL_FILE)
    else:
        model = _load_torch(path, kind, weight_format)
        forward, names = _torch_forward(model), _torch_inputs(model, kind)
        parameters = _torch_parameters(model)
    seconds = time.perf_counter() - started
    return Subject(
        label,
        path,
        kind,
        weight_format,
        size_on_disk(path),
        parameters,
        seconds,
        tokenizer,
        max_length_of(path),
        names,
        forward,
    )


def _load_torch(path: Path, kind: ModelKind, weight_format: str) -> Any:
    import torch

    cls = _model_class(kind)
    if weight_format == "int8-safetensors":
        from edgecloud.optimize.int8 import load_int8

        return load_int8(path, cls)
    return cls.from_pretrained(path, dtype=torch.float32).eval()


def _torch_inputs(model: Any, kind: ModelKind) -> tuple[str, ...]:
    names: tuple[str, ...] = ("input_ids", "attention_mask")
    if kind != "decoder" and int(getattr(model.config, "type_vocab_size", 0) or 0) > 0:
        names += ("token_type_ids",)
    return names


def _torch_parameters(model: Any) -> int:
    from edgecloud.optimize.int8 import int8_parameter_count

    return int(int8_parameter_count(model))


def _onnx_parameters(path: Path) -> int:
    """Elements of the graph's float and int8 initializers (scales and zero points left out)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    total = 0
    for init in graph.initializer:
        count = int(np.prod(init.dims)) if init.dims else 1
        if count > 1 and not init.name.endswith(("_scale", "_zero_point")):
            total += count
    return total
