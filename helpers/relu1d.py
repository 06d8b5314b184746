"""The one-hidden-layer ReLU network on 1-D data of assignment 5, Part 1, and a trainer for many at once.

The network of width m maps a real x to
``ŷ = ReLU(h̄ · θ)`` with ``h̄ = (ReLU(x̄ · w_h), 1)`` and ``x̄ = (x, 1)``: ``w_h`` has shape
``(2, m)`` (its last row holds the hidden intercepts) and ``θ`` has shape ``(m + 1,)`` (its last entry
is the output intercept). The loss of one sample is ``½ (ŷ − y)²``; losses over data are means.

:func:`kinks` counts the kinks a fitted function uses. :func:`numerical_gradients` gives central finite
differences of that loss and :func:`random_case` seeded test cases whose pre-activations stay away from
ReLU's kinks, where the two must agree.

:func:`train_sgd_stack` trains several such networks, of any widths, with single-sample SGD on the
same sequence of samples. Their hidden units are laid side by side in one array, so that a step of
all networks costs a handful of numpy operations instead of a Python loop over networks.
"""

from __future__ import annotations

import numpy as np

from . import reference_names

__getattr__ = reference_names(__name__, ("numerical_gradients", "train_sgd_stack", "StackResult"))
"""The finite differences and the SGD trainer, in :mod:`helpers.reference`."""


def predict(x, theta: np.ndarray, w_h: np.ndarray) -> np.ndarray:
    """The outputs ŷ of the network ``(theta, w_h)`` for the inputs ``x`` (shape ``(n,)``)."""
    x = np.asarray(x, dtype=float)
    h = np.maximum(np.multiply.outer(x, w_h[0]) + w_h[1], 0.0)
    return np.maximum(h @ theta[:-1] + theta[-1], 0.0)


def half_mse(x, y, theta: np.ndarray, w_h: np.ndarray) -> float:
    """The loss ``(1/2n) Σ (ŷ_i − y_i)²`` of the network on the data ``(x, y)``."""
    return float(0.5 * np.mean((predict(x, theta, w_h) - np.asarray(y)) ** 2))


def param_count(m: int) -> int:
    """Number of parameters of the network of width ``m``: 2m in ``w_h`` and m + 1 in ``θ``."""
    return 3 * m + 1


def kinks(theta: np.ndarray, w_h: np.ndarray, tol: float = 0.05, merge: float = 0.025, window=(-1.0, 1.0),
          points: int = 2001) -> int:
    """Number of kinks the fitted function uses in ``window``: places where its slope changes by more than ``tol``.

    The slope is measured between neighbouring points of an equispaced grid of ``points``; slope changes less
    than ``merge`` apart (about one spacing of the course's training inputs) count as one kink, with their sum.
    """
    grid = np.linspace(*window, points)
    slope = np.diff(predict(grid, theta, w_h)) / np.diff(grid)
    change = np.diff(slope)  # at the grid points 1 .. points - 2
    where = np.flatnonzero(np.abs(change) > 1e-9 * max(1.0, np.abs(slope).max()))
    if where.size == 0:
        return 0
    groups = np.split(where, np.flatnonzero(np.diff(grid[where]) > merge) + 1)
    return int(sum(abs(change[g].sum()) > tol for g in groups))


def random_case(seed: int, m: int, n: int):
    """Seeded data ``x, y`` (n points in [−1, 1]) and parameters ``theta, w_h`` of width ``m`` with every
    pre-activation at least 1e-3 away from ReLU's kink, where finite differences and gradients agree."""
    g = np.random.default_rng(seed)
    while True:
        x, y = g.uniform(-1, 1, n), g.uniform(-1, 1, n)
        theta, w_h = g.standard_normal(m + 1), g.standard_normal((2, m))
        pre_h = np.multiply.outer(x, w_h[0]) + w_h[1]
        pre_y = np.maximum(pre_h, 0.0) @ theta[:-1] + theta[-1]
        if np.abs(pre_h).min() > 1e-3 and np.abs(pre_y).min() > 1e-3:
            return x, y, theta, w_h
