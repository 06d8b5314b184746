"""helpers.nn: shapes, activations, the torch reference, and the forward/backward checks."""

import numpy as np
import pytest

from helpers import nn
from helpers.checks import CheckFailed


def forward(x, params, psi):
    """A correct forward pass for one example or a batch."""
    h = x
    for k, (W, b) in enumerate(params):
        a = h @ W.T + b
        h = a if k == len(params) - 1 else psi(a)
    return h


def backward(x, y, params, psi):
    """A correct backward pass by finite differences (slow but independent of torch)."""
    def loss(ps):
        return float(np.mean((forward(x, ps, psi) - y) ** 2))
    grads = []
    for k, (W, b) in enumerate(params):
        pair = []
        for which, P in ((0, W), (1, b)):
            G = np.zeros_like(P)
            for idx in np.ndindex(P.shape):
                ps = [(w.copy(), c.copy()) for w, c in params]
                ps[k][which][idx] += 1e-6
                up = loss(ps)
                ps[k][which][idx] -= 2e-6
                G[idx] = (up - loss(ps)) / 2e-6
            pair.append(G)
        grads.append(tuple(pair))
    return loss(params), grads


def test_layer_sizes_and_init_shapes():
    assert nn.layer_sizes(8, 5, 50, 8) == [8, 50, 50, 50, 50, 50, 8]
    params = nn.init_mlp(3, 2, 4, 2, seed=1)
    assert [(W.shape, b.shape) for W, b in params] == [((4, 3), (4,)), ((4, 4), (4,)), ((2, 4), (2,))]
    assert nn.count_params(params) == 12 + 4 + 16 + 4 + 8 + 2
    np.testing.assert_array_equal(params[0][0], nn.init_mlp(3, 2, 4, 2, seed=1)[0][0])


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_derivatives(name):
    psi = nn.ACTIVATIONS[name]
    a = np.array([-1.3, -0.2, 0.4, 2.0])
    numeric = (psi(a + 1e-6) - psi(a - 1e-6)) / 2e-6
    np.testing.assert_allclose(psi.df(a), numeric, rtol=1e-6, atol=1e-8)


def test_torch_reference_agrees_with_finite_differences():
    params = nn.init_mlp(3, 2, 4, 2, seed=2)
    X = np.random.default_rng(0).standard_normal((5, 3))
    Y = np.random.default_rng(1).standard_normal((5, 2))
    loss, grads = nn.torch_loss_and_grads(X, Y, params, nn.TANH)
    fd_loss, fd_grads = backward(X, Y, params, nn.TANH)
    assert loss == pytest.approx(fd_loss, rel=1e-12)
    for (gw, gb), (fw, fb) in zip(grads, fd_grads):
        np.testing.assert_allclose(gw, fw, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(gb, fb, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(nn.torch_forward(X, params, nn.TANH), forward(X, params, nn.TANH), rtol=1e-13)


def test_check_forward_accepts_right_and_rejects_wrong():
    nn.check_forward(forward, [(3, 2, 4, 2), (1, 1, 1, 1)], activations=("tanh", "relu"))
    nn.check_forward(forward, [(3, 2, 4, 2)], batch=4)
    with pytest.raises(CheckFailed, match="I=3, K=2, L=4, O=2"):
        nn.check_forward(lambda x, p, psi: forward(x, p, psi) + 1e-6, [(3, 2, 4, 2)])


def test_check_backward_accepts_right_and_rejects_wrong():
    def torch_backward(x, y, params, psi):
        return nn.torch_loss_and_grads(x, y, params, psi)

    nn.check_backward(torch_backward, [(3, 2, 4, 2)], batch=3)

    def doubled(x, y, params, psi):
        loss, grads = nn.torch_loss_and_grads(x, y, params, psi)
        return loss, [(2 * w, b) for w, b in grads]

    with pytest.raises(CheckFailed, match="dW1"):
        nn.check_backward(doubled, [(3, 2, 4, 2)])
    with pytest.raises(CheckFailed, match="pair"):
        nn.check_backward(lambda *a: 1.0, [(3, 2, 4, 2)])


def test_checks_give_the_function_copies_of_the_parameters():
    def mutating(x, params, psi):
        params[0][0][:] = 0.0
        return forward(x, params, psi)

    with pytest.raises(CheckFailed):
        nn.check_forward(mutating, [(3, 2, 4, 2)])
