"""Which device the transformers engines run on, in which precision, and the batch sizes that suit it.

`auto` takes CUDA when torch sees a GPU and the CPU otherwise, so the CPU path (and CI) is what it was.
On CUDA the weights are bf16 (fp16 on GPUs without bf16): full fp32 would halve the batch a GPU holds
and leave its tensor cores idle; logits are cast to fp32 before sampling, as on the CPU. Asking for
`cuda` where there is none is a startup error that says why, not a crash at the first request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from edgecloud.errors import InvalidRequest

DeviceChoice = Literal["auto", "cpu", "cuda"]
CHOICES: tuple[str, ...] = ("auto", "cpu", "cuda")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
_DTYPES: dict[str, Literal["float32", "bfloat16", "float16"]] = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "fp16": "float16",
}


@dataclass(frozen=True)
class BatchDefaults:
    """Continuous-batching limits per step: sequences, and tokens (decode tokens plus prompts joining)."""

    max_batch: int
    max_batch_tokens: int


# CPU: 2 cores saturate near 32 sequences (bench batching). GPU: a decode step of a small model costs
# about the same at 1 or 256 sequences (bench gpu), so the batch is bounded by memory and by the
# prefill one step may add before it delays everyone's next token.
BATCH_DEFAULTS: dict[str, BatchDefaults] = {
    "cpu": BatchDefaults(max_batch=32, max_batch_tokens=4096),
    "cuda": BatchDefaults(max_batch=256, max_batch_tokens=16384),
}


@dataclass(frozen=True)
class Device:
    """A resolved device: `kind` for torch ("cpu" or "cuda"), the weights' dtype name, and a label
    (`cuda:0 NVIDIA H200 bf16`) that /health and `models list` show."""

    kind: Literal["cpu", "cuda"]
    dtype: Literal["float32", "bfloat16", "float16"]
    label: str

    @property
    def torch_device(self) -> Any:
        import torch

        return torch.device("cuda:0" if self.kind == "cuda" else "cpu")

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    @property
    def batch_defaults(self) -> BatchDefaults:
        return BATCH_DEFAULTS[self.kind]


CPU = Device("cpu", "float32", "cpu fp32")


class DeviceUnavailable(InvalidRequest):
    """--device cuda on a machine where torch sees no GPU."""


def check_choice(choice: str) -> DeviceChoice:
    if choice not in CHOICES:
        raise InvalidRequest(f"--device must be one of {', '.join(CHOICES)}, not {choice!r}", param="device")
    return choice  # type: ignore[return-value]


def resolve_device(choice: str = "auto", precision: str = "auto") -> Device:
    """The device `choice` means on this machine, in `precision` (auto: bf16 on CUDA, fp16 where the GPU
    has no bf16; fp32 gives greedy answers identical to the CPU's at twice the memory). DeviceUnavailable
    for `cuda` without a usable GPU; the CPU path runs fp32 only."""
    choice = check_choice(choice)
    if precision not in PRECISIONS:
        raise InvalidRequest(
            f"--precision must be one of {', '.join(PRECISIONS)}, not {precision!r}", param="precision"
        )
    if choice == "cpu":
        return _on_cpu(precision)
    import torch

    if not torch.cuda.is_available():
        if choice == "auto":
            return _on_cpu(precision)
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise DeviceUnavailable(
            f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA GPU; "
            "use --device auto or cpu, or run where a GPU and a CUDA build of torch are installed",
            param="device",
        )
    bf16 = torch.cuda.is_bf16_supported()
    if precision == "bf16" and not bf16:
        raise DeviceUnavailable(
            f"--precision bf16: {torch.cuda.get_device_name(0)} has no bf16; use fp16 or fp32"
        )
    short = precision if precision != "auto" else ("bf16" if bf16 else "fp16")
    return Device("cuda", _DTYPES[short], f"cuda:0 {torch.cuda.get_device_name(0)} {short}")


def _on_cpu(precision: str) -> Device:
    if precision not in ("auto", "fp32"):
        raise InvalidRequest(
            f"--precision {precision}: the CPU path runs fp32 (half precision applies to a CUDA device)",
            param="precision",
        )
    return CPU


def describe(runtime: Any) -> str:
    """What /health and /v1/models say a loaded engine runs on (engines without a device: their kind)."""
    return str(getattr(runtime, "device_label", None) or "cpu")
