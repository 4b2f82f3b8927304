"""What `edgecloud cloud serve` asks Ray Serve for, checked without starting Ray."""

from __future__ import annotations

import pytest

from edgecloud.cloud.ray_serve import DEPLOYMENT_NAME, ServeOptions, node_deployment, parse_autoscale
from edgecloud.errors import InvalidRequest


def _config(options: ServeOptions) -> object:
    return node_deployment(options)._bound_deployment._deployment_config


def test_fixed_replicas_reserve_one_cpu_each_and_run_offline() -> None:
    app = node_deployment(ServeOptions(models=("smollm2-135m-instruct",), replicas=2))
    deployment = app._bound_deployment
    assert deployment.name == DEPLOYMENT_NAME and deployment.num_replicas == 2
    options = deployment.ray_actor_options
    assert options["num_cpus"] == 1.0
    assert options["runtime_env"]["env_vars"]["HF_HUB_OFFLINE"] == "1"


def test_autoscaling_follows_ongoing_requests_between_min_and_max() -> None:
    options = ServeOptions(models=("smollm2-135m-instruct",), autoscale=(1, 2), target_ongoing_requests=3)
    autoscaling = _config(options).autoscaling_config  # type: ignore[attr-defined]
    assert (autoscaling.min_replicas, autoscaling.max_replicas) == (1, 2)
    assert autoscaling.target_ongoing_requests == 3


@pytest.mark.parametrize("text", ["2", "a:b", "3:1", "0:0", "-1:2"])
def test_bad_autoscale_ranges_are_rejected(text: str) -> None:
    with pytest.raises(InvalidRequest):
        parse_autoscale(text)


def test_autoscale_accepts_min_colon_max() -> None:
    assert parse_autoscale("0:4") == (0, 4)
