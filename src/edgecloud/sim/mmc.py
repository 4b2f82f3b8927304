"""Queueing-theory check of the engine: an M/M/c cloud tier (Poisson arrivals, exponential service,
c replicas that each serve one request at a time, no queue limit) simulated by the same Engine and
CloudTier the fleet runs, beside Erlang C's closed form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgecloud.sim.cloud import CloudTier
from edgecloud.sim.engine import Engine
from edgecloud.sim.scenario import Cloud


@dataclass(frozen=True)
class ErlangC:
    p_wait: float  # probability an arrival waits
    mean_wait: float  # seconds in queue, averaged over all arrivals
    utilisation: float


def erlang_c(servers: int, arrival_rate: float, service_rate: float) -> ErlangC:
    """Erlang C for a stable M/M/c queue (arrival_rate < servers * service_rate)."""
    load = arrival_rate / service_rate
    rho = load / servers
    if rho >= 1:
        raise ValueError(f"unstable queue: utilisation {rho:.3f} >= 1")
    term, total = 1.0, 1.0  # load^k / k!, summed for k < servers
    for k in range(1, servers):
        term *= load / k
        total += term
    top = term * load / servers / (1 - rho)  # load^c / c! / (1 - rho)
    p_wait = top / (total + top)
    return ErlangC(p_wait, p_wait / (servers * service_rate - arrival_rate), rho)


def simulate_mmc(
    servers: int, arrival_rate: float, service_rate: float, requests: int, seed: int, warmup: float = 0.05
) -> dict[str, float]:
    """Simulated waits; the first `warmup` share of requests (an empty start) is left out."""
    rng = np.random.default_rng(seed)
    times = np.cumsum(rng.exponential(1 / arrival_rate, requests))
    work = rng.exponential(1 / service_rate, requests)  # seconds at one token/s
    spec = Cloud(
        replicas=servers,
        max_batch=1,
        throughput=[(1, 1.0)],
        prefill_tok_s=1.0,
        queue_limit=requests,
        cold_start_s=0.0,
    )
    engine = Engine()
    cloud = CloudTier(engine, spec, requests)
    service = work.tolist()
    # Pure service time: no prompt to prefill, one "token" of work per second at one token/s.

    def arrive(now: float, i: int) -> None:
        cloud.submit(now, i, 0.0, service[i])

    engine.run(times.tolist(), arrive)
    waits = np.asarray(cloud.admit) - times
    kept = waits[int(requests * warmup) :]
    theory = erlang_c(servers, arrival_rate, service_rate)
    return {
        "servers": servers,
        "arrival_rate": arrival_rate,
        "service_rate": service_rate,
        "requests": requests,
        "seed": seed,
        "mean_wait": float(kept.mean()),
        "p_wait": float((kept > 1e-12).mean()),
        "erlang_c_mean_wait": theory.mean_wait,
        "erlang_c_p_wait": theory.p_wait,
        "utilisation": theory.utilisation,
        "events": engine.events,
    }
