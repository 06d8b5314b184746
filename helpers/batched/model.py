"""The networks the engine trains, what one epoch of them costs, the optimiser settings and the result type.

Networks: ``d_in → M → … → M → d_out`` with ``depth`` hidden ReLU layers of width M and a linear
output, initialised as ``torch.nn.Linear`` does (the network of :func:`helpers.reference.network`).
Loss: mean squared error over samples and outputs, as ``torch.nn.MSELoss``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .plan import flops_per_epoch, layer_shapes  # noqa: F401  (the networks' shapes, with the planner)


def init_seed(seed: int, M: int) -> int:
    """The torch seed that initialises the network of width ``M`` in run ``seed``."""
    return 1_000_003 * seed + M


@dataclass(frozen=True)
class Optimizer:
    """Hyper-parameters of ``torch.optim.Adam`` or ``torch.optim.SGD`` (no momentum), as the engine applies them."""

    name: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self):
        """Only Adam and plain SGD are implemented."""
        if self.name not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', not {self.name!r}")


@dataclass(frozen=True)
class LinearDecay:
    """Learning-rate factor 1 before epoch ``start``, then falling linearly to ``final`` at epoch ``epochs``."""

    start: int
    epochs: int
    final: float = 0.0

    def __call__(self, epoch: int) -> float:
        """The factor for ``epoch`` (counted from 0)."""
        if epoch < self.start:
            return 1.0
        return 1.0 - (1.0 - self.final) * min(1.0, (epoch - self.start) / max(1, self.epochs - self.start))


@dataclass(kw_only=True)
class Result:
    """What a batched run returns, one row per network in the order of the ``widths`` given."""

    widths: np.ndarray
    seeds: np.ndarray
    lr: np.ndarray
    weight_decay: np.ndarray
    train_curve: np.ndarray  # (networks, evaluations): full-data training MSE (a stopped network's stays at its stop)
    eval_epochs: np.ndarray  # epochs at which train_curve was measured (0 = before training)
    train_mse: np.ndarray  # at the end (or when the network was stopped)
    test_mse: np.ndarray
    stopped_epoch: np.ndarray  # first evaluated epoch with train MSE below stop_below, else -1
    params: list = field(repr=False, default_factory=list)  # per network: [(W, b), ...] as float64 numpy

    @property
    def n_params(self) -> np.ndarray:
        """Parameter count of each network."""
        return np.array([sum(W.size + b.size for W, b in p) for p in self.params])

    @staticmethod
    def concat(results) -> Result:
        """The networks of several results (recorded at the same epochs) as one result, in the order given."""
        results = list(results)
        if not results or any(not np.array_equal(r.eval_epochs, results[0].eval_epochs) for r in results):
            raise ValueError("results to join must be recorded at the same epochs (same epochs and eval_every)")
        cat = {name: np.concatenate([getattr(r, name) for r in results])
               for name in ("widths", "seeds", "lr", "weight_decay", "train_curve", "train_mse", "test_mse",
                            "stopped_epoch")}
        return Result(**cat, eval_epochs=results[0].eval_epochs, params=[p for r in results for p in r.params])

    def param_norms(self) -> np.ndarray:
        """Euclidean norm of each trained network's parameters (weights and biases)."""
        return np.array([np.sqrt(sum((W**2).sum() + (b**2).sum() for W, b in p)) for p in self.params])

    def input_sensitivity(self, x) -> np.ndarray:
        """Per network, the mean over the rows of ``x`` of ‖∂f/∂x‖² (squared Frobenius norm of the input Jacobian)."""
        return np.array([_input_sensitivity(p, np.asarray(x, dtype=float)) for p in self.params])

    def dead(self, x) -> np.ndarray:
        """Per network, True when its output is the same for every row of ``x`` (no hidden unit path is active)."""
        x = np.asarray(x, dtype=float)
        return np.array([bool((_outputs(p, x) == _outputs(p, x[:1])).all()) for p in self.params])

    def model(self, k: int, dtype=torch.float64) -> nn.Sequential:
        """Network ``k`` as a ``torch.nn`` module holding its trained parameters (ReLU between the linear layers)."""
        return as_module(self.params[k], dtype)


def _outputs(params, x) -> np.ndarray:
    """The outputs ``(n, d_out)`` of the network ``params`` on the rows of ``x``."""
    h = x
    for j, (W, b) in enumerate(params):
        h = h @ W.T + b
        if j < len(params) - 1:
            h = np.maximum(h, 0.0)
    return h


def _input_sensitivity(params, x) -> float:
    """Mean over the rows of ``x`` of the squared Frobenius norm of the input Jacobian of the network ``params``."""
    h, J = x, np.broadcast_to(np.eye(x.shape[1]), (x.shape[0], x.shape[1], x.shape[1]))
    for j, (W, b) in enumerate(params):
        a = h @ W.T + b
        J = np.matmul(W, J)
        if j < len(params) - 1:
            h = np.maximum(a, 0.0)
            J = J * (a > 0)[:, :, None]
    return float(np.mean(np.sum(J**2, axis=(1, 2))))


def as_module(params, dtype=torch.float64) -> nn.Sequential:
    """A ``torch.nn.Sequential`` of Linear layers with ReLU between them holding ``params`` ``[(W, b), ...]``."""
    layers = []
    for j, (W, b) in enumerate(params):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        layers += [linear] + ([nn.ReLU()] if j < len(params) - 1 else [])
    return nn.Sequential(*layers)
