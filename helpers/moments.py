"""Random networks at initialisation: Monte Carlo samples of neuron statistics, deep ReLU stacks,
and random one-dimensional functions (assignment 2).

Weights are drawn i.i.d. N(0, σ²) and inputs i.i.d. N(0, 1); there are no biases unless stated.
Every sampler takes a ``seed`` and draws fresh weights for each sample, so that the samples follow
the joint law of weights and inputs that the pen-and-paper moments describe.
"""

from __future__ import annotations

import numpy as np

from .nn import ACTIVATIONS

CHUNK = 2048  # samples drawn at once, to bound memory


def relu(a):
    """max(a, 0), elementwise."""
    return np.maximum(a, 0.0)


def neuron_preactivations(M: int, sigma2: float, n: int, seed: int = 0) -> np.ndarray:
    """``n`` independent draws of z = Σ_m w_m x_m with x ~ N(0, I_M) and w ~ N(0, σ² I_M)."""
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        x = rng.standard_normal((k, M))
        w = rng.normal(0.0, np.sqrt(sigma2), size=(k, M))
        out[start:start + k] = np.einsum("km,km->k", w, x)
    return out


def second_layer_preactivations(M: int, sigma2: float, n: int, seed: int = 0) -> np.ndarray:
    """``n`` draws of z₂ = Σ_j v_j ReLU(Σ_m W_jm x_m): M ReLU neurons feeding one neuron, all weights N(0, σ²)."""
    rng = np.random.default_rng(seed)
    out = np.empty(n)
    chunk = max(1, CHUNK // M)
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        x = rng.standard_normal((k, M))
        W = rng.normal(0.0, np.sqrt(sigma2), size=(k, M, M))
        v = rng.normal(0.0, np.sqrt(sigma2), size=(k, M))
        out[start:start + k] = np.einsum("kj,kj->k", v, relu(np.einsum("kjm,km->kj", W, x)))
    return out


def layer_weights(widths, sigma2: float | list, seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    """Weight matrices W_l of shape (n_l, n_{l-1}) for widths (n_0, …, n_L), entries N(0, σ²).

    ``sigma2`` may be one value or one per layer; float32 halves the time of large experiments.
    """
    rng = np.random.default_rng(seed)
    widths = list(widths)
    s2 = sigma2 if isinstance(sigma2, (list, tuple, np.ndarray)) else [sigma2] * (len(widths) - 1)
    return [rng.standard_normal((n_out, n_in), dtype=dtype) * dtype(np.sqrt(v))
            for v, n_in, n_out in zip(s2, widths[:-1], widths[1:])]


def random_units(M: int, sigma2: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input weights w, biases b and output weights v of M hidden units, all N(0, σ²) i.i.d."""
    rng = np.random.default_rng(seed)
    w, b, v = (rng.normal(0.0, np.sqrt(sigma2), size=M) for _ in range(3))
    return w, b, v


def random_function(x: np.ndarray, M: int, sigma2: float, activation: str = "tanh", seed: int = 0) -> np.ndarray:
    """f(x) = Σ_m v_m ψ(w_m x + b_m) for a scalar input grid x, with the units of ``random_units``."""
    w, b, v = random_units(M, sigma2, seed)
    return ACTIVATIONS[activation](np.outer(x, w) + b) @ v


def monte_carlo(samples: np.ndarray) -> dict:
    """Mean, variance and second moment of samples, each with its standard error."""
    n = samples.size
    sq = samples**2
    return {"mean": float(samples.mean()), "mean_se": float(samples.std() / np.sqrt(n)),
            "var": float(samples.var()), "var_se": float(((samples - samples.mean()) ** 2).std() / np.sqrt(n)),
            "second_moment": float(sq.mean()), "second_moment_se": float(sq.std() / np.sqrt(n))}
