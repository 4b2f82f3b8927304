"""One way to get a Ray session: a private local instance (never someone else's) or the user's cluster,
always shut down again. Ray is imported lazily: it costs ~1 s and ~1.6 GB of processes."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# What every Ray worker of ours needs: offline model loading, one thread per worker (Ray gives each
# worker a CPU), and no per-worker progress bars from transformers.
WORKER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_NUM_THREADS": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}
RAY_BINARIES = frozenset({"raylet", "gcs_server"})


@contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = 2) -> Iterator[Any]:
    """Yields the `ray` module with a connected session.

    A session already open in this process is reused and left open. Otherwise, without an address a
    new local instance starts (address="local": ray.init() alone would join
    whatever cluster /tmp/ray/ray_current_cluster names, e.g. another user's). With one, the cluster is
    joined unchanged (num_cpus only sizes a local instance)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    import ray

    if ray.is_initialized():  # the caller holds a session (a test module, a benchmark): use it as is
        yield ray
        return
    kwargs: dict[str, Any] = {
        "logging_level": logging.WARNING,
        "runtime_env": {"env_vars": WORKER_ENV},
    }
    if address is None:
        kwargs |= {"address": "local", "num_cpus": num_cpus, "include_dashboard": False}
    else:
        kwargs["address"] = address
    ray.init(**kwargs)
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield ray
    finally:
        started = _children() if address is None else []
        ray.shutdown()
        _reap(started)


def _children() -> list[Any]:
    """Ray's processes under this one (raylet, gcs_server, agents, workers), no other children."""
    import psutil

    found = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = " ".join(process.cmdline())
            if command.startswith("ray::") or "/ray/" in command or process.name() in RAY_BINARIES:
                found.append(process)
    return found


def _reap(processes: list[Any], grace: float = 5.0) -> None:
    """A local Ray interrupted mid-job (Ctrl-C) can leave its dashboard and runtime-env agents behind,
    orphaned; the processes this session started are ended by pid, after a grace period."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
