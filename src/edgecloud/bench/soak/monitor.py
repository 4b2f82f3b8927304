"""Resident memory and open file descriptors of each server process, sampled over a soak: what grows
after warm-up is a leak (or a cache without a bound)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psutil


@dataclass(frozen=True)
class Sample:
    at_s: float
    rss_mb: float
    fds: int


@dataclass
class Series:
    """One process's samples; `growth` compares the last one with the first after warm-up."""

    name: str
    pid: int
    samples: list[Sample] = field(default_factory=list)

    def take(self, started: float) -> Sample | None:
        try:
            process = psutil.Process(self.pid)
            rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(True))
            sample = Sample(round(time.perf_counter() - started, 1), rss / 2**20, process.num_fds())
        except psutil.Error:
            return None
        self.samples.append(sample)
        return sample

    def growth(self, warm_up_s: float) -> float:
        """RSS growth as a share of the first sample after warm-up; 0 without two samples."""
        warm = self._warm(warm_up_s)
        return warm[-1].rss_mb / warm[0].rss_mb - 1 if len(warm) > 1 else 0.0

    def fd_growth(self, warm_up_s: float) -> tuple[int, int]:
        """(open files added since the first sample after warm-up, open files at that sample)."""
        warm = self._warm(warm_up_s)
        return (warm[-1].fds - warm[0].fds, warm[0].fds) if len(warm) > 1 else (0, 0)

    def _warm(self, warm_up_s: float) -> list[Sample]:
        return [s for s in self.samples if s.at_s >= warm_up_s]
