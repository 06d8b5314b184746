"""The one-hidden-layer ReLU network on 1-D data of assignment 5, Part 1, and a trainer for many at once.

The network of width m maps a real x to
``ŷ = ReLU(h̄ · θ)`` with ``h̄ = (ReLU(x̄ · w_h), 1)`` and ``x̄ = (x, 1)``: ``w_h`` has shape
``(2, m)`` (its last row holds the hidden intercepts) and ``θ`` has shape ``(m + 1,)`` (its last entry
is the output intercept). The loss of one sample is ``½ (ŷ − y)²``; losses over data are means.

:func:`numerical_gradients` gives central finite differences of that loss and :func:`random_case` seeded
test cases whose pre-activations stay away from ReLU's kinks, where the two must agree.

:func:`train_sgd_stack` trains several such networks, of any widths, with single-sample SGD on the
same sequence of samples. Their hidden units are laid side by side in one array, so that a step of
all networks costs a handful of numpy operations instead of a Python loop over networks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm


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


def numerical_gradients(x, y, theta: np.ndarray, w_h: np.ndarray, eps: float = 1e-6):
    """Central finite differences of :func:`half_mse` on ``(x, y)`` with respect to ``theta`` and ``w_h``, one entry
    at a time."""
    x, y = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
    params = [np.array(theta, dtype=float), np.array(w_h, dtype=float)]  # copies, perturbed in place
    grads = []
    for p in params:
        g = np.zeros(p.shape)
        for k in np.ndindex(p.shape):
            old = p[k]
            p[k] = old + eps
            up = half_mse(x, y, *params)
            p[k] = old - eps
            g[k] = (up - half_mse(x, y, *params)) / (2 * eps)
            p[k] = old
        grads.append(g)
    return grads[0], grads[1]


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


@dataclass
class StackResult:
    """Trained networks and their learning curves (losses at the recorded iterations, iteration 0 included)."""

    params: list  # one (theta, w_h) per network
    iterations: np.ndarray  # shape (K,): the iterations after which the losses were recorded (0: at the start)
    train_loss: np.ndarray  # shape (K, networks)
    test_loss: np.ndarray | None  # shape (K, networks), or None without test data


def _losses(x, y, T, b, W, starts):
    """½-MSE of every stacked network on ``(x, y)``."""
    h = np.maximum(np.multiply.outer(x, W[0]) + W[1], 0.0)
    out = np.maximum(np.add.reduceat(h * T, starts, axis=1) + b, 0.0)
    return 0.5 * np.mean((out - y[:, None]) ** 2, axis=0)


def train_sgd_stack(x, y, params, lr: float, n_iter: int, rng: np.random.Generator, x_test=None, y_test=None,
                    record=1000, desc: str | None = None) -> StackResult:
    """Single-sample SGD on several networks at once; returns new parameters (the inputs are not modified).

    Iteration t uses the sample ``i_t`` drawn by ``rng.integers(len(x))`` (all drawn up front, the
    same stream as one call per iteration) and updates every network with the gradient of
    ``½ (ŷ(x_i) − y_i)²`` at its current parameters: ``θ ← θ − lr ∇_θ``, ``w_h ← w_h − lr ∇_{w_h}``.
    ReLU's derivative is taken as 1 where its input is > 0, else 0. Losses are recorded at iteration 0,
    after every ``record`` iterations (an int) or after the iterations listed in ``record``, and at the end.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    widths = [p[1].shape[1] for p in params]
    starts = np.r_[0, np.cumsum(widths)[:-1]].astype(int)
    owner = np.repeat(np.arange(len(widths)), widths)  # the network each hidden unit belongs to
    W = np.concatenate([np.array(w, dtype=float) for _, w in params], axis=1)
    T = np.concatenate([np.array(t[:-1], dtype=float) for t, _ in params])
    b = np.array([float(t[-1]) for t, _ in params])
    idx = rng.integers(len(x), size=n_iter)
    every = isinstance(record, (int, np.integer))
    marks = set(range(record, n_iter + 1, record)) if every else {int(t) for t in record}
    marks.add(n_iter)
    done = [0]
    train = [_losses(x, y, T, b, W, starts)]
    test = [] if x_test is None else [_losses(np.asarray(x_test, float), np.asarray(y_test, float), T, b, W, starts)]
    w0, w1 = W[0], W[1]  # views: updated in place
    for t in tqdm(range(n_iter), desc=desc, disable=desc is None, mininterval=0.5):
        xi = x[idx[t]]
        pre = w0 * xi + w1
        active = pre > 0
        h = pre * active
        pre_y = np.add.reduceat(T * h, starts) + b
        delta = (pre_y * (pre_y > 0) - y[idx[t]]) * (pre_y > 0)  # dl/dpre_y per network
        d_unit = delta[owner]
        g_pre = d_unit * T * active
        T -= lr * d_unit * h
        b -= lr * delta
        w0 -= (lr * xi) * g_pre
        w1 -= lr * g_pre
        if t + 1 in marks:
            done.append(t + 1)
            train.append(_losses(x, y, T, b, W, starts))
            if x_test is not None:
                test.append(_losses(np.asarray(x_test, float), np.asarray(y_test, float), T, b, W, starts))
    out = [(np.r_[T[s:s + m], b[k]], W[:, s:s + m].copy()) for k, (s, m) in enumerate(zip(starts, widths))]
    return StackResult(out, np.array(done), np.array(train), None if x_test is None else np.array(test))
