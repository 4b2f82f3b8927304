"""Greedy answers on two devices for the same prompts: identical, or where and how far they diverge.

bf16 rounds every matmul differently from fp32, so two greedy decodes agree token for token until the
first step whose top two candidates were closer than that rounding, then go their own ways. Comparing
GPU fp32 with the CPU as well separates the two causes: precision (bf16) and kernels (fp32 on both)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edgecloud.bench.gpu.engines import greedy_chat
from edgecloud.runtimes.transformers import TransformersDecoder


@dataclass(frozen=True)
class Parity:
    reference: str
    candidate: str
    prompts: int
    identical: int
    agreeing_tokens: int  # tokens before the first divergence, summed over prompts
    compared_tokens: int  # tokens of the reference answers
    first_divergence: list[int | None]  # per prompt: the index of the first differing token (None: same)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def greedy_tokens(decoder: TransformersDecoder, prompts: list[str], max_tokens: int) -> list[list[int]]:
    """Every prompt decoded greedily in one continuous batch (the node's path), as token ids."""
    batch = decoder.open_batch()
    answers: dict[int, list[int]] = {}
    prepared_all = [greedy_chat(decoder, p, max_tokens, f"parity-{i}") for i, p in enumerate(prompts)]
    for prepared in prepared_all:
        answers[id(prepared)] = []
        _record(answers, [batch.add(prepared)])
    while len(batch):
        _record(answers, batch.step())
    return [answers[id(prepared)] for prepared in prepared_all]


def _record(answers: dict[int, list[int]], outputs: list[Any]) -> None:
    for output in outputs:
        if output.token_id is not None:
            answers[id(output.prepared)].append(output.token_id)


def compare(reference: list[list[int]], candidate: list[list[int]], names: tuple[str, str]) -> Parity:
    firsts: list[int | None] = []
    agreeing = 0
    for ref, cand in zip(reference, candidate, strict=True):
        first = next((i for i, (a, b) in enumerate(zip(ref, cand, strict=False)) if a != b), None)
        if first is None and len(ref) != len(cand):
            first = min(len(ref), len(cand))
        firsts.append(first)
        agreeing += len(ref) if first is None else first
    return Parity(names[0], names[1], len(reference), sum(f is None for f in firsts), agreeing,
                  sum(len(r) for r in reference), firsts)  # fmt: skip
