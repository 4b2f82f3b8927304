"""The transformers engines over folders `edgecloud optimize quantize --method dynamic-int8` wrote: the
same preprocessing, pooling and decoding, with the model rebuilt from its int8 safetensors file."""

from __future__ import annotations

from pathlib import Path

from edgecloud.catalogue import ModelSpec
from edgecloud.errors import ModelFileError
from edgecloud.runtimes.transformers import TransformersDecoder, TransformersEncoder, _max_seq_length


def _folder(spec: ModelSpec) -> Path:
    from edgecloud.optimize.int8 import WEIGHTS_FILE

    path = getattr(spec.source, "path", None)
    if path is None or not (Path(path) / WEIGHTS_FILE).is_file():
        raise ModelFileError(f"model {spec.name!r}: no {WEIGHTS_FILE} in {path}")
    return Path(path)


class Int8Encoder(TransformersEncoder):
    def load(self, spec: ModelSpec) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        from edgecloud.optimize.int8 import load_int8

        if self._n_threads:
            torch.set_num_threads(self._n_threads)
        folder = _folder(spec)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._model = load_int8(folder, AutoModel)
        self.context_length = _max_seq_length(folder, spec.context_length)


class Int8Decoder(TransformersDecoder):
    def load(self, spec: ModelSpec) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from edgecloud.optimize.int8 import load_int8

        if self._n_threads:
            torch.set_num_threads(self._n_threads)
        folder = _folder(spec)
        self._tokenizer = AutoTokenizer.from_pretrained(folder)
        self._model = load_int8(folder, AutoModelForCausalLM)
        self.context_length = min(self._n_ctx or spec.context_length, spec.context_length)
        self._default_system = spec.default_system_prompt
