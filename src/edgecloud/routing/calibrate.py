"""`edgecloud calibrate`: measure the edge's and the cloud's answers on a labeled prompt set and pick
the cascade threshold that reaches a target share of the cloud's quality with the fewest cloud calls.

A prompt escalates when the edge's confidence (mean or minimum token log-probability) is under the
threshold, so sorting prompts by confidence turns the search into one pass over k = "the k least
confident prompts go to the cloud"."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from edgecloud.errors import InvalidRequest
from edgecloud.routing.signals import confidence


@dataclass(frozen=True)
class LabeledPrompt:
    prompt: str
    answers: tuple[str, ...]

    def correct(self, text: str) -> bool:
        lowered = text.lower()
        return any(answer.lower() in lowered for answer in self.answers)


@dataclass(frozen=True)
class Sample:
    """One labeled prompt: the edge's signal and each tier's score (1/0 right or wrong, or 0-1 chrF)."""

    confidence: float
    edge_correct: float
    cloud_correct: float


@dataclass(frozen=True)
class Option:
    threshold: float
    cloud_share: float
    quality: float


@dataclass(frozen=True)
class Calibration:
    chosen: Option
    options: tuple[Option, ...]
    edge_quality: float
    cloud_quality: float
    target: float


def load_prompts(path: Path) -> list[LabeledPrompt]:
    prompts = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = row.get("answers") or [row["answer"]]
            prompts.append(LabeledPrompt(str(row["prompt"]), tuple(str(a) for a in answers)))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRequest(
                f'{path}:{number}: expected {{"prompt": ..., "answers": [...]}} ({exc})'
            ) from None
    if not prompts:
        raise InvalidRequest(f"{path} has no prompts")
    return prompts


def choose_threshold(samples: Sequence[Sample], target: float = 0.95, max_share: float = 1.0) -> Calibration:
    """The fewest escalations whose quality reaches target x the cloud's quality; with `max_share`, a
    cap on escalations (a cloud budget): when the target needs more, the best quality within the cap."""
    if not samples:
        raise InvalidRequest("no samples to calibrate on")
    ordered = sorted(samples, key=lambda s: s.confidence)
    n = len(ordered)
    cloud_quality = sum(s.cloud_correct for s in ordered) / n
    options = []
    for k in _cut_points(ordered):
        quality = (sum(s.cloud_correct for s in ordered[:k]) + sum(s.edge_correct for s in ordered[k:])) / n
        options.append(Option(float(_threshold_at(ordered, k)), k / n, float(quality)))
    goal = target * cloud_quality
    allowed = [o for o in options if o.cloud_share <= max_share + 1e-12] or options[:1]
    reached = next((o for o in allowed if o.quality >= goal - 1e-12), None)
    chosen = reached or max(allowed, key=lambda o: (o.quality, -o.cloud_share))
    edge_quality = sum(s.edge_correct for s in ordered) / n
    return Calibration(chosen, tuple(options), edge_quality, cloud_quality, target)


def _cut_points(ordered: Sequence[Sample]) -> list[int]:
    """k values where a threshold can fall: never between equal confidences."""
    cuts = [0]
    for k in range(1, len(ordered)):
        if ordered[k].confidence > ordered[k - 1].confidence:
            cuts.append(k)
    return [*cuts, len(ordered)]


def _threshold_at(ordered: Sequence[Sample], k: int) -> float:
    if k == 0:
        return round(min(ordered[0].confidence - 1.0, -50.0), 4)  # below every confidence: never escalate
    if k == len(ordered):
        return round(max(ordered[-1].confidence + 1e-3, 0.0), 4)  # above every confidence: always
    return round((ordered[k - 1].confidence + ordered[k].confidence) / 2, 4)


def measure(
    prompts: Sequence[LabeledPrompt],
    edge: str,
    cloud: str,
    *,
    score: str = "mean",
    max_tokens: int = 48,
    on_progress: Callable[[int], None] | None = None,
) -> list[Sample]:
    """Asks both tiers every prompt (greedy): the edge with logprobs, the cloud for reference."""
    samples = []
    with httpx.Client(timeout=300) as client:
        edge_model, cloud_model = _chat_model(client, edge), _chat_model(client, cloud)
        for index, item in enumerate(prompts):
            edge_answer = _ask(client, edge, edge_model, item.prompt, max_tokens, logprobs=True)
            cloud_answer = _ask(client, cloud, cloud_model, item.prompt, max_tokens, logprobs=False)
            logprobs = [
                t["logprob"] for t in (edge_answer["choices"][0].get("logprobs") or {}).get("content") or []
            ]
            samples.append(
                Sample(
                    confidence(logprobs, score),
                    item.correct(edge_answer["choices"][0]["message"]["content"] or ""),
                    item.correct(cloud_answer["choices"][0]["message"]["content"] or ""),
                )
            )
            if on_progress:
                on_progress(index + 1)
    return samples


def _chat_model(client: httpx.Client, url: str) -> str:
    models = client.get(f"{url.rstrip('/')}/v1/models").json().get("data", [])
    for entry in models:
        if entry.get("kind", "chat") == "chat":
            return str(entry["id"])
    raise InvalidRequest(f"{url} serves no chat model")


def _ask(
    client: httpx.Client, url: str, model: str, prompt: str, max_tokens: int, logprobs: bool
) -> dict[str, Any]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "logprobs": logprobs,
    }
    response = client.post(f"{url.rstrip('/')}/v1/chat/completions", json=body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def write_threshold(config: Path, calibration: Calibration, score: str) -> None:
    """Sets policy_settings.cascade.{threshold,score} in the topology file, keeping everything else."""
    import yaml

    data = yaml.safe_load(config.read_text()) or {}
    cascade = data.setdefault("policy_settings", {}).setdefault("cascade", {})
    cascade["threshold"] = calibration.chosen.threshold
    cascade["score"] = score
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def print_calibration(result: Calibration, score: str, count: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("threshold", "cloud calls", "quality", title=f"{count} prompts, {score} token logprob")
    for option in result.options:
        mark = " <- chosen" if option == result.chosen else ""
        table.add_row(f"{option.threshold:g}", f"{option.cloud_share:.0%}", f"{option.quality:.0%}{mark}")
    console = Console()
    console.print(table)
    chosen = result.chosen
    console.print(
        f"edge alone {result.edge_quality:.0%}, cloud alone {result.cloud_quality:.0%}; threshold "
        f"{chosen.threshold:g} reaches {chosen.quality:.0%} with {chosen.cloud_share:.0%} cloud calls "
        f"(target: {result.target:.0%} of the cloud's quality)"
    )
