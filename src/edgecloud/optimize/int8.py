"""PyTorch dynamic int8 quantization of a model's Linear layers, stored as a small safetensors file.

Why our own Linear and not `torch.ao.quantization.quantize_dynamic`: its dynamic Linear quantizes the
activations with `reduce_range=True` (7 bits) on x86, which costs MiniLM fidelity (0.973 mean cosine to
fp32 even with per-channel weights, measured here); the same int8 kernel with full 8-bit activations and
per-channel symmetric weights gives 0.992. On CPUs without VNNI the u8*s8 pair sums can saturate, which is
why PyTorch reduces the range by default; the fidelity measured in the report is what decides.

Why safetensors and not a pickled module: the artifact holds the int8 weights (a quarter of fp32) and
per-channel scales as plain tensors, loads without unpickling code, and rebuilds the model from its
config.json; the node applies the same modules on load (runtimes/int8.py)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

WEIGHTS_FILE = "model.int8.safetensors"
_SUFFIX_WEIGHT = ".int8_weight"
_SUFFIX_SCALE = ".int8_scale"


VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


@functools.cache  # read once: every Int8Linear asks while a model loads
def has_vnni(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """The CPU multiplies u8 x s8 into int32 in one instruction (no 16-bit pair sums to saturate)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return False
    lines = (line for line in text.splitlines() if line.startswith("flags"))
    flags = next((line.split(":", 1)[1].split() for line in lines), [])
    return not VNNI_FLAGS.isdisjoint(flags)


@contextlib.contextmanager
def _packing_engine() -> Iterator[None]:
    """Packs weights for oneDNN where the CPU has VNNI: its int8 GEMM ran MiniLM at batch 32 3.1-3.3x
    faster than fp32 at 2 threads on this Zen 4, against 2.7-3.0x for fbgemm's (x86's default), with the
    same 0.992 cosine. Packed weights carry their engine, so inference needs no global switch; only
    the packing call sees PyTorch's process-wide engine setting, restored right after."""
    engines = torch.backends.quantized.supported_engines
    if "onednn" not in engines or not has_vnni():
        yield
        return
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = "onednn"
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


class Int8Linear(torch.nn.Module):
    """y = x W^T + b with W int8 per output channel and x quantized per call to 8 bits."""

    def __init__(self, int8_weight: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
        super().__init__()
        self.in_features = int(int8_weight.shape[1])
        self.out_features = int(int8_weight.shape[0])
        self.register_buffer("int8_weight", int8_weight.to(torch.int8).contiguous())
        self.register_buffer("int8_scale", scale.to(torch.float32).contiguous())
        self.bias = None if bias is None else torch.nn.Parameter(bias.detach().float(), requires_grad=False)
        with warnings.catch_warnings():  # qint8 tensors are deprecated (torchao replaces them); still work
            warnings.filterwarnings("ignore", message=".*quantized tensor creation functions.*")
            qweight = torch._make_per_channel_quantized_tensor(
                int8_weight.to(torch.int8),
                scale.double(),
                torch.zeros(self.out_features, dtype=torch.long),
                0,
            )
        with _packing_engine():
            self._packed = torch.ops.quantized.linear_prepack(qweight, self.bias)

    @classmethod
    def from_linear(cls, linear: torch.nn.Linear) -> Int8Linear:
        weight = linear.weight.detach().float()
        scale = (weight.abs().amax(dim=1) / 127.0).clamp(min=1e-8)
        int8 = torch.clamp(torch.round(weight / scale[:, None]), -127, 127).to(torch.int8)
        return cls(int8, scale, linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(x, self._packed, False)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, per-channel int8"


# Sibling projections that read the same input: one GEMM over their stacked weights quantizes that
# input once instead of three times and keeps the cores busier (MiniLM: ~4% of the int8 forward).
SHARED_INPUT = (("query", "key", "value"), ("q_proj", "k_proj", "v_proj"), ("gate_proj", "up_proj"))


class FusedInt8(torch.nn.Module):
    """The stacked projections, run once per input tensor; each part reads its columns of the result.
    The last (input, output) pair is one tuple, swapped atomically, so a part called with another tensor
    (cross-attention keys, another thread's batch) computes afresh and never reads a stranger's rows."""

    def __init__(self, parts: list[Int8Linear]) -> None:
        super().__init__()
        weight = torch.cat([part.int8_weight for part in parts])
        scale = torch.cat([part.int8_scale for part in parts])
        bias = None  # a projection without a bias adds zeros beside one that has one
        if any(part.bias is not None for part in parts):
            bias = torch.cat([_bias_or_zeros(part) for part in parts])
        self.linear = Int8Linear(weight, scale, bias)
        self.bounds = list(itertools.accumulate([0] + [part.out_features for part in parts]))
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None

    def part(self, x: torch.Tensor, index: int) -> torch.Tensor:
        last = self._last
        if last is None or last[0] is not x:
            last = (x, self.linear(x))
            self._last = last
        if index == len(self.bounds) - 2:
            self._last = None  # the final part read it: do not keep the activations alive
        return last[1][..., self.bounds[index] : self.bounds[index + 1]]


def _bias_or_zeros(part: Int8Linear) -> torch.Tensor:
    return part.bias.detach() if part.bias is not None else torch.zeros(part.out_features)


class FusedPart(torch.nn.Module):
    def __init__(self, fused: FusedInt8, index: int) -> None:
        super().__init__()
        self._fused = [fused]  # a list, so the shared module is not registered once per part
        self.index = index
        self.in_features = fused.linear.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fused[0].part(x, self.index)


def fuse_shared_inputs(model: torch.nn.Module) -> int:
    """Replaces each group of sibling Int8Linear projections (SHARED_INPUT) by one FusedInt8; returns
    how many groups. Done after loading: the file keeps one entry per projection."""
    groups = 0
    for _, parent in list(model.named_modules()):
        for names in SHARED_INPUT:
            parts = [getattr(parent, name, None) for name in names]
            if not all(isinstance(part, Int8Linear) for part in parts):
                continue
            fused = FusedInt8([part for part in parts if isinstance(part, Int8Linear)])
            parent.add_module("fused_" + "_".join(names), fused)
            for index, name in enumerate(names):
                setattr(parent, name, FusedPart(fused, index))
            groups += 1
    return groups


def _linears(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.nn.Linear]]:
    """(parent, attribute, linear) for every Linear except tied output heads (lm_head shares the
    embedding matrix in most small decoders: quantizing it would untie and duplicate it)."""
    found = []
    embeddings = model.get_input_embeddings() if _has_embeddings(model) else None
    tied = {id(p) for p in embeddings.parameters()} if embeddings is not None else set()
    for _, parent in model.named_modules():
        for attr, child in parent.named_children():
            if isinstance(child, torch.nn.Linear) and id(child.weight) not in tied:
                found.append((parent, attr, child))
    return found


def _has_embeddings(model: torch.nn.Module) -> bool:
    try:
        return model.get_input_embeddings() is not None
    except (AttributeError, NotImplementedError):
        return False


def quantize_linears(model: torch.nn.Module) -> int:
    """Swaps every (untied) Linear for an Int8Linear in place; returns how many were swapped."""
    swaps = _linears(model)
    for parent, attr, linear in swaps:
        setattr(parent, attr, Int8Linear.from_linear(linear))
    return len(swaps)


def int8_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Everything needed to rebuild the quantized model: int8 weights, scales and the float rest."""
    state: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        state[name] = tensor.detach().contiguous()
    return state


def save_int8(model: torch.nn.Module, out: Path) -> Path:
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    state = int8_state(model)
    names = sorted(n.removesuffix(_SUFFIX_WEIGHT) for n in state if n.endswith(_SUFFIX_WEIGHT))
    # Tied weights share storage; safetensors refuses shared tensors, so store clones.
    save_file(
        {k: v.clone() for k, v in state.items()},
        str(out / WEIGHTS_FILE),
        metadata={
            "format": "pt",
            "int8_linears": json.dumps(names),
        },
    )
    return out / WEIGHTS_FILE


def load_int8(folder: Path, model_class: Any) -> torch.nn.Module:
    """Rebuilds the architecture from config.json (its initial weights are all overwritten), swaps in
    Int8Linear modules where the file has int8 weights, then loads every tensor strictly: a missing or
    unexpected key is an error, never a silently random layer."""
    from safetensors import safe_open
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    model = model_class.from_config(config)
    with safe_open(str(folder / WEIGHTS_FILE), framework="pt") as handle:
        names = json.loads((handle.metadata() or {}).get("int8_linears", "[]"))
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        bias = tensors.get(f"{name}.bias")
        setattr(parent, attr, Int8Linear(tensors[name + _SUFFIX_WEIGHT], tensors[name + _SUFFIX_SCALE], bias))
    model.load_state_dict(tensors, strict=True)
    fuse_shared_inputs(model)
    return model.eval()


def int8_parameter_count(model: torch.nn.Module) -> int:
    """Parameters as a model author counts them: an int8 weight matrix counts its elements once."""
    total = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if isinstance(module, Int8Linear):
            total += int(module.int8_weight.numel())
    return total
