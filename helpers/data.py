"""Seeded data generators. Every generator takes a ``seed`` and returns the same data for it."""

from __future__ import annotations

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
