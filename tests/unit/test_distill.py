"""Distilling MiniLM into a shallower student: the student has the requested depth, loads with stock
transformers, learns (its loss goes down), and a run resumes from its checkpoint. Encoders start from
the teacher's last layer and every second one below it, and learn its hidden states by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgecloud.catalogue import Catalogue
from edgecloud.config import NodeSettings
from edgecloud.datasets.rotten_tomatoes import corpus_sentences
from edgecloud.errors import InvalidRequest
from edgecloud.optimize.distill import LOG_FILE, distill
from edgecloud.optimize.student import pick_layers, spread_from_last


@pytest.fixture(scope="module")
def minilm() -> Path:
    catalogue = Catalogue(NodeSettings().cache_dir)
    return catalogue.materialize(catalogue.resolve("all-minilm-l6-v2"))


def test_student_layers_are_spread_over_the_teacher_and_keep_first_and_last() -> None:
    assert pick_layers(6, 3) == [0, 2, 5]
    assert pick_layers(6, 2) == [0, 5]
    assert pick_layers(6, 6) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(InvalidRequest):
        pick_layers(6, 7)


def test_encoder_students_keep_the_last_layer_and_every_second_one_below_it() -> None:
    assert spread_from_last(6, 3) == [1, 3, 5]
    assert spread_from_last(6, 2) == [2, 5]
    assert spread_from_last(6, 6) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(InvalidRequest):
        spread_from_last(6, 0)


@pytest.mark.slow
def test_distilled_student_has_three_layers_loads_and_its_loss_went_down(
    minilm: Path, tmp_path: Path
) -> None:
    from transformers import AutoModel

    out = tmp_path / "student"
    summary = distill(
        minilm, out, layers=3, corpus=corpus_sentences("train")[:16], batch_size=16, lr=5e-4, max_steps=5
    )
    assert (summary.layers_teacher, summary.layers_student, summary.steps) == (6, 3, 5)
    assert any("teacher layers [1, 3]" in note for note in summary.notes)  # the hidden-state objective
    model = AutoModel.from_pretrained(out)
    assert model.config.num_hidden_layers == 3 and len(model.encoder.layer) == 3
    assert (out / "modules.json").is_file() and (out / "1_Pooling" / "config.json").is_file()
    losses = json.loads((out / LOG_FILE).read_text())["losses"]
    assert len(losses) == 5 and losses[-1] < losses[0]


@pytest.mark.slow
def test_distillation_resumes_from_its_checkpoint(minilm: Path, tmp_path: Path) -> None:
    corpus = corpus_sentences("train")[:64]
    checkpoints = tmp_path / "checkpoints"
    first = distill(
        minilm,
        tmp_path / "a",
        layers=2,
        corpus=corpus,
        batch_size=32,
        max_steps=2,
        checkpoint_dir=checkpoints,
        objective="pooled",  # the objective whose teacher targets are cached beside the checkpoint
    )
    assert first.steps == 2 and (checkpoints / "student.pt").is_file()
    steps: list[tuple[int, int]] = []
    second = distill(
        minilm,
        tmp_path / "b",
        layers=2,
        corpus=corpus,
        batch_size=32,
        max_steps=4,
        checkpoint_dir=checkpoints,
        progress=lambda done, total: steps.append((done, total)),
        objective="pooled",
    )
    assert second.steps == 4
    assert any("resumed from the checkpoint at step 2" in note for note in second.notes)
    assert len(json.loads((tmp_path / "b" / LOG_FILE).read_text())["losses"]) == 4
    assert steps[0] == (2, 4)  # teacher targets came from the cache: only training steps are counted
