"""A shallower copy of a transformer: which of the teacher's layers to keep, and the student built from
them, so distillation starts from the teacher's own weights rather than from scratch."""

from __future__ import annotations

import copy
from typing import Any

import torch

from edgecloud.errors import InvalidRequest


def _check_depth(total: int, keep: int) -> None:
    if not 1 <= keep <= total:
        raise InvalidRequest(
            f"layers must be between 1 and the teacher's {total}, got {keep}", param="layers"
        )


def pick_layers(total: int, keep: int) -> list[int]:
    """Evenly spread indices that always include the first and the last layer (6 -> 3: 0, 2, 5).

    The first layer turns embeddings into contextual states and the last one shapes the output space the
    teacher's embeddings live in; the ones between are the most redundant."""
    _check_depth(total, keep)
    if keep == 1:
        return [total - 1]
    return sorted({round(i * (total - 1) / (keep - 1)) for i in range(keep)})


def spread_from_last(total: int, keep: int) -> list[int]:
    """Evenly spread indices counted down from the last layer (6 -> 3: 1, 3, 5; 6 -> 2: 2, 5).

    The encoder default. Each kept block then stands in for the one it replaces plus the one below it,
    and the student's output still comes from the teacher's last layer. Measured on MiniLM-L6 with the
    hidden-state objective (300 steps, same batches): 0.925 held-out cosine for 1, 3, 5 against 0.920
    for 0, 2, 5."""
    _check_depth(total, keep)
    step = total / keep
    return sorted({total - 1 - int(i * step) for i in range(keep)})


def layer_list(model: Any) -> torch.nn.ModuleList:
    """The ModuleList holding the transformer blocks (encoder.layer for BERT, model.layers for Llama)."""
    count = int(model.config.num_hidden_layers)
    for _name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    raise InvalidRequest(f"cannot find the {count} transformer layers of {type(model).__name__}")


def blocks(model: Any) -> list[Any]:
    """The transformer blocks, typed loosely: their submodules differ by architecture."""
    return list(layer_list(model))


def make_student(teacher: Any, keep: list[int]) -> Any:
    """A deep copy of the teacher with only the kept layers, its config and layer indices fixed."""
    student = copy.deepcopy(teacher)
    modules = layer_list(student)
    kept = [modules[i] for i in keep]
    for new_index, block in enumerate(kept):
        for module in block.modules():
            if hasattr(module, "layer_idx"):  # KV-cache slots of decoders follow the new numbering
                setattr(module, "layer_idx", new_index)  # noqa: B010 - mypy cannot see the attribute
    blocks_parent_swap(modules, kept)
    config = student.config
    config.num_hidden_layers = len(keep)
    layer_types = getattr(config, "layer_types", None)
    if isinstance(layer_types, list) and len(layer_types) == int(teacher.config.num_hidden_layers):
        config.layer_types = [layer_types[i] for i in keep]
    return student


def blocks_parent_swap(blocks: torch.nn.ModuleList, kept: list[torch.nn.Module]) -> None:
    """Replace the ModuleList's contents in place (its parent keeps the same attribute)."""
    for index in range(len(blocks) - 1, -1, -1):
        del blocks[index]
    for block in kept:
        blocks.append(block)
