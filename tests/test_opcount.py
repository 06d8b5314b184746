"""helpers.opcount: multiply-adds of the naive matrix products, however they are written."""

import numpy as np
import pytest

from helpers.nn import TANH, init_mlp
from helpers.opcount import count_macs

A, B, v = np.ones((3, 4)), np.ones((4, 5)), np.ones(4)


@pytest.mark.parametrize("fn,expected", [
    (lambda A, B, v: A @ B, 60), (lambda A, B, v: np.matmul(A, B), 60), (lambda A, B, v: A @ v, 12),
    (lambda A, B, v: v @ B, 20), (lambda A, B, v: np.dot(A, B), 60), (lambda A, B, v: np.outer(v, v), 16),
    (lambda A, B, v: np.multiply.outer(v, v), 16), (lambda A, B, v: A.T.T @ B, 60),
    (lambda A, B, v: np.inner(v, v), 4), (lambda A, B, v: A + 1.0, 0), (lambda A, B, v: np.tanh(A), 0),
    (lambda A, B, v: (A @ B) @ B.T, 120),
    (lambda A, B, v: np.stack([A, A]) @ np.stack([B, B]), 120),
])
def test_counts(fn, expected):
    _, macs = count_macs(fn, A, B, v)
    assert macs == expected


def test_results_come_back_as_plain_arrays():
    result, macs = count_macs(lambda a, b: (a @ b, [a.T]), A, B)
    assert type(result[0]) is np.ndarray and type(result[1][0]) is np.ndarray
    assert macs == 60


def test_mlp_forward_count_equals_weight_count():
    params = init_mlp(8, 5, 50, 8)

    def forward(X, params, psi):
        H = X
        for W, b in params[:-1]:
            H = psi(H @ W.T + b)
        return H @ params[-1][0].T + params[-1][1]

    _, macs = count_macs(forward, np.ones((3, 8)), params, TANH)
    assert macs == 3 * (8 * 50 + 4 * 50 * 50 + 50 * 8) == 3 * 10800
