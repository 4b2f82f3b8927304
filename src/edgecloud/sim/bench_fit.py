"""The simulator against the live system: a scenario sized like an `edgecloud bench scenario hybrid`
run, with its engine speeds fitted from that run's own edge-only and cloud-only answers (same
machine, same minutes), then the simulated hybrid placement's TTFT beside the measured one.

    python -m edgecloud.sim.bench_fit bench-results/hybrid/report.json

What is fitted, per tier, from streamed answers at concurrency 1: decode tok/s = (completion tokens - 1)
/ (end - first token); prefill tok/s = prompt tokens / (TTFT - one decode step - RTT). The cloud's
throughput at the highest concurrency comes from that level's cloud-only answers. The request mix,
prompt and answer lengths come from the hybrid answers, in the bench's prompt cycle; clients are
closed-loop, in the bench's rounds."""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgecloud.bench.load import percentile
from edgecloud.bench.scenario import round_size
from edgecloud.bench.scenario_stack import SETTLE_S
from edgecloud.sim.run import simulate
from edgecloud.sim.scenario import Scenario, parse_scenario

# A batch shares each decode step, so every sequence in it decodes slower than one alone; a server whose
# sequences keep >= this share of the single-sequence rate under concurrency ran them one at a time
# (llama.cpp's worker), and its TTFT under load is queueing, not slow batched prompt processing.
SEQUENTIAL_SHARE = 0.8
REPLICAS = 20  # seeded simulations of the bench's hybrid level, pooled
# The bench runs each placement in rounds of a few requests, each from idle, in turn: a transient, in
# which a queue at a one-at-a-time cloud has no time to reach the steady state that one long run would
# show. The gateway's EWMAs carry from round to round, so the rounds are simulated in one run, with
# the bench's pause before each round (in which a probe sees both tiers idle) as the gap.
ROUND_GAP_S = SETTLE_S
# Labeled eval items are plain chat to the simulator (the router that places them reads prompt text).
KINDS: dict[str, dict[str, Any]] = {
    "labeled": {},
    "dialogue": {},
    "private": {"pii": 1.0},
    "mining": {"task": "mining"},
}


def _answers(report: dict[str, Any]) -> list[dict[str, Any]]:
    data = report.get("data", report)
    return [a for a in data["answers"] if a.get("ok", True)]


def _decode_rate(answers: Sequence[dict[str, Any]]) -> float:
    rates = [
        (a["completion_tokens"] - 1) / (a["e2e_s"] - a["ttft_s"])
        for a in answers
        if a["completion_tokens"] > 1 and a["e2e_s"] > a["ttft_s"]
    ]
    return statistics.median(rates)


def _prefill_rate(answers: Sequence[dict[str, Any]], decode: float, rtt: float) -> float:
    rates = [a["prompt_tokens"] / max(a["ttft_s"] - 1 / decode - rtt, 1e-3) for a in answers]
    return statistics.median(rates)


def _batched_prefill_rate(
    answers: Sequence[dict[str, Any]], single: float, per_sequence: float, rtt: float
) -> float:
    """The prefill rate that gives these TTFTs when a request joins a batch decoding at
    `per_sequence` tok/s: the simulator's cloud counts prompt * single / prefill tokens of work."""
    rates = []
    for a in answers:
        work = max((a["ttft_s"] - rtt) * per_sequence - 1.0, 0.1)  # decode-token equivalents
        rates.append(a["prompt_tokens"] * single / work)
    return statistics.median(rates)


def occupancy_scale(report: dict[str, Any], placement: str, prefill: float, decode: float) -> float:
    """How much faster (> 1) or slower the rates must be for a one-at-a-time server to be busy as long
    per request as it was: at the placement's highest concurrency its queue never empties, so wall
    time / requests is the time each request held it, which also holds what TTFT and decode rates
    leave out (detokenising, the HTTP response, handing over to the next request). 1.0 without the
    figures (reports from before levels were recorded)."""
    data = report.get("data", report)
    levels = data.get("levels", {}).get(placement, {})
    busiest = max((int(level) for level in levels), default=1)
    if busiest < 2:
        return 1.0
    figures = levels[str(busiest)]
    rows = [a for a in _answers(report) if a["placement"] == placement and a["concurrency"] == busiest]
    if not rows or not figures.get("requests"):
        return 1.0
    measured = float(figures["wall_s"]) / int(figures["requests"])
    modelled = statistics.mean(a["prompt_tokens"] / prefill + a["completion_tokens"] / decode for a in rows)
    return modelled / measured


def _cycle(report: dict[str, Any], kinds: list[str]) -> list[int] | None:
    """The bench's prompt cycle as mix entries (None when the report has none: spread by share)."""
    cycle = report.get("data", report).get("settings", {}).get("cycle")
    if not cycle or any(kind not in kinds for kind in cycle):
        return None
    return [kinds.index(kind) for kind in cycle]


def fit_scenario(report: dict[str, Any], concurrency: int) -> Scenario:
    """Edge speeds from edge-only at concurrency 1 (one llama.cpp worker serves one request at a
    time, whatever the load); the cloud's from cloud-only at 1 and at `concurrency` (its batching
    makes both decode and prompt processing depend on how many share a step)."""
    answers = _answers(report)
    rtt = float(report.get("data", report).get("rtt_s", 0.08))

    def chosen(placement: str, level: int) -> list[dict[str, Any]]:
        return [a for a in answers if a["placement"] == placement and a["concurrency"] == level]

    edge1, cloud1 = chosen("edge-only", 1), chosen("cloud-only", 1)
    edge_decode, cloud_decode = _decode_rate(edge1), _decode_rate(cloud1)
    cloud_at = _decode_rate(chosen("cloud-only", concurrency)) if concurrency > 1 else cloud_decode
    cloud_prefill = _prefill_rate(cloud1, cloud_decode, rtt)
    batching = concurrency > 1 and cloud_at < SEQUENTIAL_SHARE * cloud_decode
    if batching:
        cloud_prefill = _batched_prefill_rate(chosen("cloud-only", concurrency), cloud_decode, cloud_at, rtt)
    edge_prefill = _prefill_rate(edge1, edge_decode, 0.0)
    edge_scale = occupancy_scale(report, "edge-only", edge_prefill, edge_decode)
    edge_prefill, edge_decode = edge_prefill * edge_scale, edge_decode * edge_scale
    if not batching:
        cloud_scale = occupancy_scale(report, "cloud-only", cloud_prefill, cloud_decode)
        cloud_prefill, cloud_decode = cloud_prefill * cloud_scale, cloud_decode * cloud_scale
    hybrid = chosen("hybrid", concurrency)
    mix, kinds = [], []
    for kind, extra in KINDS.items():
        rows = [a for a in hybrid if a["kind"] == kind]
        if rows:
            kinds.append(kind)
            prompt = statistics.median(a["prompt_tokens"] for a in rows)
            answer = statistics.median(a["completion_tokens"] for a in rows)
            mix.append({
                "share": len(rows),
                "stream": 1.0,
                "max_tokens": max(a["completion_tokens"] for a in rows),
                "prompt_tokens": {"median": prompt, "sigma": 0.1},
                "answer_tokens": {"median": answer, "sigma": 0.1},
                **extra,
            })  # fmt: skip
    throughput = [[1, cloud_decode]] + ([[concurrency, cloud_at * concurrency]] if batching else [])
    return parse_scenario({
        "name": f"bench-hybrid-c{concurrency}",
        "seed": 0,
        "requests": len(hybrid),
        "duration_s": 3600,
        "gateway": {"policies": ["privacy", "hint", "task", "offline", "latency", "cost", "cascade"],
                    "policy_settings": {"latency": {"slo_ttft_ms": 800}}, "probe_interval_s": 0.5},
        "cloud": {"replicas": 1, "max_batch": concurrency if batching else 1, "throughput": throughput,
                  "prefill_tok_s": cloud_prefill, "queue_limit": 10_000,
                  "cold_start_s": 0, "price": {"input_per_1k": 0.0005, "output_per_1k": 0.0015}},
        "devices": [{
            "name": "bench-edge", "count": 1, "traffic_share": 1,
            "decode_tok_s": edge_decode, "prefill_tok_s": edge_prefill,
            "context_length": 8192, "max_queue": 10_000,
            "network": {"rtt_ms_median": rtt * 1000, "rtt_sigma": 0, "bandwidth_mbit": 1000},
            "arrivals": {"process": "closed", "users": concurrency, "round_gap_s": ROUND_GAP_S,
                         "round_requests": round_size(len(hybrid), concurrency)},
            "mix": mix, "mix_order": "cycle", "mix_cycle": _cycle(report, kinds),
        }],
    })  # fmt: skip


def replicated_ttfts(scenario: Scenario, runs: int) -> list[float]:
    """TTFTs of `runs` runs of the whole scenario, each seeded differently, pooled."""
    pooled: list[float] = []
    for seed in range(runs):
        run = simulate(scenario.model_copy(update={"seed": seed}))
        ttft = run.outcome.ttft
        pooled.extend(float(x) for x in ttft[np.isfinite(ttft)])
    return pooled


def compare(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per concurrency level: measured and simulated hybrid TTFT p50/p95 (ms) and the error."""
    levels = sorted({a["concurrency"] for a in _answers(report) if a["placement"] == "hybrid"})
    rows = []
    for level in levels:
        scenario = fit_scenario(report, level)
        measured = [
            a["ttft_s"] for a in _answers(report) if a["placement"] == "hybrid" and a["concurrency"] == level
        ]
        simulated = replicated_ttfts(scenario, REPLICAS)
        row: dict[str, Any] = {"concurrency": level, "requests_measured": len(measured)}
        row |= {"round_size": scenario.devices[0].arrivals.round_requests, "runs_simulated": REPLICAS}
        for q in (50, 95):
            real = percentile(measured, q) * 1000
            predicted = percentile(simulated, q) * 1000
            row |= {f"measured_p{q}_ms": round(real, 1), f"simulated_p{q}_ms": round(predicted, 1),
                    f"error_p{q}": round(predicted / real - 1, 4)}  # fmt: skip
        device = scenario.devices[0]
        row["fitted"] = {
            "edge_decode_tok_s": round(device.decode_tok_s, 1),
            "edge_prefill_tok_s": round(device.prefill_tok_s, 1),
            "cloud_throughput": scenario.cloud.throughput,
            "cloud_prefill_tok_s": round(scenario.cloud.prefill_tok_s, 1),
        }
        rows.append(row)
    return rows


def main(argv: Sequence[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m edgecloud.sim.bench_fit DIR/report.json  (an `edgecloud bench scenario` run)")
        return 2
    try:
        report = json.loads(Path(argv[0]).read_text())
        rows = compare(report)
    except (OSError, ValueError, KeyError, statistics.StatisticsError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        print(f"error: {argv[0]}: not a readable hybrid bench report ({problem})", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
