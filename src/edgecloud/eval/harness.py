"""Runs a suite against one endpoint: every item asked the same way, judged by every method that
applies, with the confidence signals a cascade needs recorded beside correctness."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from edgecloud.eval import gold, prompts
from edgecloud.eval.client import Answer, Endpoint, EndpointError
from edgecloud.eval.scoring import (
    chrf,
    contains_answer,
    percentile,
    wilson_interval,
)
from edgecloud.eval.suites import ChoiceItem, Item, OpenItem, TranslationItem

Progress = Callable[[int], None]


@dataclass
class Record:
    """One item on one endpoint: per-method correctness (1/0, or a chrF score for translation) and
    the edge-side confidence signals (mean token logprob, first-token probability, option margin)."""

    id: str
    answer: str
    scores: dict[str, float] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tier: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class MethodSummary:
    method: str
    n: int
    accuracy: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class SuiteSummary:
    suite: str
    model: str
    url: str
    items: int
    errors: int
    methods: tuple[MethodSummary, ...]
    latency_p50: float
    latency_p95: float
    prompt_tokens: int
    completion_tokens: int
    corpus_chrf: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _choice(endpoint: Endpoint, item: ChoiceItem, sentiment: bool, loglik: bool) -> Record:
    answer = await endpoint.chat(prompts.choice_messages(item, sentiment), max_tokens=gold.max_tokens(item))
    record = _record(item.id, answer)
    record.scores["letter"] = gold.score(item, answer.text)
    letter = "ABCDEFGH"[item.answer]
    record.confidence["first_prob"] = math.exp(max(answer.first_top.values(), default=-math.inf))
    record.confidence["letter_prob"] = math.exp(
        max((lp for tok, lp in answer.first_top.items() if tok.strip().upper() == letter), default=-math.inf)
    )
    if loglik:
        await _score_options(endpoint, item, sentiment, record)
    return record


async def _score_options(endpoint: Endpoint, item: ChoiceItem, sentiment: bool, record: Record) -> None:
    """acc_norm: the option with the highest log-likelihood per character wins."""
    context = prompts.choice_context(item, sentiment)
    scored = [await endpoint.loglikelihood(context, f" {option}") for option in item.options]
    if any(s is None for s in scored):
        return
    per_char = [s.logprob / max(s.chars, 1) for s in scored if s is not None]
    best = max(range(len(per_char)), key=per_char.__getitem__)
    record.scores["loglik"] = float(best == item.answer)
    ordered = sorted(per_char, reverse=True)
    record.confidence["loglik_margin"] = ordered[0] - ordered[1]
    record.seconds += sum(s.seconds for s in scored if s is not None)


async def _open(endpoint: Endpoint, item: OpenItem) -> Record:
    answer = await endpoint.chat(prompts.open_messages(item), max_tokens=gold.max_tokens(item))
    record = _record(item.id, answer)
    record.scores["exact"] = gold.score(item, answer.text)
    record.scores["contains"] = float(contains_answer(answer.text, item.answers))
    return record


async def _translation(endpoint: Endpoint, item: TranslationItem) -> Record:
    answer = await endpoint.chat(
        prompts.translation_messages(item), max_tokens=gold.max_tokens(item), metadata=gold.metadata(item)
    )
    record = _record(item.id, answer)
    record.answer = gold.first_line(answer.text)
    record.scores["chrf"] = gold.score(item, answer.text)
    return record


def _record(item_id: str, answer: Answer) -> Record:
    record = Record(
        item_id,
        answer.text,
        seconds=answer.seconds,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        tier=answer.tier,
    )
    if answer.mean_logprob is not None:
        record.confidence["mean_logprob"] = answer.mean_logprob
        record.confidence["min_logprob"] = min(answer.logprobs)
    return record


async def _classified(endpoint: Endpoint, item: ChoiceItem) -> Record:
    """Sentiment through a classifier model: its most probable label against the item's."""
    scores, seconds, tokens = await endpoint.classify(item.question)
    label = max(scores, key=scores.__getitem__)
    record = Record(item.id, label, seconds=seconds, prompt_tokens=tokens)
    record.scores["classify"] = float(label == item.options[item.answer])
    record.confidence["max_prob"] = scores[label]
    return record


async def _one(endpoint: Endpoint, item: Item, suite: str, loglik: bool, classify: bool) -> Record:
    try:
        if classify and isinstance(item, ChoiceItem):
            return await _classified(endpoint, item)
        if isinstance(item, ChoiceItem):
            return await _choice(endpoint, item, suite == "sentiment", loglik)
        if isinstance(item, OpenItem):
            return await _open(endpoint, item)
        return await _translation(endpoint, item)
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        return Record(item.id, "", error=f"{type(exc).__name__}: {exc}")


async def run_items(
    url: str,
    model: str,
    suite: str,
    items: Sequence[Item],
    *,
    loglik: bool = True,
    concurrency: int = 2,
    api_key: str | None = None,
    timeout: float = 300.0,
    on_progress: Progress | None = None,
) -> list[Record]:
    """Asks every item; records keep the items' order. Errors are recorded per item (and counted),
    never silently dropped."""
    gate = asyncio.Semaphore(concurrency)
    done = 0
    async with httpx.AsyncClient(timeout=timeout) as client:
        endpoint = Endpoint(client, url, model, api_key)
        classify = suite == "sentiment" and await _is_classifier(endpoint, items)

        async def guarded(item: Item) -> Record:
            nonlocal done
            async with gate:
                record = await _one(endpoint, item, suite, loglik, classify)
            done += 1
            if on_progress:
                on_progress(done)
            return record

        return list(await asyncio.gather(*(guarded(item) for item in items)))


async def _is_classifier(endpoint: Endpoint, items: Sequence[Item]) -> bool:
    """A sentiment model that answers /v1/classify is scored as a classifier, a chat model by its reply."""
    first = next((i for i in items if isinstance(i, ChoiceItem)), None)
    if first is None:
        return False
    try:
        await endpoint.classify(first.question)
    except (EndpointError, httpx.HTTPError, KeyError, ValueError):
        return False
    return True


def _interval(values: Sequence[float]) -> tuple[float, float]:
    """95%: Wilson for right/wrong scores, a normal interval of the mean for graded ones (chrF)."""
    if all(v in (0.0, 1.0) for v in values):
        return wilson_interval(round(sum(values)), len(values))
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / max(len(values) - 1, 1) / len(values))
    return max(0.0, mean - 1.96 * spread), min(1.0, mean + 1.96 * spread)


def summarize(
    suite: str, model: str, url: str, items: Sequence[Item], records: Sequence[Record]
) -> SuiteSummary:
    ok = [r for r in records if r.error is None]
    methods = sorted({m for r in ok for m in r.scores})
    summaries = []
    for method in methods:
        values = [r.scores[method] for r in ok if method in r.scores]
        low, high = _interval(values)
        summaries.append(MethodSummary(method, len(values), sum(values) / len(values), low, high))
    corpus = None
    if suite == "translation":
        refs = {i.id: i.reference for i in items if isinstance(i, TranslationItem)}
        corpus = chrf([r.answer for r in ok], [refs[r.id] for r in ok]) if ok else None
    latencies = [r.seconds for r in ok]
    return SuiteSummary(
        suite=suite,
        model=model,
        url=url,
        items=len(records),
        errors=len(records) - len(ok),
        methods=tuple(summaries),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        prompt_tokens=sum(r.prompt_tokens for r in ok),
        completion_tokens=sum(r.completion_tokens for r in ok),
        corpus_chrf=corpus,
    )
