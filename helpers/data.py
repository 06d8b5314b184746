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
