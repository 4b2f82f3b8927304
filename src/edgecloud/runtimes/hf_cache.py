"""The KV-cache argument of a transformers forward pass under the name the installed version uses.

transformers 5.2x calls it `cache` (and returns `out.cache`); earlier 5.x releases, which GPU images
ship preinstalled (5.17 on the H200 machines), call it `past_key_values`. The engines pass it through
here so one code path runs on both, rather than pinning a GPU image's transformers to ours."""

from __future__ import annotations

import inspect
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=64)
def _keyword(model_forward: Any) -> str:
    parameters = inspect.signature(model_forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def forward(model: Any, cache: Any, **inputs: Any) -> tuple[Any, Any]:
    """(logits, the updated cache) of one forward pass that uses and extends `cache`."""
    out = model(**inputs, use_cache=True, logits_to_keep=1, **{_keyword(type(model).forward): cache})
    updated = getattr(out, "cache", None)
    return out.logits, updated if updated is not None else out.past_key_values
