"""The runs behind `edgecloud bench speculative`: the same prompts, greedy, through each configuration,
one node process at a time (this machine has two cores: nodes never decode at the same time).

- one node: the target alone, then the target with the draft in the same node (adaptive k, fixed k);
- across the link: a cloud node behind an emulated link (bench netem), the prompts decoded by the cloud
  alone through the link, then by an edge node that drafts and sends each round to the cloud's verify
  route through the same link, at each RTT."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from edgecloud.bench.speculative.client import Generation, generate
from edgecloud.serving.launcher import NodeProcess

Progress = Callable[[str], None]


@dataclass
class Config:
    target: str
    draft: str
    prompts: int = 16
    max_tokens: int = 128
    rtts_ms: tuple[float, ...] = (0.0, 20.0, 80.0)
    explain: bool = False  # ask for an explanation, so answers run to max_tokens (end to end for 128)
    fixed_k: int = 4
    threads: int = 2
    seed: int = 0


@dataclass
class Results:
    config: Config
    prompts: list[list[dict[str, str]]]
    runs: dict[str, list[Generation]] = field(default_factory=dict)  # configuration -> one per prompt
    roofline: Any = None


EXPLAIN = " Explain your answer step by step, in detail."


def prompts(count: int, seed: int = 0, *, explain: bool = False) -> list[list[dict[str, str]]]:
    """Held-out eval items (asked as `edgecloud eval` asks them) and the scenario's dialogue, alternating;
    `explain` adds a request for a detailed explanation to each, so answers are long."""
    from edgecloud.bench.scenario_workload import DIALOGUE, labeled_items
    from edgecloud.eval import gold

    labeled = [gold.messages(x.suite, x.item) for x in labeled_items(count - count // 2, seed=seed)]
    shuffled = random.Random(seed).sample(DIALOGUE, len(DIALOGUE))
    dialogue = [[{"role": "user", "content": shuffled[i % len(shuffled)]}] for i in range(count // 2)]
    paired = zip_longest(labeled, dialogue)
    chosen = [messages for pair in paired for messages in pair if messages is not None]
    if explain:
        chosen = [[*m[:-1], {**m[-1], "content": m[-1]["content"] + EXPLAIN}] for m in chosen]
    return chosen


def run_all(config: Config, progress: Progress) -> Results:
    results = Results(config, prompts(config.prompts, config.seed, explain=config.explain))
    node_args = ["--threads", str(config.threads)]
    one_node = {
        "target alone": [],
        "one node, adaptive k": ["--draft-model", config.draft],
        f"one node, k={config.fixed_k}": ["--draft-model", config.draft, "--draft-k", str(config.fixed_k)],
    }
    for name, args in one_node.items():
        with NodeProcess([config.target], args=[*node_args, *args]) as node:
            node.wait_ready(600)
            results.runs[name] = _each(node.url, config, results.prompts, progress, name)
    _across_link(config, results, node_args, progress)
    return results


def _across_link(config: Config, results: Results, node_args: list[str], progress: Progress) -> None:
    from edgecloud.bench.netem import LinkProfile
    from edgecloud.bench.scenario_stack import LinkThread

    with NodeProcess([config.target], args=[*node_args, "--tier", "cloud"]) as cloud:
        cloud.wait_ready(600)
        with LinkThread(("127.0.0.1", cloud.port), LinkProfile(rtt_s=config.rtts_ms[0] / 1000)) as link:
            edge_args = [*node_args, "--draft-model", config.draft, "--verify-url", link.url]
            fixed_args = [*edge_args, "--draft-k", str(config.fixed_k)]
            with (
                NodeProcess([config.target], args=edge_args) as edge,
                NodeProcess([config.target], args=fixed_args) as fixed,
            ):
                edge.wait_ready(600)
                fixed.wait_ready(600)
                for rtt in config.rtts_ms:
                    link.set_rtt(rtt / 1000)
                    targets = (
                        (f"cloud only, {rtt:g} ms", link.url),
                        (f"edge drafts (adaptive), {rtt:g} ms", edge.url),
                        (f"edge drafts (k={config.fixed_k}), {rtt:g} ms", fixed.url),
                    )
                    for name, url in targets:
                        results.runs[name] = _each(url, config, results.prompts, progress, name)


def _each(
    url: str, config: Config, chosen: Sequence[list[dict[str, str]]], progress: Progress, label: str
) -> list[Generation]:
    out = []
    for i, messages in enumerate(chosen, start=1):
        out.append(generate(url, config.target, messages, config.max_tokens))
        progress(f"{label}: {i}/{len(chosen)}")
    return out
