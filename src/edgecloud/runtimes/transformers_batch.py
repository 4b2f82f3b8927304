"""Continuous batching for full-precision transformers decoders: many sequences decoded by one forward
pass per step, sequences joining and leaving between steps.

Layout: one batched `DynamicCache` whose rows are the running sequences, left-padded to a common width
and masked by a 0/1 attention mask. A joining sequence is prefilled alone (batch of one, no padding,
so its prompt is processed exactly as if it ran alone), then its KV rows are left-padded into the batch
(or the batch is re-padded when the newcomer is wider). A sequence that finishes leaves at once: its
rows are dropped, and columns that became padding in every row are trimmed. Each row carries its own
position ids (its real length, padding excluded) and its own sampler (seed, temperature, top_p).

On a GPU the cache, mask and inputs live on the device; greedy rows take their tokens from one batched
argmax (one device-to-host copy per step, not one per sequence), sampled rows are drawn on the CPU with
the request's seeded generator, so a seed gives the same tokens on either device."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from edgecloud.runtimes import hf_cache
from edgecloud.runtimes.base import Prepared, StepOutput

Sampler = Callable[[torch.Tensor, float, float, torch.Generator], int]


@dataclass
class _Row:
    """One running sequence: its request, sampler state, and where it stands in the cache."""

    prepared: Prepared
    generator: torch.Generator
    length: int  # real tokens in the cache (prompt + generated so far, padding excluded)
    next_token: int  # sampled last step, fed to the model this step
    produced: int  # completion tokens emitted so far


def new_generator(seed: int | None) -> torch.Generator:
    """A per-request generator: a request's seed gives the same draws whoever shares its batch."""
    return torch.Generator().manual_seed(
        seed if seed is not None else int(torch.randint(0, 2**31, ()).item())
    )


def step_output(
    prepared: Prepared,
    logprobs: torch.Tensor,
    generator: torch.Generator,
    produced: int,
    eos: set[int],
    sample: Sampler,
    token: int | None = None,
) -> tuple[StepOutput, int | None]:
    """The next token of one sequence from its log-probabilities row; (output, token or None at EOS).
    Shared by the one-at-a-time path and the batch so that both decide tokens identically; `token` is
    the batch's own greedy pick when it made one (the same argmax `sample` would take)."""
    sampling = prepared.request.sampling
    if token is None or sampling.temperature > 0:
        token = sample(logprobs, sampling.temperature, sampling.top_p, generator)
    if token in eos:
        return StepOutput(prepared, finish_reason="stop"), None
    top: tuple[tuple[int, float], ...] = ()
    if sampling.top_logprobs:
        values, ids = torch.topk(logprobs, sampling.top_logprobs)
        top = tuple((int(i), float(v)) for i, v in zip(ids, values, strict=True))
    output = StepOutput(
        prepared,
        token_id=token,
        logprob=float(logprobs[token]) if sampling.logprobs else None,
        top_logprobs=top,
        finish_reason="length" if produced >= prepared.max_tokens else None,
    )
    return output, token


def cache_is_batchable(cache: Any) -> bool:
    """Only plain full-attention layers can be left-padded and re-padded freely; sliding-window or
    recurrent layers keep offsets we would corrupt, so such models decode one sequence at a time."""
    from transformers.cache_utils import DynamicLayer

    layers: list[Any] = list(getattr(cache, "layers", None) or [])
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


class DecodeBatch:
    """The running sequences of one decoder. Not thread-safe: one scheduler thread owns it."""

    def __init__(self, model: Any, eos: set[int], sample: Sampler, device: Any = None) -> None:
        self._model = model
        self._eos = eos
        self._sample = sample
        self._device = torch.device(device or "cpu")
        self._rows: list[_Row] = []
        self._cache: Any = None
        self._mask = self._empty_mask()
        self.forward_passes = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def width(self) -> int:
        """Cache columns per row (the longest sequence; the others are left-padded to it)."""
        return int(self._mask.shape[1])

    def add(self, prepared: Prepared) -> StepOutput:
        """Prefill a new sequence alone and sample its first token; it joins the batch unless that
        first token already finished it."""
        from transformers import DynamicCache

        sampling = prepared.request.sampling
        generator = new_generator(sampling.seed)
        with torch.inference_mode():
            logits, cache = hf_cache.forward(
                self._model,
                DynamicCache(config=self._model.config),
                input_ids=torch.tensor([prepared.tokens], device=self._device),
            )
        self.forward_passes += 1
        logprobs = torch.log_softmax(logits[0, -1].float(), dim=-1)
        output, token = step_output(prepared, logprobs, generator, 1, self._eos, self._sample)
        if token is not None and output.finish_reason is None:
            self._join(cache, len(prepared.tokens))
            self._rows.append(_Row(prepared, generator, len(prepared.tokens), token, 1))
        return output

    def step(self) -> list[StepOutput]:
        """One decode step for every running sequence; those that end (EOS, length) leave at once."""
        if not self._rows:
            return []
        where = self._device
        input_ids = torch.tensor([[row.next_token] for row in self._rows], device=where)
        positions = torch.tensor([[row.length] for row in self._rows], device=where)
        ones = torch.ones((len(self._rows), 1), dtype=torch.long, device=where)
        mask = torch.cat([self._mask, ones], dim=1)
        with torch.inference_mode():
            logits, self._cache = hf_cache.forward(
                self._model, self._cache, input_ids=input_ids, attention_mask=mask, position_ids=positions
            )
        self.forward_passes += 1
        self._mask = mask
        logprobs = torch.log_softmax(logits[:, -1].float(), dim=-1)
        greedy: list[int] = torch.argmax(logprobs, dim=-1).tolist()  # one copy to the host per step
        outputs: list[StepOutput] = []
        finished: list[Prepared] = []
        for index, row in enumerate(self._rows):
            row.length += 1
            row.produced += 1
            output, token = step_output(
                row.prepared,
                logprobs[index],
                row.generator,
                row.produced,
                self._eos,
                self._sample,
                token=greedy[index],
            )
            outputs.append(output)
            if token is None or output.finish_reason is not None:
                finished.append(row.prepared)
            else:
                row.next_token = token
        self.remove(finished)
        return outputs

    def remove(self, leaving: Iterable[Prepared]) -> None:
        """Drop sequences (finished, stopped by a stop string, or cancelled); unknown ones are ignored."""
        gone = {id(prepared) for prepared in leaving}
        keep = [i for i, row in enumerate(self._rows) if id(row.prepared) not in gone]
        if len(keep) == len(self._rows):
            return
        self._rows = [self._rows[i] for i in keep]
        if not self._rows:
            self._cache, self._mask = None, self._empty_mask()
            return
        index = torch.tensor(keep, device=self._device)
        self._mask = self._mask[index]
        used = torch.nonzero(self._mask.any(dim=0))
        start = int(used[0]) if len(used) else 0  # columns that are padding in every row are trimmed
        self._mask = self._mask[:, start:]
        for layer in self._cache.layers:
            layer.keys = layer.keys[index, :, start:, :]
            layer.values = layer.values[index, :, start:, :]

    def _empty_mask(self) -> torch.Tensor:
        return torch.zeros((0, 0), dtype=torch.long, device=self._device)

    def _join(self, cache: Any, length: int) -> None:
        """Left-pad the newcomer's KV to the batch width (or the batch to the newcomer's) and stack it."""
        row_mask = torch.ones((1, length), dtype=torch.long, device=self._device)
        if self._cache is None:
            self._cache, self._mask = cache, row_mask
            return
        width = max(self.width, length)
        grow = width - self.width
        if grow:
            self._mask = F.pad(self._mask, (grow, 0))
        self._mask = torch.cat([self._mask, F.pad(row_mask, (width - length, 0))], dim=0)
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat(
                [F.pad(mine.keys, (0, 0, grow, 0)), F.pad(theirs.keys, (0, 0, width - length, 0))]
            )
            mine.values = torch.cat(
                [F.pad(mine.values, (0, 0, grow, 0)), F.pad(theirs.values, (0, 0, width - length, 0))]
            )
