"""A GGUF decoder in full precision for the transformers runtime, dequantised once and kept.

transformers dequantises a GGUF file to fp32 on every load: ~26 s for SmolLM2-135M on 2 cores, most of
it rebuilding the tokenizer and reading tensors through the gguf reader. The result is saved once as a
plain Hugging Face folder in the cache, keyed by the file's content (sha256): a changed file gets a new
folder, and the same file found at another path (a fresh virtual environment, another checkout) reuses the
copy. Hashing costs ~0.2 s per 100 MB; later loads read the folder in well under a second and give
identical logits."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from edgecloud.catalogue import sha256_file
from edgecloud.config import default_cache_dir

log = logging.getLogger(__name__)

_DONE = "dequantized.ok"  # written last: a folder without it is an interrupted save


def dequantized_folder(gguf: Path, cache_root: Path | None = None) -> Path:
    """Where the dequantised copy of `gguf` lives (or will)."""
    digest = sha256_file(gguf)[:16]
    return (cache_root or default_cache_dir()) / "dequantized" / f"{gguf.stem}-{digest}"


def load_gguf_decoder(gguf: Path, cache_root: Path | None = None) -> tuple[Any, Any]:
    """(tokenizer, fp32 causal LM) for a GGUF file, from the cached folder when there is one."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = dequantized_folder(gguf, cache_root)
    if (folder / _DONE).is_file():
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return tokenizer, AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    _save(model, tokenizer, folder)
    return tokenizer, model


def _save(model: Any, tokenizer: Any, folder: Path) -> None:
    """The weights are plain fp32 tensors once loaded; only the GGUF marks (the quantizer and its
    config) stop save_pretrained, so they are dropped. A failed save (read-only or full disk) costs only
    the next load's time."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=folder.parent))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / _DONE).write_text("")
        if (folder / _DONE).is_file():  # another node finished the same copy first
            return
        shutil.rmtree(folder, ignore_errors=True)  # an interrupted save of the same file
        staging.replace(folder)
        staging = None
    except OSError as exc:
        log.warning(
            "could not keep a dequantised copy in %s (%s); the next load dequantises again", folder, exc
        )
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
