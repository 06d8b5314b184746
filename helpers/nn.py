"""Fully connected networks in numpy: activations, initialisation, and a torch.autograd reference.

Conventions used throughout the course:

- a network with I inputs, K hidden layers of L units and O linear outputs has parameters
  ``[(W1, b1), ..., (W_{K+1}, b_{K+1})]`` with ``W_k`` of shape ``(n_k, n_{k-1})`` and ``b_k`` of
  shape ``(n_k,)``, where ``n = (I, L, ..., L, O)``;
- a single example is a vector of shape ``(I,)``, a batch is a matrix of shape ``(B, I)``;
- the loss is the mean squared error over every output of every example, as ``torch.nn.MSELoss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import reference_names


@dataclass(frozen=True)
class Activation:
    """An elementwise activation ψ with its derivative ψ' and the name of its torch counterpart."""

    name: str
    f: Callable[[np.ndarray], np.ndarray]
    df: Callable[[np.ndarray], np.ndarray]
    torch_name: str

    def __call__(self, a):
        """Apply ψ elementwise."""
        return self.f(a)

    @property
    def torch_f(self):
        """The same activation on torch tensors (torch is imported only when needed)."""
        import torch.nn.functional as F

        return getattr(F, self.torch_name)


__getattr__ = reference_names(__name__, ("torch_forward", "torch_loss_and_grads"))
"""The torch.autograd references, in :mod:`helpers.reference`."""


def _sigmoid(a):
    """Logistic function, written to avoid overflow for large |a|."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


TANH = Activation("tanh", np.tanh, lambda a: 1.0 - np.tanh(a) ** 2, "tanh")
SIGMOID = Activation("sigmoid", _sigmoid, lambda a: _sigmoid(a) * (1.0 - _sigmoid(a)), "sigmoid")
RELU = Activation("relu", lambda a: np.maximum(a, 0.0), lambda a: (a > 0).astype(float), "relu")
SOFTPLUS = Activation("softplus", lambda a: np.logaddexp(0.0, a), _sigmoid, "softplus")
ACTIVATIONS = {act.name: act for act in (TANH, SIGMOID, RELU, SOFTPLUS)}


def layer_sizes(I: int, K: int, L: int, O: int) -> list[int]:
    """Widths ``[I, L, ..., L, O]`` of a network with K hidden layers of L units."""
    return [I] + [L] * K + [O]


def init_mlp(I: int, K: int, L: int, O: int, seed: int = 0, bias_std: float = 0.1) -> list[tuple]:
    """Random float64 parameters ``[(W, b), ...]``: W ~ N(0, 1/fan_in), b ~ N(0, bias_std²)."""
    rng = np.random.default_rng(seed)
    sizes = layer_sizes(I, K, L, O)
    return [(rng.normal(0.0, 1.0 / np.sqrt(n_in), size=(n_out, n_in)),
             rng.normal(0.0, bias_std, size=n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def count_params(params) -> int:
    """Total number of scalars in a list of (W, b) pairs."""
    return sum(W.size + b.size for W, b in params)


def _fresh(params) -> list[tuple]:
    """Copies of the parameters, so a function under test cannot change the reference's."""
    return [(W.copy(), b.copy()) for W, b in params]


def _cases(shapes, activations, seed: int, batch: int | None):
    """Test cases ``(description, psi, params, x, y)``: one per shape (I, K, L, O) and activation."""
    from .data import regression_batch

    for i, (I, K, L, O) in enumerate(shapes):
        for act in activations:
            params = init_mlp(I, K, L, O, seed=seed + i)
            X, Y = regression_batch(batch or 1, I, O, seed=seed + 1000 + i)
            x, y = (X, Y) if batch else (X[0], Y[0])
            where = f"I={I}, K={K}, L={L}, O={O}, psi={act}" + ("" if batch is None else f", B={batch}")
            yield where, ACTIVATIONS[act], params, x, y


def check_forward(fn, shapes, activations=("tanh",), seed: int = 0, batch: int | None = None) -> None:
    """Compare ``fn(x, params, psi)`` (a batch X when ``batch`` is set) with torch for each shape (I, K, L, O)."""
    from . import checks, reference

    for where, psi, params, x, _ in _cases(shapes, activations, seed, batch):
        name = f"{getattr(fn, '__name__', 'forward')}({where})"
        checks.close(fn(x.copy(), _fresh(params), psi), reference.torch_forward(x, params, psi), name,
                     rtol=1e-10, atol=1e-12)


def check_backward(fn, shapes, activations=("tanh",), seed: int = 0, batch: int | None = None) -> None:
    """Compare ``fn(x, y, params, psi) -> (loss, grads)`` with torch.autograd for each shape (I, K, L, O)."""
    from . import checks, reference

    for where, psi, params, x, y in _cases(shapes, activations, seed, batch):
        name = f"{getattr(fn, '__name__', 'backward')}({where})"
        result = fn(x.copy(), y.copy(), _fresh(params), psi)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise checks.CheckFailed(f"{name}: must return a pair (loss, grads), got {type(result).__name__}")
        loss, grads = result
        exp_loss, exp_grads = reference.torch_loss_and_grads(x, y, params, psi)
        checks.close(loss, exp_loss, f"{name}: loss", rtol=1e-10)
        checks.params_close(grads, exp_grads, f"{name}: gradients", rtol=1e-10, atol=1e-12)
