"""helpers.moments: the samplers follow the laws the pen-and-paper moments describe."""

import numpy as np
import pytest

from helpers import moments


def test_neuron_preactivations_match_theory():
    z = moments.neuron_preactivations(50, 0.02, n=40_000, seed=0)
    mc = moments.monte_carlo(z)
    assert abs(mc["mean"]) < 5 * mc["mean_se"]
    assert mc["var"] == pytest.approx(50 * 0.02, abs=5 * mc["var_se"])
    assert moments.monte_carlo(moments.relu(z))["second_moment"] == pytest.approx(0.5, rel=0.03)


def test_second_layer_matches_theory():
    mc = moments.monte_carlo(moments.second_layer_preactivations(40, 0.05, n=4000, seed=1))
    assert mc["var"] == pytest.approx((40 * 0.05) ** 2 / 2, abs=5 * mc["var_se"])


def test_samplers_are_seeded():
    a = moments.neuron_preactivations(5, 1.0, n=10, seed=3)
    np.testing.assert_array_equal(a, moments.neuron_preactivations(5, 1.0, n=10, seed=3))
    assert not np.array_equal(a, moments.neuron_preactivations(5, 1.0, n=10, seed=4))


def test_layer_weights_shapes_variance_and_dtype():
    Ws = moments.layer_weights([3, 400, 300], 0.25, seed=0)
    assert [W.shape for W in Ws] == [(400, 3), (300, 400)]
    assert Ws[1].var() == pytest.approx(0.25, rel=0.02)
    Ws32 = moments.layer_weights([10, 10], [2.0], seed=0, dtype=np.float32)
    assert Ws32[0].dtype == np.float32


def test_random_function_relu_kinks_do_not_move_with_sigma():
    x = np.linspace(-1, 1, 201)
    f1 = moments.random_function(x, 50, 0.1, "relu", seed=2)
    f2 = moments.random_function(x, 50, 10.0, "relu", seed=2)
    np.testing.assert_allclose(f2, 100 * f1, rtol=1e-10, atol=1e-10)  # same shape, scaled by sigma^2
    g1 = moments.random_function(x, 50, 0.1, "tanh", seed=2)
    g2 = moments.random_function(x, 50, 10.0, "tanh", seed=2)
    assert not np.allclose(g2 / np.abs(g2).max(), g1 / np.abs(g1).max(), atol=1e-2)


def test_random_units_are_the_units_of_random_function():
    x = np.linspace(-1, 1, 5)
    w, b, v = moments.random_units(7, 0.3, seed=4)
    np.testing.assert_allclose(moments.random_function(x, 7, 0.3, "relu", seed=4),
                               np.maximum(np.outer(x, w) + b, 0) @ v, rtol=1e-12)
