"""Federated training of the router with Flower: each edge site trains on its own prompts with DP-SGD
(Opacus) and only model weights leave it; the server averages them (FedAvg) and evaluates on held-out
data. A whole fleet of N sites is simulated on one machine with Flower's in-process simulation.

Privacy accounting is per site over all rounds: the noise multiplier is chosen once (RDP accountant)
so that rounds x local epochs of DP-SGD spend exactly the target epsilon at delta = 1/(site size)^1.1
(below 1/n, as DP-SGD practice asks)."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from edgecloud.routing.router.model import RouterNet, Split, accuracy, get_weights, set_weights


@dataclass(frozen=True)
class FederatedConfig:
    sites: int = 3
    rounds: int = 10
    local_epochs: int = 2
    epsilon: float | None = 3.0  # None: no DP (plain FedAvg)
    max_grad_norm: float = 1.0
    lr: float = 0.05
    batch_size: int = 32
    seed: int = 0


def site_delta(size: int) -> float:
    return float(1.0 / size**1.1)


def noise_multiplier(config: FederatedConfig, size: int) -> float:
    from opacus.accountants.utils import get_noise_multiplier

    sample_rate = min(1.0, config.batch_size / size)
    return float(
        get_noise_multiplier(
            target_epsilon=config.epsilon,
            target_delta=site_delta(size),
            sample_rate=sample_rate,
            epochs=config.rounds * config.local_epochs,
            accountant="rdp",
        )
    )


def train_site(
    weights: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    config: FederatedConfig,
    sigma: float | None,
    round_seed: int,
) -> list[np.ndarray]:
    """Local training from the global weights; DP-SGD when sigma is given."""
    torch.manual_seed(round_seed)
    net = RouterNet(x.shape[1])
    set_weights(net, weights)
    optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9)
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)))
    loader = DataLoader(data, batch_size=config.batch_size, shuffle=True)
    model: nn.Module = net
    if sigma is not None:
        from opacus import PrivacyEngine

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model, optimizer, loader = PrivacyEngine(accountant="rdp").make_private(
                module=net,
                optimizer=optimizer,
                data_loader=loader,
                noise_multiplier=sigma,
                max_grad_norm=config.max_grad_norm,
                poisson_sampling=True,
            )
    loss_fn = nn.BCEWithLogitsLoss()
    for _ in range(config.local_epochs):
        for features, labels in loader:
            if len(labels) == 0:
                continue
            optimizer.zero_grad()
            loss_fn(model(features), labels).backward()
            optimizer.step()
    return get_weights(net)


def partition(x: np.ndarray, y: np.ndarray, sites: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(seed).permutation(len(y))
    return [(x[part], y[part]) for part in np.array_split(order, sites)]


def simulate(data: Split, config: FederatedConfig) -> dict[str, Any]:
    """Runs Flower's simulation; returns the test accuracy after each round and the final weights."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    from flwr.client import ClientApp, NumPyClient
    from flwr.common import Context, ndarrays_to_parameters
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.server.strategy import FedAvg
    from flwr.simulation import run_simulation

    parts = partition(data.x_train, data.y_train, config.sites, config.seed)
    sigmas = [noise_multiplier(config, len(y)) if config.epsilon is not None else None for _, y in parts]
    history: list[float] = []
    final: dict[str, list[np.ndarray]] = {}

    class Site(NumPyClient):
        def __init__(self, index: int) -> None:
            self.index = index

        def fit(
            self, parameters: list[np.ndarray], fit_config: dict[str, Any]
        ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
            x, y = parts[self.index]
            seed = config.seed * 1000 + int(fit_config.get("round", 0)) * 10 + self.index
            return train_site(parameters, x, y, config, sigmas[self.index], seed), len(y), {}

    def client_fn(context: Context) -> Any:
        return Site(int(context.node_config["partition-id"])).to_client()

    def evaluate(
        server_round: int, parameters: list[np.ndarray], _: dict[str, Any]
    ) -> tuple[float, dict[str, Any]]:
        net = RouterNet(data.x_test.shape[1])
        set_weights(net, parameters)
        score = accuracy(net, data.x_test, data.y_test)
        if server_round > 0:
            history.append(score)
        final["weights"] = [np.asarray(p) for p in parameters]
        return 1.0 - score, {"accuracy": score}

    torch.manual_seed(config.seed)
    initial = get_weights(RouterNet(data.x_train.shape[1]))

    def server_fn(context: Context) -> ServerAppComponents:
        strategy = FedAvg(
            fraction_fit=1.0,
            fraction_evaluate=0.0,
            min_fit_clients=config.sites,
            min_available_clients=config.sites,
            evaluate_fn=evaluate,
            on_fit_config_fn=lambda r: {"round": r},
            initial_parameters=ndarrays_to_parameters(initial),
        )
        return ServerAppComponents(strategy=strategy, config=ServerConfig(num_rounds=config.rounds))

    run_simulation(
        server_app=ServerApp(server_fn=server_fn),
        client_app=ClientApp(client_fn=client_fn),
        num_supernodes=config.sites,
        backend_config={"client_resources": {"num_cpus": 1}, "init_args": {"num_cpus": 2}},
    )
    return {
        "accuracy": history[-1] if history else float("nan"),
        "history": history,
        "noise_multipliers": sigmas,
        "weights": final.get("weights"),
    }
