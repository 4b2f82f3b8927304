"""The int8 Linear and its safetensors round trip, on the real MiniLM weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from edgecloud.catalogue import Catalogue
from edgecloud.config import NodeSettings
from edgecloud.optimize.int8 import Int8Linear, int8_parameter_count, load_int8, quantize_linears, save_int8

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> Path:
    catalogue = Catalogue(NodeSettings().cache_dir)
    return catalogue.materialize(catalogue.resolve("all-minilm-l6-v2"))


def test_int8_linear_computes_int8_arithmetic_on_the_layers_real_inputs(minilm: Path) -> None:
    """The kernel must give what per-channel int8 weights times 8-bit per-tensor activations give (a
    saturating kernel would not); that arithmetic's own error against fp32 is the method's, measured on
    the layer's real inputs (hidden states of real sentences, outliers included), not on random ones."""
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(minilm).eval()
    layer = model.encoder.layer[0].intermediate.dense
    seen: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
    sentences = ["a quiet triumph of a film", "the edge answers in milliseconds", "Paris is in France"]
    encoded = AutoTokenizer.from_pretrained(minilm)(sentences, padding=True, return_tensors="pt")
    with torch.inference_mode():
        model(**encoded)
        hook.remove()
        x = seen[0]
        exact, kernel = layer(x), Int8Linear.from_linear(layer)(x)
        arithmetic = _int8_arithmetic(layer, x)
    assert float((kernel - arithmetic).norm() / arithmetic.norm()) < 0.01  # 7-bit activations: ~0.06
    assert float((kernel - exact).norm() / exact.norm()) < 0.05


def _int8_arithmetic(layer: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """Per-channel symmetric int8 weights, asymmetric uint8 activations over the tensor's range."""
    weight = layer.weight.float()
    w_scale = weight.abs().amax(dim=1) / 127
    w_int = torch.round(weight / w_scale[:, None]).clamp(-127, 127)
    low, high = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    x_scale = (high - low) / 255
    zero = round(-low / x_scale)
    x_int = (torch.round(x / x_scale) + zero).clamp(0, 255) - zero
    return (x_int * x_scale) @ (w_int * w_scale[:, None]).T + layer.bias


def test_a_saved_int8_model_loads_back_to_the_same_outputs(minilm: Path, tmp_path: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(minilm).eval()
    before = int8_parameter_count(model)
    assert quantize_linears(model) == 6 * 6 + 1  # q, k, v, attention out, intermediate, output; pooler
    save_int8(model, tmp_path)
    (tmp_path / "config.json").write_bytes((minilm / "config.json").read_bytes())
    loaded = load_int8(tmp_path, AutoModel)
    encoded = AutoTokenizer.from_pretrained(minilm)(
        ["a quiet triumph", "a mess"], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        torch.testing.assert_close(loaded(**encoded).last_hidden_state, model(**encoded).last_hidden_state)
    assert int8_parameter_count(loaded) == before
    assert (tmp_path / "model.int8.safetensors").stat().st_size < 0.7 * (
        minilm / "model.safetensors"
    ).stat().st_size


def test_vnni_is_read_from_the_cpu_flags(tmp_path: Path) -> None:
    from edgecloud.optimize.int8 import has_vnni

    with_vnni, without = tmp_path / "a", tmp_path / "b"
    with_vnni.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512_vnni\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
    assert has_vnni(with_vnni) and not has_vnni(without) and not has_vnni(tmp_path / "missing")


def test_packing_leaves_the_process_wide_engine_as_it_was() -> None:
    before = torch.backends.quantized.engine
    layer = torch.nn.Linear(8, 4)
    Int8Linear.from_linear(layer)
    assert torch.backends.quantized.engine == before


def test_fused_projections_give_the_same_outputs_as_separate_ones(minilm: Path) -> None:
    import copy

    from transformers import AutoModel, AutoTokenizer

    from edgecloud.optimize.int8 import fuse_shared_inputs

    separate = AutoModel.from_pretrained(minilm).eval()
    quantize_linears(separate)
    fused = copy.deepcopy(separate)
    assert fuse_shared_inputs(fused) == 6  # q, k, v of each layer
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    batch = tokenizer(
        ["one short text", "and a somewhat longer second one"], padding=True, return_tensors="pt"
    )
    with torch.inference_mode():
        a, b = separate(**batch).last_hidden_state, fused(**batch).last_hidden_state
    assert float((a - b).abs().max()) < 1e-4  # the same int8 products; fp32 rounding may differ
    assert int8_parameter_count(fused) == int8_parameter_count(separate)


def test_fusing_a_projection_without_bias_beside_one_with_keeps_both_outputs() -> None:
    from edgecloud.optimize.int8 import FusedInt8

    torch.manual_seed(0)
    with_bias = Int8Linear.from_linear(torch.nn.Linear(8, 4, bias=True))
    without = Int8Linear.from_linear(torch.nn.Linear(8, 4, bias=False))
    fused = FusedInt8([with_bias, without])
    x = torch.randn(3, 8)
    with torch.inference_mode():
        assert torch.allclose(fused.part(x, 0), with_bias(x), atol=1e-5)
        assert torch.allclose(fused.part(x, 1), without(x), atol=1e-5)
