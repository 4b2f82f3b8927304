"""The node's OpenAI-compatible app (serving/app.py) as a Ray Serve deployment: each replica builds its
own NodeContext and loads its models; Serve's HTTP proxy spreads requests over the replicas, streams SSE
through, and autoscales on ongoing requests."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edgecloud.cloud.session import WORKER_ENV
from edgecloud.errors import InvalidRequest

APP_NAME = "edgecloud"
DEPLOYMENT_NAME = "EdgecloudNode"


@dataclass(frozen=True)
class ServeOptions:
    """What `edgecloud cloud serve` deploys. `autoscale` (min, max) wins over `replicas`."""

    models: tuple[str, ...]
    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 1  # engine threads per replica: 2 replicas x 1 thread fit 2 cores
    replica_cpus: float = 1.0
    replica_gpus: float = 0.0  # Ray hides GPUs from actors that reserve none (CUDA_VISIBLE_DEVICES)
    runtime: str | None = None
    max_ongoing_requests: int = 16  # the node queues behind its worker; Serve must not cap it lower
    target_ongoing_requests: float = 2.0
    node_settings: dict[str, Any] = field(default_factory=dict)


def parse_autoscale(text: str) -> tuple[int, int]:
    """'MIN:MAX' -> (min, max), with 0 <= min <= max and max >= 1."""
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError:
        raise InvalidRequest(f"--autoscale takes MIN:MAX (e.g. 1:2), not {text!r}") from None
    if low < 0 or high < 1 or low > high:
        raise InvalidRequest(f"--autoscale needs 0 <= MIN <= MAX and MAX >= 1, got {text!r}")
    return low, high


def _app_builder(options: ServeOptions) -> Callable[[], Any]:
    """A plain function (Serve calls it on each replica) that builds that replica's node app."""
    models = list(options.models)
    settings = {"tier": "cloud", "threads": options.threads, **options.node_settings}
    runtime = options.runtime

    def build_node_app() -> Any:
        from edgecloud.cloud.replica_retry import ReplicaHeader
        from edgecloud.config import NodeSettings
        from edgecloud.serving.app import build_context, create_app

        app = create_app(build_context(models, NodeSettings(**settings), runtime=runtime))
        app.add_middleware(ReplicaHeader, replica=_replica_name())
        return app

    return build_node_app


def _replica_name() -> str:
    import os

    from ray import serve

    try:
        return f"{serve.get_replica_context().replica_id.unique_id}-{os.getpid()}"
    except Exception:  # outside a replica (tests calling the builder directly)
        return f"pid-{os.getpid()}"


class _NodeReplica:
    """Serve's health check doubles as the readiness gate: a new replica takes traffic only after its
    models loaded (the initial check waits for them), and one whose model failed is replaced."""

    app: Any  # set by ASGIAppReplicaWrapper

    async def check_health(self) -> None:
        pool = self.app.state.ctx.pool
        await asyncio.to_thread(pool.loaded.wait, 120.0)
        if not pool.loaded.is_set():
            raise RuntimeError("models still loading after 120 s")
        if pool.errors:
            raise RuntimeError(f"models failed to load: {pool.errors}")


def node_deployment(options: ServeOptions) -> Any:
    """The bound Serve application (Deployment.bind()) for these options."""
    from ray import serve

    config: dict[str, Any] = {
        "name": DEPLOYMENT_NAME,
        "ray_actor_options": {
            "num_cpus": options.replica_cpus,
            "num_gpus": options.replica_gpus,
            "runtime_env": {"env_vars": WORKER_ENV},
        },
        "max_ongoing_requests": options.max_ongoing_requests,
        "health_check_period_s": 5,
        "health_check_timeout_s": 150,
        "graceful_shutdown_timeout_s": 5,
        "graceful_shutdown_wait_loop_s": 1,
    }
    if options.autoscale is not None:
        low, high = options.autoscale
        config["autoscaling_config"] = {
            "min_replicas": low,
            "initial_replicas": max(low, 1),
            "max_replicas": high,
            "target_ongoing_requests": options.target_ongoing_requests,
            "upscale_delay_s": 2,
            "downscale_delay_s": 30,
        }
    else:
        config["num_replicas"] = options.replicas
    ingress = serve.ingress(_app_builder(options))(_NodeReplica)
    return serve.deployment(**config)(ingress).bind()


def deploy(options: ServeOptions) -> None:
    """Starts Serve's HTTP proxy on host:port with RetryLostReplica (if Serve is not running yet: a
    running Serve keeps its own proxy options) and deploys the node app; returns once every replica
    passed its first health check (models loaded)."""
    from ray import serve
    from starlette.middleware import Middleware

    from edgecloud.cloud.replica_retry import RetryLostReplica

    http = {"host": options.host, "port": options.port, "middlewares": [Middleware(RetryLostReplica)]}
    serve.start(http_options=http)
    serve.run(node_deployment(options), name=APP_NAME, route_prefix="/", blocking=False)


def undeploy(*, local: bool) -> None:
    """Our application goes; on a user's cluster Serve itself (and other apps) stay as they were."""
    from ray import serve

    if local:
        serve.shutdown()
    else:
        serve.delete(APP_NAME)


def wait_for_signal() -> int:
    """Blocks the main thread until SIGINT or SIGTERM; returns the signal number."""
    received: list[int] = []
    stop = threading.Event()

    def on_signal(sig: int, frame: object) -> None:
        received.append(sig)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return received[0]
