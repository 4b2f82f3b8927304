"""The hidden-state distillation objective: nothing to learn when the student is the teacher itself, a
positive loss for a shallower student, gradients only where the student can change, and padding that
does not count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from edgecloud.catalogue import Catalogue
from edgecloud.config import NodeSettings
from edgecloud.datasets.rotten_tomatoes import corpus_sentences
from edgecloud.optimize.folder import load_encoder
from edgecloud.optimize.hidden_objective import HiddenStateObjective, masked_mse
from edgecloud.optimize.pooling import pooling_of
from edgecloud.optimize.student import make_student

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm() -> Path:
    catalogue = Catalogue(NodeSettings().cache_dir)
    return catalogue.materialize(catalogue.resolve("all-minilm-l6-v2"))


@pytest.fixture(scope="module")
def teacher(minilm: Path) -> tuple[Any, Any]:
    torch.manual_seed(0)
    return load_encoder(minilm)


def objective(minilm: Path, teacher: tuple[Any, Any], keep: list[int]) -> HiddenStateObjective:
    model, tokenizer = teacher
    texts = corpus_sentences("train")[:8]
    return HiddenStateObjective(model, tokenizer, texts, pooling_of(minilm), keep)


def test_a_student_that_is_the_teacher_has_nothing_to_learn(minilm: Path, teacher: tuple[Any, Any]) -> None:
    keep = [0, 1, 2, 3, 4, 5]
    loss = objective(minilm, teacher, keep).loss(make_student(teacher[0], keep), list(range(8)))
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-5)


def test_a_shallower_student_has_a_positive_loss_that_reaches_its_weights(
    minilm: Path, teacher: tuple[Any, Any]
) -> None:
    keep = [0, 2, 5]
    student = make_student(teacher[0], keep)
    target = objective(minilm, teacher, keep)
    loss = target.loss(student, list(range(8)))
    assert float(loss.detach()) > 0.01
    loss.backward()
    assert all(p.grad is not None for p in student.encoder.layer[1].parameters())
    assert all(p.grad is None for p in teacher[0].parameters())  # the teacher only supplies targets
    assert "teacher layers [0, 2]" in target.describe()


def test_padding_tokens_do_not_count_in_the_token_loss() -> None:
    target = torch.zeros(1, 3, 4)
    predicted = torch.tensor([[[1.0] * 4, [1.0] * 4, [100.0] * 4]])
    assert float(masked_mse(predicted, target, torch.tensor([[1, 1, 0]]))) == pytest.approx(1.0)
