"""Pruning MiniLM: structured pruning gives a smaller model that still embeds like the original;
magnitude pruning zeroes the requested share of weights and says what that does not buy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from edgecloud.catalogue import Catalogue
from edgecloud.config import NodeSettings
from edgecloud.datasets.rotten_tomatoes import corpus_sentences
from edgecloud.errors import InvalidRequest
from edgecloud.optimize.folder import load_encoder
from edgecloud.optimize.pooling import embed, pooling_of
from edgecloud.optimize.prune import prune_magnitude, prune_structured


@pytest.fixture(scope="module")
def minilm() -> Path:
    catalogue = Catalogue(NodeSettings().cache_dir)
    return catalogue.materialize(catalogue.resolve("all-minilm-l6-v2"))


def _mean_cosine(a: Path, b: Path, texts: list[str]) -> float:
    pooling = pooling_of(a)
    first = embed(*load_encoder(a), texts, pooling)
    second = embed(*load_encoder(b), texts, pooling)
    return float((first * second).sum(dim=1).mean())


def test_shares_outside_zero_to_one_are_rejected_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        prune_structured(tmp_path, tmp_path / "out", heads=1.0, ffn=0.2, calibration=["a"])
    with pytest.raises(InvalidRequest):
        prune_structured(tmp_path, tmp_path / "out", heads=0.2, ffn=-0.1, calibration=["a"])
    with pytest.raises(InvalidRequest):
        prune_magnitude(tmp_path, tmp_path / "out", sparsity=1.5)


@pytest.mark.slow
def test_structured_pruning_gives_a_smaller_servable_model_that_embeds_close(
    minilm: Path, tmp_path: Path
) -> None:
    from transformers import AutoModel

    out = tmp_path / "pruned"
    calls: list[tuple[int, int]] = []
    summary = prune_structured(
        minilm,
        out,
        heads=1 / 12,
        ffn=0.05,
        calibration=corpus_sentences("train")[:48],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert summary.params_after < summary.params_before
    assert calls and calls[-1][0] == calls[-1][1]
    model = AutoModel.from_pretrained(out)
    assert model.config.intermediate_size == round(1536 * 0.95)
    assert sum(p.numel() for p in model.parameters()) == summary.params_after
    for name in ("tokenizer.json", "modules.json", "1_Pooling/config.json", "sentence_bert_config.json"):
        assert (out / name).is_file(), name
    assert _mean_cosine(minilm, out, corpus_sentences("test")[:24]) > 0.95


@pytest.mark.slow
def test_pruned_heads_are_zeroed_in_every_layer(minilm: Path, tmp_path: Path) -> None:
    from transformers import AutoModel

    out = tmp_path / "heads"
    prune_structured(minilm, out, heads=0.25, ffn=0.0, calibration=corpus_sentences("train")[:32])
    model = AutoModel.from_pretrained(out)
    for layer in model.encoder.layer:
        rows = layer.attention.self.value.weight.view(12, 32, -1)
        silent = [h for h in range(12) if torch.count_nonzero(rows[h]) == 0]
        assert len(silent) == 3


@pytest.mark.slow
def test_magnitude_pruning_reaches_the_requested_sparsity(minilm: Path, tmp_path: Path) -> None:
    from transformers import AutoModel

    out = tmp_path / "sparse"
    summary = prune_magnitude(minilm, out, sparsity=0.5)
    assert summary.sparsity == pytest.approx(0.5, abs=0.005)
    assert any("no CPU speed-up" in note for note in summary.notes)
    model = AutoModel.from_pretrained(out)
    weights = [m.weight for m in model.modules() if isinstance(m, torch.nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros == pytest.approx(0.5, abs=0.005)
    assert json.loads((out / "config.json").read_text())["architectures"] == ["BertModel"]
