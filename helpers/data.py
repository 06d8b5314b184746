"""Seeded data generators. Every generator takes a ``seed`` and returns the same data for it."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np


def rng(seed: int) -> np.random.Generator:
    """A numpy random generator for ``seed`` (PCG64, independent of the global numpy state)."""
    return np.random.default_rng(seed)


def points_ab(n: int, seed: int = 0, a_range=(-2.5, 2.5), b_range=(0.2, 4.0)) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random points (a, b) with b > 0, where z(a, b) = log b / (1 + e^{a²} + b²) is defined."""
    g = rng(seed)
    return g.uniform(*a_range, size=n), g.uniform(*b_range, size=n)


def regression_batch(n: int, n_in: int, n_out: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A batch of ``n`` standard-normal inputs of width ``n_in`` and targets of width ``n_out`` (float64)."""
    g = rng(seed)
    return g.standard_normal((n, n_in)), g.standard_normal((n, n_out))


TEACHER_WIDTH = 32


@functools.cache
def _teacher_params(d_in: int = 8, d_out: int = 8):
    """The fixed random tanh teacher ``d_in → 32 → d_out`` of the double-descent data, outputs scaled to unit std."""
    g = rng(20_240_001)
    W1 = g.standard_normal((TEACHER_WIDTH, d_in)) / np.sqrt(d_in)
    b1 = 0.1 * g.standard_normal(TEACHER_WIDTH)
    W2 = g.standard_normal((d_out, TEACHER_WIDTH)) / np.sqrt(TEACHER_WIDTH)
    probe = np.tanh(g.standard_normal((100_000, d_in)) @ W1.T + b1) @ W2.T
    scale = probe.std(axis=0)
    return W1, b1, W2 / scale[:, None], -probe.mean(axis=0) / scale


def teacher(x: np.ndarray) -> np.ndarray:
    """The noiseless target g(x) of the double-descent data for inputs ``x`` of shape ``(n, 8)``."""
    W1, b1, W2, b2 = _teacher_params(x.shape[1])
    return np.tanh(x @ W1.T + b1) @ W2.T + b2


@dataclass(frozen=True)
class Regression:
    """A training and a test set drawn from y = g(x) + ε, ε ~ N(0, noise_std² I)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    noise_std: float

    @property
    def noise_var(self) -> float:
        """Variance of the noise on each output: the lowest test MSE any predictor can reach in expectation."""
        return self.noise_std ** 2


def teacher_data(n_train: int, seed: int = 0, noise_std: float = 0.1, n_test: int = 1000) -> Regression:
    """Samples x ~ N(0, I₈), y = g(x) + ε from the fixed tanh teacher :func:`teacher` (float32).

    Training sets of one ``seed`` are nested: the first 100 pairs of ``teacher_data(200, s)`` are
    ``teacher_data(100, s)``. The test set depends neither on ``seed`` nor on ``n_train``.
    """
    if n_train < 1 or n_test < 1 or noise_std < 0:
        raise ValueError("n_train and n_test must be positive and noise_std non-negative")

    def draw(n, stream):
        """``n`` pairs from the generator streams ``stream`` (inputs and noise drawn separately)."""
        x = rng([stream, 0]).standard_normal((n, 8))
        y = teacher(x) + noise_std * rng([stream, 1]).standard_normal((n, 8))
        return x.astype(np.float32), y.astype(np.float32)

    x, y = draw(n_train, seed)
    xt, yt = draw(n_test, 2**31 - 1)
    return Regression(x, y, xt, yt, float(noise_std))


@dataclass(frozen=True)
class Relu1DData:
    """The 1-D data of assignment 5, Part 1: noisy samples of a small ReLU teacher and its Bayes predictions."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    bayes_train: np.ndarray  # the teacher's noiseless outputs at x_train: the Bayes predictions
    bayes_test: np.ndarray
    teacher: tuple  # (theta, w_h) of the teacher network
    noise_std: float

    def target(self, x) -> np.ndarray:
        """The teacher's noiseless output at ``x``: the regression function E[y | x]."""
        from .relu1d import predict

        return predict(x, *self.teacher)

    def excess_risk(self, theta, w_h, points: int = 2001) -> float:
        """½ · mean of (f − f*)² over ``points`` equispaced x in [−1, 1]: the expected test ½-MSE over the Bayes one."""
        from .relu1d import predict

        grid = np.linspace(-1.0, 1.0, points)
        return float(0.5 * np.mean((predict(grid, theta, w_h) - self.target(grid)) ** 2))


def relu_teacher(seed: int = 0, width: int = 5, n_grid: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """A teacher ``(theta, w_h)`` of the 1-D ReLU network: columns of w_h on the unit circle, θ uniform in [±1/√width].

    Draws are repeated (same generator) until the teacher is worth learning on [−1, 1]: its output is
    positive on at least half of the grid and varies (standard deviation ≥ 0.05), and it has at least
    three visible kinks in (−0.8, 0.8), i.e. units whose kink −w₂/w₁ lies there with a slope change
    |θ_j w_{1j}| > 0.1 at a point where the output is positive. Many draws are identically zero or
    almost linear there, with a ReLU on the output.
    """
    from .relu1d import predict

    g = rng([seed, 5])
    grid = np.linspace(-1.0, 1.0, n_grid)
    while True:
        theta = g.uniform(-1 / np.sqrt(width), 1 / np.sqrt(width), width + 1)
        angle = g.uniform(0.0, 2 * np.pi, width)
        w_h = np.stack([np.cos(angle), np.sin(angle)])
        f = predict(grid, theta, w_h)
        kinks = -w_h[1] / w_h[0]
        visible = (np.abs(kinks) < 0.8) & (np.abs(theta[:-1] * w_h[0]) > 0.1)
        visible[visible] &= predict(kinks[visible], theta, w_h) > 0
        if (f > 0).mean() >= 0.5 and f.std() >= 0.05 and visible.sum() >= 3:
            return theta, w_h


def relu1d_data(seed: int = 0, n: int = 80, n_train: int = 72, noise_std: float = 0.04) -> Relu1DData:
    """``n`` equispaced x in [−1, 1], y = teacher(x) + N(0, noise_std²), split at random into ``n_train``/rest
    (float64)."""
    from .relu1d import predict

    theta, w_h = relu_teacher(seed, n_grid=n)
    g = rng([seed, 6])
    x = np.linspace(-1.0, 1.0, n)
    f = predict(x, theta, w_h)
    y = f + noise_std * g.standard_normal(n)
    perm = g.permutation(n)
    tr, te = np.sort(perm[:n_train]), np.sort(perm[n_train:])
    return Relu1DData(x[tr], y[tr], x[te], y[te], f[tr], f[te], (theta, w_h), float(noise_std))


@dataclass(frozen=True)
class LinearTeacherData:
    """Samples of y = ⟨β, x⟩ + η with x ~ N(0, I_d), β = e₁, η ~ N(0, noise_var)."""

    x: np.ndarray
    y: np.ndarray
    noise_var: float


def linear_teacher_data(n: int, d: int = 5, seed: int = 0, noise_var: float = 0.09) -> LinearTeacherData:
    """``n`` samples of the linear teacher of Boursier & Flammarion (2025) in dimension ``d`` (float64).

    The stream depends on ``(seed, n, d)``: each sample size gets its own data set, as in the paper.
    """
    if n < 1 or d < 1 or noise_var < 0:
        raise ValueError("n and d must be positive and noise_var non-negative")
    g = rng([seed, n, d, 7])
    x = g.standard_normal((n, d))
    y = x[:, 0] + np.sqrt(noise_var) * g.standard_normal(n)
    return LinearTeacherData(x, y, float(noise_var))
