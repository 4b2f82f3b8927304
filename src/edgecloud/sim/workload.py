"""Every request of a run drawn at once with numpy (seeded): arrival times per device class (Poisson,
diurnal or bursts), the device, the task mix, prompt and answer lengths, and the per-request flags
(stream, PII, hints, edge model off, link down). Vectorised so a million requests cost well under a
second; the event loop only reads these arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from edgecloud.sim.scenario import Arrivals, DeviceClass, Lengths, Scenario, TaskMix


@dataclass(frozen=True)
class Fleet:
    """Per device: its class and its link's round-trip time (seconds, drawn once per device)."""

    device_class: NDArray[np.int32]
    rtt_s: NDArray[np.float64]
    first_device: NDArray[np.int64]  # per class: index of its first device


@dataclass(frozen=True)
class Workload:
    """Per request, sorted by arrival time. `mix` indexes Scenario-wide (class, mix entry) pairs."""

    time: NDArray[np.float64]
    device: NDArray[np.int32]
    device_class: NDArray[np.int32]
    mix: NDArray[np.int32]
    prompt_tokens: NDArray[np.int32]
    answer_tokens: NDArray[np.int32]
    stream: NDArray[np.bool_]
    pii: NDArray[np.bool_]
    privacy_local: NDArray[np.bool_]
    hint_cloud: NDArray[np.bool_]
    escalate: NDArray[np.bool_]
    edge_off: NDArray[np.bool_]
    link_down: NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.time)


def mix_entries(scenario: Scenario) -> list[tuple[int, TaskMix]]:
    """(class index, mix entry) for every mix entry of every class, in order: what `mix` indexes."""
    return [(c, entry) for c, device in enumerate(scenario.devices) for entry in device.mix]


def build_fleet(scenario: Scenario, rng: np.random.Generator) -> Fleet:
    counts = np.array([d.count for d in scenario.devices])
    device_class = np.repeat(np.arange(len(counts), dtype=np.int32), counts)
    medians = np.repeat([d.network.rtt_ms_median / 1000 for d in scenario.devices], counts)
    sigmas = np.repeat([d.network.rtt_sigma for d in scenario.devices], counts)
    rtt = medians * np.exp(sigmas * rng.standard_normal(len(device_class)))
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return Fleet(device_class, rtt, first)


def class_counts(scenario: Scenario, total: int) -> NDArray[np.int64]:
    """Requests per class from the traffic shares, summing exactly to `total`."""
    shares = np.array([d.traffic_share for d in scenario.devices], dtype=float)
    exact = shares / shares.sum() * total
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(exact - counts)[::-1][: total - counts.sum()]] += 1
    return counts


def arrival_times(spec: Arrivals, n: int, duration: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """n arrival times on [0, duration): given the count, a Poisson process's times are uniform; a
    diurnal one follows its intensity (inverse CDF); bursts put a share inside short windows."""
    if spec.process == "diurnal":
        grid = np.linspace(0.0, duration, 4097)
        amplitude = (spec.peak_to_mean - 1.0) / spec.peak_to_mean  # keeps the rate positive
        rate = 1.0 + amplitude * np.sin(2 * np.pi * grid / spec.period_s - np.pi / 2)
        cdf = np.concatenate([[0.0], np.cumsum((rate[1:] + rate[:-1]) / 2)])
        times = np.interp(rng.random(n) * cdf[-1], cdf, grid)
    elif spec.process == "bursts":
        inside = rng.binomial(n, spec.burst_share)
        starts = rng.random(spec.bursts) * max(duration - spec.burst_s, 0.0)
        burst = starts[rng.integers(0, spec.bursts, inside)] + rng.random(inside) * spec.burst_s
        times = np.concatenate([rng.random(n - inside) * duration, np.minimum(burst, duration)])
    else:
        times = rng.random(n) * duration
    return np.asarray(times, dtype=np.float64)


def lengths(spec: Lengths, n: int, rng: np.random.Generator, cap: int | None = None) -> NDArray[np.int32]:
    values = spec.median * np.exp(spec.sigma * rng.standard_normal(n))
    upper = min(spec.maximum, cap) if cap else spec.maximum
    return np.clip(np.rint(values), spec.minimum, max(upper, spec.minimum)).astype(np.int32)


def build_workload(scenario: Scenario, fleet: Fleet, rng: np.random.Generator, total: int) -> Workload:
    entries = mix_entries(scenario)
    parts: list[dict[str, np.ndarray]] = []
    offset = 0
    for c, (device, n) in enumerate(zip(scenario.devices, class_counts(scenario, total), strict=True)):
        parts.append(_class_requests(device, c, int(n), offset, fleet, scenario.duration_s, rng))
        offset += len(device.mix)
    merged = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(merged["time"], kind="stable")
    assert offset == len(entries)
    return Workload(**{key: value[order] for key, value in merged.items()})


def spread_evenly(shares: NDArray[np.float64], n: int) -> NDArray[np.int32]:
    """n kinds in a fixed order: the kind furthest behind its share goes next. I.i.d. draws put runs of
    the same kind together (three cloud-bound requests in a row queue at a one-at-a-time cloud), which
    a cyclic prompt list never does; the fit against a bench run needs the bench's order."""
    credit = np.zeros(len(shares))
    out = np.empty(n, np.int32)
    for i in range(n):
        credit += shares
        pick = int(np.argmax(credit))
        credit[pick] -= 1.0
        out[i] = pick
    return out


def _class_requests(
    device: DeviceClass,
    c: int,
    n: int,
    mix_offset: int,
    fleet: Fleet,
    duration: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    shares = np.array([entry.share for entry in device.mix])
    if device.mix_order == "cycle" and device.mix_cycle:
        mix = np.resize(np.array(device.mix_cycle, np.int32), n)
    elif device.mix_order == "cycle":
        mix = spread_evenly(shares / shares.sum(), n)
    else:
        mix = rng.choice(len(device.mix), size=n, p=shares / shares.sum()).astype(np.int32)
    prompt = np.empty(n, np.int32)
    answer = np.empty(n, np.int32)
    fields = {"stream": "stream", "pii": "pii", "privacy_local": "privacy_local", "hint_cloud": "hint_cloud"}
    fields["escalate"] = "escalation"
    flags = {k: np.zeros(n, bool) for k in fields}
    for m, entry in enumerate(device.mix):
        rows = np.flatnonzero(mix == m)
        prompt[rows] = lengths(entry.prompt_tokens, len(rows), rng)
        answer[rows] = lengths(entry.answer_tokens, len(rows), rng, cap=entry.max_tokens)
        for key in flags:
            flags[key][rows] = rng.random(len(rows)) < getattr(entry, fields[key])
    times = arrival_times(device.arrivals, n, duration, rng)
    if device.mix_order == "cycle":
        times = np.sort(times)  # the workload is ordered by time: the cycle must run in that order
    return {
        "time": times,
        "device": (fleet.first_device[c] + rng.integers(0, device.count, n)).astype(np.int32),
        "device_class": np.full(n, c, np.int32),
        "mix": mix + mix_offset,
        "prompt_tokens": prompt,
        "answer_tokens": answer,
        **flags,
        "edge_off": rng.random(n) < device.offline,
        "link_down": rng.random(n) < device.network.outage,
    }


def window(workload: Workload, start: int, count: int) -> Workload:
    """Requests start..start+count, their times shifted so the first arrives at 0."""
    rows = slice(start, start + count)
    parts = {f.name: getattr(workload, f.name)[rows] for f in fields(workload)}
    parts["time"] = parts["time"] - parts["time"][0]
    return Workload(**parts)


def busiest_window(workload: Workload, count: int) -> Workload:
    """The `count` consecutive requests that arrive in the shortest span: the peak of the run."""
    times = workload.time
    spans = times[count - 1 :] - times[: len(times) - count + 1]
    return window(workload, int(np.argmin(spans)), count)
