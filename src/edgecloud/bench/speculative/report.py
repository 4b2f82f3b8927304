"""Figures from the runs: per configuration medians, acceptance, cloud passes per token, identity with the
target alone (each divergence located and its top-2 margin in the reference), and the speed-up plot."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgecloud.bench.speculative.client import Generation, first_divergence
from edgecloud.bench.speculative.roofline import Costs, speedup
from edgecloud.bench.speculative.runner import Results

REFERENCE = "target alone"
# A near-tie: the target's top two tokens within this many nats. llama.cpp computes a batch of tokens with
# other kernels than a single token (activations quantised differently); on Qwen2.5-Coder-1.5B Q4_K_M the
# top-2 margin moved by up to 0.34 nats between a one-token step and 2-, 4- or 8-token batches (40 tokens
# of a greedy answer), so margins below 0.5 can swap whichever way a pass is batched.
NEAR_TIE = 0.5


@dataclass(frozen=True)
class Row:
    name: str
    decode_tps: float | None
    ttft_ms: float
    total_s: float
    tokens: float
    s_per_128: float | None
    acceptance: float | None
    mean_accepted: float | None
    passes_per_token: float | None
    identical: int
    prompts: int
    divergences: tuple[float, ...]  # the reference's top-2 margin where each divergent output first differs

    @property
    def near_ties(self) -> int:
        return sum(margin < NEAR_TIE for margin in self.divergences)


def summarise(name: str, runs: list[Generation], reference: list[Generation]) -> Row:
    rates = [g.decode_tps for g in runs if g.decode_tps]
    stats = [g.stats for g in runs if g.stats]
    drafted = sum(s["drafted"] for s in stats)
    rounds = sum(s["rounds"] for s in stats)
    generated = sum(s["generated"] for s in stats)
    divergences = []
    for ref, got in zip(reference, runs, strict=True):
        at = first_divergence(ref.tokens, got.tokens)
        if at is not None:
            divergences.append(ref.margins[at] if at < len(ref.margins) else float("inf"))
    per_128 = [g.ttft_s + 127 / g.decode_tps for g in runs if g.decode_tps]
    return Row(
        name=name,
        decode_tps=statistics.median(rates) if rates else None,
        ttft_ms=1000 * statistics.median(g.ttft_s for g in runs),
        total_s=statistics.median(g.total_s for g in runs),
        tokens=statistics.fmean(len(g.tokens) for g in runs),
        s_per_128=statistics.median(per_128) if per_128 else None,
        acceptance=sum(s["accepted"] for s in stats) / drafted if drafted else None,
        mean_accepted=sum(s["accepted"] for s in stats) / rounds if rounds else None,
        passes_per_token=rounds / generated if generated else None,
        identical=len(runs) - len(divergences),
        prompts=len(runs),
        divergences=tuple(divergences),
    )


def rows(results: Results) -> list[Row]:
    reference = results.runs[REFERENCE]
    return [summarise(name, runs, reference) for name, runs in results.runs.items()]


def markdown(table: list[Row]) -> str:
    head = (
        "| configuration | decode tok/s | TTFT p50 ms | s per 128 tokens | acceptance | accepted/round "
        "| cloud passes/token | identical to target alone |\n|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for row in table:
        ties = f" ({row.near_ties} of {len(row.divergences)} differ at a near-tie)" if row.divergences else ""
        lines.append(
            f"| {row.name} | {_f(row.decode_tps, 1)} | {row.ttft_ms:.0f} | {_f(row.s_per_128, 2)} "
            f"| {_f(row.acceptance, 2)} | {_f(row.mean_accepted, 2)} | {_f(row.passes_per_token, 2)} "
            f"| {row.identical}/{row.prompts}{ties} |"
        )
    return head + "\n".join(lines) + "\n"


def _f(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def write(results: Results, table: list[Row], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "config": asdict(results.config),
        "rows": [asdict(row) | {"near_ties": row.near_ties} for row in table],
        "roofline": asdict(results.roofline) if results.roofline is not None else None,
        "near_tie_nats": NEAR_TIE,
    }
    (out / "results.json").write_text(json.dumps(payload, indent=2))
    (out / "table.md").write_text(markdown(table))
    if results.roofline is not None:
        plot(results.roofline, table, out / "speedup.png")


def plot(costs: Costs, table: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rtts = [float(r) for r in range(0, 161, 5)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, flat, title in (
        (axes[0], False, "this CPU (measured forward costs)"),
        (axes[1], True, "if k+1 tokens verified at the cost of one"),
    ):
        for acceptance in (0.5, 0.7, 0.8, 0.9, 0.95):
            gains = [speedup(acceptance, rtt, costs, flat_verify=flat)[1] for rtt in rtts]
            ax.plot(rtts, gains, label=f"acceptance {acceptance:.2f}")
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("round trip to the verifier (ms)")
    for row in table:
        if row.name.startswith("edge drafts") and row.acceptance is not None:
            _measured_point(axes[0], row, table)
    axes[0].set_ylabel("decode speed-up over the target alone (best k >= 1)")
    axes[0].legend(fontsize=7, loc="upper right")
    axes[1].legend(fontsize=8)
    fig.suptitle(
        f"Speculative decoding pays when the curve is above 1 (draft step {costs.draft_ms[1]:.0f} ms, "
        f"target {costs.target_ms[1]:.0f} ms per token)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _measured_point(ax: Any, row: Row, table: list[Row]) -> None:
    rtt = float(row.name.rsplit(",", 1)[1].split("ms")[0])
    base = next((r for r in table if r.name == f"cloud only, {rtt:g} ms"), None)
    if base is None or not (base.decode_tps and row.decode_tps):
        return
    adaptive = "adaptive" in row.name
    label = "measured, adaptive k" if adaptive else f"measured, {row.name.split('(')[1].split(')')[0]}"
    ax.scatter(
        [rtt],
        [row.decode_tps / base.decode_tps],
        color="black",
        marker="o" if adaptive else "s",
        zorder=3,
        s=20,
        label=None if label in ax.get_legend_handles_labels()[1] else label,  # one legend entry each
    )
