"""helpers.relu1d and the 1-D data of assignment 5: the network, its stacked SGD trainer and the teacher data."""

import numpy as np
import pytest
import torch

from helpers import relu1d
from helpers.data import relu1d_data, relu_teacher


def _torch_loss(x, y, theta, w_h):
    """½-MSE of the network in torch (the reference: ReLU on both layers, intercepts last)."""
    h = torch.relu(torch.outer(x, w_h[0]) + w_h[1])
    return 0.5 * torch.mean((torch.relu(h @ theta[:-1] + theta[-1]) - y) ** 2)


def _params(m, seed):
    """Random parameters with a live output on [-1, 1] (positive output intercept)."""
    g = np.random.default_rng(seed)
    theta = g.uniform(-1, 1, m + 1) / np.sqrt(m)
    theta[-1] = 0.5
    return theta, g.standard_normal((2, m)) / np.sqrt(m)


def test_predict_and_loss_match_torch():
    theta, w_h = _params(7, 0)
    x = np.linspace(-1, 1, 13)
    y = np.sin(3 * x)
    want = _torch_loss(torch.tensor(x), torch.tensor(y), torch.tensor(theta), torch.tensor(w_h)).item()
    assert relu1d.half_mse(x, y, theta, w_h) == pytest.approx(want, rel=1e-12)
    assert (relu1d.predict(x, -np.abs(theta), w_h) == 0).all()  # output ReLU: never negative
    assert relu1d.param_count(100) == 301


def test_stacked_sgd_follows_per_network_torch_sgd():
    g = np.random.default_rng(3)
    x, y = np.linspace(-1, 1, 20), g.uniform(0, 1, 20)
    params = [_params(m, seed) for seed, m in enumerate((1, 4, 9))]
    before = [(t.copy(), w.copy()) for t, w in params]
    res = relu1d.train_sgd_stack(x, y, params, lr=0.2, n_iter=300, rng=np.random.default_rng(9),
                                 x_test=x[:5], y_test=y[:5], record=100, progress=False)
    idx = np.random.default_rng(9).integers(len(x), size=300)
    for (theta0, w0), (theta, w_h) in zip(params, res.params):
        th, w = torch.tensor(theta0, requires_grad=True), torch.tensor(w0, requires_grad=True)
        for i in idx:
            th.grad = w.grad = None
            _torch_loss(torch.tensor(x[i:i + 1]), torch.tensor(y[i:i + 1]), th, w).backward()
            with torch.no_grad():
                th -= 0.2 * th.grad
                w -= 0.2 * w.grad
        np.testing.assert_allclose(theta, th.detach().numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(w_h, w.detach().numpy(), rtol=1e-10, atol=1e-13)
    for (t0, w0), (t1, w1) in zip(params, before):
        np.testing.assert_array_equal(t0, t1)
        np.testing.assert_array_equal(w0, w1)
    np.testing.assert_array_equal(res.iterations, [0, 100, 200, 300])
    assert res.train_loss.shape == res.test_loss.shape == (4, 3)
    assert res.train_loss[0, 1] == pytest.approx(relu1d.half_mse(x, y, *params[1]), rel=1e-12)
    assert res.train_loss[-1, 2] == pytest.approx(relu1d.half_mse(x, y, *res.params[2]), rel=1e-12)
    assert res.test_loss[-1, 0] == pytest.approx(relu1d.half_mse(x[:5], y[:5], *res.params[0]), rel=1e-12)


def test_relu1d_data_is_seeded_split_and_noisy_around_the_teacher():
    a, b = relu1d_data(0), relu1d_data(0)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_train, relu1d_data(1).y_train)
    assert (a.x_train.shape, a.x_test.shape) == ((72,), (8,))
    x = np.sort(np.r_[a.x_train, a.x_test])
    np.testing.assert_allclose(x, np.linspace(-1, 1, 80), rtol=0, atol=1e-15)
    np.testing.assert_allclose(a.bayes_train, a.target(a.x_train), rtol=1e-15)
    np.testing.assert_allclose(a.bayes_test, relu1d.predict(a.x_test, *a.teacher), rtol=1e-15)
    residual = np.r_[a.y_train - a.bayes_train, a.y_test - a.bayes_test]
    assert 0.03 < residual.std() < 0.05
    theta, w_h = relu_teacher(0)
    assert theta.shape == (6,) and w_h.shape == (2, 5)
    np.testing.assert_allclose(np.linalg.norm(w_h, axis=0), 1.0)
    assert np.abs(theta).max() <= 1 / np.sqrt(5)
    f = a.target(np.linspace(-1, 1, 80))
    assert (f > 0).mean() >= 0.5 and f.std() >= 0.05


def test_stacked_sgd_records_listed_iterations():
    x = np.linspace(-1, 1, 9)
    res = relu1d.train_sgd_stack(x, x ** 2, [_params(3, 0)], lr=0.1, n_iter=50, rng=np.random.default_rng(0),
                                 record=[1, 10, 20], progress=False)
    np.testing.assert_array_equal(res.iterations, [0, 1, 10, 20, 50])
    assert res.train_loss.shape == (5, 1) and res.test_loss is None


def test_numerical_gradients_match_autograd_on_random_cases():
    for seed, m, n in [(0, 4, 3), (1, 1, 1), (2, 12, 20), (23, 60, 72)]:
        x, y, theta, w_h = relu1d.random_case(seed, m, n)
        again = relu1d.random_case(seed, m, n)
        for a, b in zip((x, y, theta, w_h), again):
            np.testing.assert_array_equal(a, b)
        pre_h = np.multiply.outer(x, w_h[0]) + w_h[1]
        assert np.abs(pre_h).min() > 1e-3 and np.abs(np.maximum(pre_h, 0) @ theta[:-1] + theta[-1]).min() > 1e-3
        th, w = torch.tensor(theta, requires_grad=True), torch.tensor(w_h, requires_grad=True)
        _torch_loss(torch.tensor(x), torch.tensor(y), th, w).backward()
        before = theta.copy(), w_h.copy()
        g_theta, g_w = relu1d.numerical_gradients(x, y, theta, w_h)
        np.testing.assert_allclose(g_theta, th.grad.numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(g_w, w.grad.numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(theta, before[0])
        np.testing.assert_array_equal(w_h, before[1])
    assert not np.array_equal(relu1d.random_case(3, 4, 3)[2], relu1d.random_case(4, 4, 3)[2])


def test_kinks_counts_the_slope_changes_the_function_uses():
    one = (np.array([1.0, 0.0]), np.array([[1.0], [0.2]]))  # ReLU(x + 0.2): one kink at -0.2
    assert relu1d.kinks(*one) == 1
    assert relu1d.kinks(*one, window=(0.0, 1.0)) == 0
    assert relu1d.kinks(np.array([0.02, 0.0]), np.array([[1.0], [0.2]])) == 0  # a slope change of 0.02 < tol
    # two units with kinks 0.01 apart act as one kink; 0.5 apart as two
    close = (np.array([1.0, 1.0, 0.0]), np.array([[1.0, 1.0], [0.2, 0.21]]))
    far = (np.array([1.0, 1.0, 0.0]), np.array([[1.0, 1.0], [0.2, -0.3]]))
    assert relu1d.kinks(*close) == 1 and relu1d.kinks(*far) == 2
    # splitting a unit into many small copies at the same place does not add kinks
    many = (np.r_[np.full(50, 0.02), 0.0], np.tile([[1.0], [0.2]], 50))
    assert relu1d.kinks(*many) == 1
    # ten small slope changes spread over 0.02 (less than `merge`) add up to one kink of slope change 0.2
    spread = (np.r_[np.full(10, 0.02), 0.0], np.stack([np.ones(10), -np.linspace(0.2, 0.22, 10)]))
    assert relu1d.kinks(*spread) == 1
    assert relu1d.kinks(*relu1d_data(seed=7).teacher) == 3


def test_stacked_sgd_takes_a_step_size_and_a_decay_per_network():
    data = relu1d_data(seed=7)
    g = np.random.default_rng(0)
    starts = [(np.abs(g.standard_normal(m + 1)) / m, g.standard_normal((2, m))) for m in (4, 7)]  # live on the data
    both = relu1d.train_sgd_stack(data.x_train, data.y_train, starts, lr=[0.1, 0.05], n_iter=300,
                                  rng=np.random.default_rng(3), decay=[np.inf, 50.0], progress=False)
    for k, (lr, decay) in enumerate(((0.1, None), (0.05, 50.0))):
        alone = relu1d.train_sgd_stack(data.x_train, data.y_train, [starts[k]], lr=lr, n_iter=300,
                                       rng=np.random.default_rng(3), decay=decay, progress=False)
        for p, q in zip(both.params[k], alone.params[0]):
            np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-15)
    slow = relu1d.train_sgd_stack(data.x_train, data.y_train, starts[:1], lr=0.1, n_iter=300,
                                  rng=np.random.default_rng(3), decay=50.0, progress=False)
    assert not np.allclose(slow.params[0][0], both.params[0][0])  # the decay changes the run
    with pytest.raises(ValueError, match="positive"):
        relu1d.train_sgd_stack(data.x_train, data.y_train, starts, lr=0.1, n_iter=1, rng=np.random.default_rng(0),
                               decay=0.0, progress=False)


def test_excess_risk_is_the_half_mean_squared_distance_to_the_teacher():
    data = relu1d_data(seed=7)
    assert data.excess_risk(*data.teacher) == 0.0
    theta, w_h = data.teacher
    shifted = (np.r_[theta[:-1], theta[-1] + 0.1], w_h)  # +0.1 wherever the output is positive
    grid = np.linspace(-1, 1, 2001)
    expected = 0.5 * np.mean((relu1d.predict(grid, *shifted) - data.target(grid)) ** 2)
    assert data.excess_risk(*shifted) == pytest.approx(expected, rel=1e-12)
    # the teacher is positive on at least half of [-1, 1] (helpers.data.relu_teacher): 0.1 added there
    assert 0.5 * 0.5 * 0.1 ** 2 <= data.excess_risk(*shifted) <= 0.5 * 0.1 ** 2 * (1 + 1e-9)
