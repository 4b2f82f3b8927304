"""Device selection: auto/cpu/cuda, the clear startup error for a GPU that is not there, per-device
batching defaults, what each engine reports, and the transformers cache keyword on either version."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from edgecloud.catalogue import Catalogue, ModelSpec
from edgecloud.config import NodeSettings
from edgecloud.errors import EdgecloudError
from edgecloud.runtimes import hf_cache, planned_device
from edgecloud.runtimes.device import (
    BATCH_DEFAULTS,
    CPU,
    Device,
    DeviceUnavailable,
    check_choice,
    describe,
    resolve_device,
)
from edgecloud.serving.app import node_device
from edgecloud.serving.batching import ContinuousBatcher
from edgecloud.serving.metrics import NodeMetrics
from edgecloud.serving.pool import ModelPool

GPU = Device("cuda", "bfloat16", "cuda:0 Test GPU bf16")
no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@no_gpu
def test_auto_is_the_cpu_without_a_gpu_and_cpu_is_fp32() -> None:
    assert resolve_device("auto") == CPU
    assert resolve_device("cpu") == CPU
    assert CPU.torch_dtype is torch.float32


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(DeviceUnavailable) as raised:
        resolve_device("cuda")
    message = raised.value.message
    assert "--device cuda" in message and "sees no CUDA GPU" in message and torch.__version__ in message
    assert isinstance(raised.value, EdgecloudError)  # the CLI prints it and exits 2


def test_the_cpu_runs_fp32_and_says_so_when_asked_for_half_precision() -> None:
    assert resolve_device("cpu", "fp32") == CPU
    assert resolve_device("cpu", "auto") == CPU
    for half in ("bf16", "fp16"):
        with pytest.raises(EdgecloudError, match="the CPU path runs fp32"):
            resolve_device("cpu", half)
    with pytest.raises(EdgecloudError, match="auto, fp32, bf16, fp16"):
        resolve_device("cpu", "int4")


def test_a_bad_precision_stops_serve_before_loading() -> None:
    result = _edgecloud("serve", "-m", "all-minilm-l6-v2", "--device", "cpu", "--precision", "bf16")
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "the CPU path runs fp32" in output and "Traceback" not in output


def test_an_unknown_choice_names_the_choices() -> None:
    with pytest.raises(EdgecloudError, match="auto, cpu, cuda"):
        check_choice("gpu")


def test_batching_defaults_differ_per_device() -> None:
    assert CPU.batch_defaults == BATCH_DEFAULTS["cpu"]
    assert GPU.batch_defaults.max_batch > CPU.batch_defaults.max_batch
    assert GPU.batch_defaults.max_batch_tokens > CPU.batch_defaults.max_batch_tokens


class _BatchingRuntime:
    can_batch = True
    context_length = 2048


def _scheduler(device: Device, **settings: int) -> ContinuousBatcher:
    pool = ModelPool(
        Catalogue(NodeSettings().cache_dir), [], NodeSettings(**settings), NodeMetrics(), device=device
    )
    scheduler = pool._decoder_scheduler("m", _BatchingRuntime())  # type: ignore[arg-type]
    assert isinstance(scheduler, ContinuousBatcher)
    return scheduler


def test_the_pool_takes_the_devices_batching_defaults_unless_set() -> None:
    on_cpu, on_gpu = _scheduler(CPU), _scheduler(GPU)
    assert (on_cpu.max_batch, on_cpu.max_batch_tokens) == (32, 4096)
    assert (on_gpu.max_batch, on_gpu.max_batch_tokens) == (256, 16384)
    chosen = _scheduler(GPU, max_batch=8, max_batch_tokens=512)
    assert (chosen.max_batch, chosen.max_batch_tokens) == (8, 512)


def _spec(catalogue: Catalogue, name: str) -> ModelSpec:
    return catalogue.resolve(name)


def test_planned_device_per_engine() -> None:
    catalogue = Catalogue(NodeSettings().cache_dir)
    minilm = _spec(catalogue, "all-minilm-l6-v2")
    smollm = _spec(catalogue, "smollm2-135m-instruct")
    whisper = _spec(catalogue, "whisper-tiny-en")
    assert planned_device(minilm, GPU) == GPU.label
    assert planned_device(replace(smollm, runtime="transformers"), GPU) == GPU.label
    assert planned_device(replace(minilm, quantization="dynamic-int8"), GPU) == "cpu"  # int8 CPU kernels
    assert planned_device(whisper, GPU) == "cpu"
    assert planned_device(replace(smollm, runtime="remote"), GPU) == "remote"
    # the portable llama.cpp wheel has no GPU backend, so a CUDA device does not move it
    assert planned_device(smollm, GPU) == "cpu"
    assert planned_device(minilm, CPU) == "cpu fp32"


def test_a_node_of_llama_cpp_models_does_not_look_for_a_gpu() -> None:
    catalogue = Catalogue(NodeSettings().cache_dir)
    assert node_device(NodeSettings(device="auto"), [_spec(catalogue, "smollm2-135m-instruct")]) == CPU


def test_engines_describe_their_device() -> None:
    class Plain:
        pass

    class OnGpu:
        device_label = GPU.label

    assert describe(Plain()) == "cpu"
    assert describe(OnGpu()) == GPU.label


def test_the_cache_keyword_follows_the_installed_transformers() -> None:
    class New:
        def forward(self, input_ids: object = None, cache: object = None) -> None: ...

    class Old:
        def forward(self, input_ids: object = None, past_key_values: object = None) -> None: ...

    assert hf_cache._keyword(New.forward) == "cache"
    assert hf_cache._keyword(Old.forward) == "past_key_values"


def _edgecloud(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "edgecloud", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@no_gpu
def test_serve_with_cuda_and_no_gpu_exits_2_with_the_reason() -> None:
    result = _edgecloud("serve", "-m", "all-minilm-l6-v2", "--device", "cuda")
    assert result.returncode == 2
    assert "sees no CUDA GPU" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_device_variable_is_one_line_not_a_traceback() -> None:
    result = _edgecloud("serve", "-m", "all-minilm-l6-v2", env={"EDGECLOUD_DEVICE": "gpu"})
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "EDGECLOUD_DEVICE / --device" in output and "Traceback" not in output


def test_models_list_shows_where_each_model_runs() -> None:
    result = _edgecloud("models", "list", "--device", "cpu")
    assert result.returncode == 0
    assert "device" in result.stdout and "cpu fp32" in result.stdout
