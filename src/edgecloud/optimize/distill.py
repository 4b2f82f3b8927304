"""Layer distillation: a student with fewer layers, initialised from the teacher's own layers, trained to
reproduce the teacher's outputs on an offline corpus.

Encoders learn the teacher's pooled sentence embeddings (cosine + MSE), which are computed once up front
because the teacher never changes; decoders learn the teacher's next-token distributions (KL on
logits), computed per batch since a vocabulary-wide target per token is too big to keep. The loop is
one function over an `Objective`, checkpoints every CHECKPOINT_EVERY steps and resumes from them."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.nn.functional as F

from edgecloud.errors import InvalidRequest
from edgecloud.optimize.folder import is_decoder, load_decoder, load_encoder, write_model
from edgecloud.optimize.hidden_objective import HiddenStateObjective
from edgecloud.optimize.pooling import (
    MAX_LENGTH,
    Pooling,
    embed,
    in_original_order,
    length_order,
    pool,
    pooling_of,
    tokenize,
)
from edgecloud.optimize.student import layer_list, make_student, pick_layers, spread_from_last

CHECKPOINT_EVERY = 100  # steps; a MiniLM-3 checkpoint with AdamW state is ~200 MB, written in < 1 s
WARMUP_SHARE = 0.06
OBJECTIVES = ("hidden", "pooled")  # encoders; decoders always learn the teacher's logits
LOG_FILE = "distill_log.json"
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DistillSummary:
    layers_teacher: int
    layers_student: int
    steps: int
    final_loss: float
    train_sentences: int
    seconds: float
    notes: tuple[str, ...]


class Objective(Protocol):
    """What the student is trained to match, for one batch of corpus indices."""

    def loss(self, student: Any, indices: list[int]) -> torch.Tensor: ...

    def describe(self) -> str:
        """One line for the report's notes."""
        ...


@dataclass(frozen=True)
class Plan:
    epochs: int
    batch_size: int
    lr: float
    max_steps: int | None
    checkpoint_dir: Path | None
    fingerprint: str

    def steps_per_epoch(self, n: int) -> int:
        return math.ceil(n / self.batch_size)

    def total_steps(self, n: int) -> int:
        """max_steps, when given, overrides epochs (as in transformers' Trainer): the corpus repeats."""
        return self.max_steps if self.max_steps is not None else self.epochs * self.steps_per_epoch(n)


@dataclass
class RunState:
    step: int = 0
    losses: list[float] = field(default_factory=list)
    resumed_from: int | None = None


def distill(
    teacher: Path,
    out: Path,
    *,
    layers: int,
    corpus: Sequence[str],
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 1e-4,
    max_steps: int | None = None,
    checkpoint_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    objective: str = "hidden",
    keep: Sequence[int] | None = None,
) -> DistillSummary:
    """Distil the HF folder `teacher` into a `layers`-deep student written to `out`.

    objective (encoders): "hidden" matches the teacher's token states layer by layer as well as its
    sentence vectors (HiddenStateObjective, the default: it reached the higher held-out cosine);
    "pooled" matches the sentence vectors only. keep overrides which teacher layers the student starts
    from (default: spread_from_last for encoders, pick_layers for decoders). progress(done, total)
    counts teacher-encoding batches (pooled only) and then training steps."""
    started = time.perf_counter()
    texts = [t for t in corpus if t.strip()]
    if not texts:
        raise InvalidRequest("the distillation corpus is empty", param="corpus")
    if epochs < 1 or batch_size < 1 or lr <= 0 or (max_steps is not None and max_steps < 0):
        raise InvalidRequest("epochs and batch_size must be >= 1, lr > 0 and max_steps >= 0")
    if objective not in OBJECTIVES:
        raise InvalidRequest(f"objective must be one of {', '.join(OBJECTIVES)}", param="objective")
    decoder = is_decoder(teacher)
    model, tokenizer = (load_decoder if decoder else load_encoder)(teacher)
    depth = len(layer_list(model))
    kept = _kept_layers(depth, layers, keep, decoder)
    fingerprint = _fingerprint(teacher, kept, texts, batch_size, "decoder" if decoder else objective)
    plan = Plan(epochs, batch_size, lr, max_steps, checkpoint_dir, fingerprint)
    report = _Reporter(progress, plan.total_steps(len(texts)))
    notes: list[str] = [f"student starts from the teacher's layers {kept} (of {depth})"]
    target = _objective(model, tokenizer, teacher, texts, kept, objective, decoder, plan, report)
    notes.append(target.describe())
    student = make_student(model, kept)
    del model
    state = train(student, target, [len(t) for t in texts], plan, report)
    student.eval()
    write_model(student, teacher, out)
    _write_log(out, kept, state)
    if state.resumed_from is not None:
        notes.append(f"resumed from the checkpoint at step {state.resumed_from}")
    notes.append(
        f"loss {_mean_head(state.losses):.4f} over the first steps -> {_mean_tail(state.losses):.4f}"
    )
    return DistillSummary(
        layers_teacher=depth,
        layers_student=len(kept),
        steps=state.step,
        final_loss=_mean_tail(state.losses),
        train_sentences=len(texts),
        seconds=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _kept_layers(depth: int, layers: int, keep: Sequence[int] | None, decoder: bool) -> list[int]:
    if keep is None:
        return pick_layers(depth, layers) if decoder else spread_from_last(depth, layers)
    chosen = sorted(set(keep))
    if len(chosen) != layers or not all(0 <= i < depth for i in chosen):
        raise InvalidRequest(
            f"keep must name {layers} distinct layers of the teacher's {depth}", param="keep"
        )
    return chosen


def _objective(
    model: Any,
    tokenizer: Any,
    teacher: Path,
    texts: Sequence[str],
    keep: list[int],
    name: str,
    decoder: bool,
    plan: Plan,
    report: _Reporter,
) -> Objective:
    if decoder:
        return DecoderObjective(model, tokenizer, texts)
    pooling = pooling_of(teacher)
    if name == "hidden":
        return HiddenStateObjective(model, tokenizer, texts, pooling, keep)
    digest = targets_digest(teacher, pooling, texts)
    cache = plan.checkpoint_dir / f"teacher-{digest}.pt" if plan.checkpoint_dir else None
    targets = _teacher_targets(model, tokenizer, texts, pooling, cache, report)
    return EncoderObjective(tokenizer, texts, targets, pooling)


class EncoderObjective:
    """1 - cos(student, teacher) plus MSE between the pooled (pre-normalisation) embeddings.

    Cosine is what retrieval uses; the MSE term also pins the vectors' scale, which the student's layers
    otherwise drift away from while only direction is penalised."""

    def __init__(self, tokenizer: Any, texts: Sequence[str], targets: torch.Tensor, pooling: Pooling) -> None:
        self._tokenizer = tokenizer
        self._texts = texts
        self._targets = targets
        self._raw = Pooling(pooling.mode, normalize=False, max_length=pooling.max_length)

    def describe(self) -> str:
        return f"objective: 1 - cosine + MSE on {self._raw.mode}-pooled sentence embeddings"

    def loss(self, student: Any, indices: list[int]) -> torch.Tensor:
        encoded = tokenize(self._tokenizer, [self._texts[i] for i in indices], self._raw.max_length)
        hidden = student(**encoded).last_hidden_state
        predicted = pool(hidden, encoded["attention_mask"], self._raw)
        target = self._targets[indices]
        cosine = F.cosine_similarity(predicted, target, dim=1).mean()
        return (1 - cosine) + F.mse_loss(predicted, target)


class DecoderObjective:
    """KL(teacher || student) over every real (non-padding) next-token position."""

    def __init__(self, teacher: Any, tokenizer: Any, texts: Sequence[str]) -> None:
        self._teacher = teacher
        self._tokenizer = tokenizer
        self._texts = texts
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token

    def describe(self) -> str:
        return "objective: KL(teacher || student) on next-token distributions, teacher run per batch"

    def loss(self, student: Any, indices: list[int]) -> torch.Tensor:
        encoded = tokenize(self._tokenizer, [self._texts[i] for i in indices], MAX_LENGTH)
        with torch.no_grad():
            target = F.log_softmax(self._teacher(**encoded).logits.float(), dim=-1)
        predicted = F.log_softmax(student(**encoded).logits.float(), dim=-1)
        per_token = F.kl_div(predicted, target, log_target=True, reduction="none").sum(-1)
        mask = encoded["attention_mask"].to(per_token.dtype)
        return (per_token * mask).sum() / mask.sum().clamp(min=1)


def train(
    student: Any, objective: Objective, lengths: Sequence[int], plan: Plan, report: _Reporter
) -> RunState:
    """AdamW with warmup and linear decay, dropout off (the targets are deterministic), checkpointed."""
    n = len(lengths)
    epoch_order: list[list[int]] | None = None
    optimizer = torch.optim.AdamW(student.parameters(), lr=plan.lr, weight_decay=0.01)
    state = _resume(student, optimizer, plan)
    total = plan.total_steps(n)
    student.eval()  # eval() only switches dropout off; gradients still flow
    report.training(state.step)
    while state.step < total:
        epoch, offset = divmod(state.step, plan.steps_per_epoch(n))
        if offset == 0 or epoch_order is None:
            epoch_order = epoch_batches(lengths, plan.batch_size, epoch)
        indices = epoch_order[offset]
        for group in optimizer.param_groups:
            group["lr"] = plan.lr * _schedule(state.step, total)
        loss = objective.loss(student, indices)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        optimizer.step()
        state.step += 1
        state.losses.append(float(loss.detach()))
        report.training(state.step)
        if state.step % CHECKPOINT_EVERY == 0 or state.step == total:
            _save_checkpoint(student, optimizer, state, plan)
    return state


def epoch_batches(lengths: Sequence[int], batch_size: int, epoch: int) -> list[list[int]]:
    """One epoch's batches: shuffled, then sorted by length within windows of 32 batches so a batch pads
    to similar lengths (a random batch of snippets usually holds one 128-token plot summary and pads all
    32 rows to it: ~3x the work), and the batches' order shuffled again. Seeded by the epoch, so a
    resumed run sees the same batches."""
    generator = torch.Generator().manual_seed(1000 + epoch)
    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = batch_size * 32
    result: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        result.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    shuffled = torch.randperm(len(result), generator=generator).tolist()
    return [result[i] for i in shuffled]


def _schedule(step: int, total: int) -> float:
    warmup = max(1, int(total * WARMUP_SHARE))
    if step < warmup:
        return (step + 1) / warmup
    return max(0.0, (total - step) / max(1, total - warmup))


class _Reporter:
    """Maps teacher-encoding batches and training steps onto one progress(done, total) count."""

    def __init__(self, progress: Progress | None, train_steps: int) -> None:
        self._progress = progress
        self._train_steps = train_steps
        self._prep_total = 0

    def preparing(self, done: int, total: int) -> None:
        self._prep_total = total
        if self._progress:
            self._progress(done, total + self._train_steps)

    def training(self, step: int) -> None:
        if self._progress:
            self._progress(self._prep_total + step, self._prep_total + self._train_steps)


def _teacher_targets(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str],
    pooling: Pooling,
    cache: Path | None,
    report: _Reporter,
) -> torch.Tensor:
    """The teacher's un-normalised pooled embeddings of the corpus, cached beside the checkpoints."""
    raw = Pooling(pooling.mode, normalize=False, max_length=pooling.max_length)
    if cache is not None and cache.is_file():
        cached: torch.Tensor = torch.load(cache)
        return cached
    size = 64
    order = length_order(texts)  # across chunks too, so each progress step is one similar-length batch
    count = math.ceil(len(texts) / size)
    parts = []
    for index in range(count):
        chunk = [texts[i] for i in order[index * size : (index + 1) * size]]
        parts.append(embed(model, tokenizer, chunk, raw, batch_size=size))
        report.preparing(index + 1, count)
    targets = in_original_order(torch.cat(parts), order)
    if cache is not None:
        _atomic_save(targets, cache)
    return targets


def targets_digest(teacher: Path, pooling: Pooling, texts: Sequence[str]) -> str:
    """Names the cached teacher targets: the same teacher, pooling and corpus give the same targets."""
    key = json.dumps([str(teacher.resolve()), pooling.mode, pooling.max_length, "\n".join(texts)])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def _fingerprint(
    teacher: Path, keep: list[int], texts: Sequence[str], batch_size: int, objective: str
) -> str:
    corpus = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    text = json.dumps([str(teacher.resolve()), keep, batch_size, corpus, objective])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resume(student: Any, optimizer: torch.optim.Optimizer, plan: Plan) -> RunState:
    path = _checkpoint_path(plan)
    if path is None or not path.is_file():
        return RunState()
    saved = torch.load(path, weights_only=False)
    if saved["fingerprint"] != plan.fingerprint:
        raise InvalidRequest(
            f"the checkpoint in {plan.checkpoint_dir} is from a different teacher, corpus, layer choice or "
            "batch size; remove it or choose another checkpoint folder",
            param="checkpoint_dir",
        )
    student.load_state_dict(saved["student"])
    optimizer.load_state_dict(saved["optimizer"])
    return RunState(step=int(saved["step"]), losses=list(saved["losses"]), resumed_from=int(saved["step"]))


def _save_checkpoint(student: Any, optimizer: torch.optim.Optimizer, state: RunState, plan: Plan) -> None:
    path = _checkpoint_path(plan)
    if path is None:
        return
    payload = {
        "student": student.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": state.step,
        "losses": state.losses,
        "fingerprint": plan.fingerprint,
    }
    _atomic_save(payload, path)


def _checkpoint_path(plan: Plan) -> Path | None:
    return plan.checkpoint_dir / "student.pt" if plan.checkpoint_dir else None


def _atomic_save(payload: object, path: Path) -> None:
    """Write then rename, so a run killed mid-save leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(payload, partial)
    partial.replace(path)


def _write_log(out: Path, keep: list[int], state: RunState) -> None:
    log = {"teacher_layers_kept": keep, "steps": state.step, "losses": [round(x, 6) for x in state.losses]}
    (out / LOG_FILE).write_text(json.dumps(log))


def _mean_head(values: list[float], n: int = 10) -> float:
    return sum(values[:n]) / len(values[:n]) if values else float("nan")


def _mean_tail(values: list[float], n: int = 10) -> float:
    return sum(values[-n:]) / len(values[-n:]) if values else float("nan")
