"""helpers.twolayer: balanced initialisation, gradient descent, the batched threshold sweep, the linear-teacher data."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import plotting, twolayer
from helpers.data import linear_teacher_data


def _torch_gd(X, y, W, a, lr, steps):
    """Reference: full-batch GD with torch.autograd on (1/2n) Σ (h(x_k) - y_k)²."""
    X, y = torch.tensor(X), torch.tensor(y)
    W, a = torch.tensor(W, requires_grad=True), torch.tensor(a, requires_grad=True)
    for _ in range(steps):
        W.grad = a.grad = None
        (0.5 * torch.mean((torch.relu(X @ W.T) @ a - y) ** 2)).backward()
        with torch.no_grad():
            W -= lr * W.grad
            a -= lr * a.grad
    return W.detach().numpy(), a.detach().numpy()


def test_balanced_init():
    W, a = twolayer.balanced_init(500, 3, 1e-3, np.random.default_rng(0))
    assert W.shape == (500, 3) and a.shape == (500,)
    np.testing.assert_allclose(np.abs(a), np.linalg.norm(W, axis=1), rtol=1e-15)
    assert 0.4 < (a > 0).mean() < 0.6
    assert np.std(W) == pytest.approx(1e-3, rel=0.05)
    W2, a2 = twolayer.balanced_init(500, 3, 1e-3, np.random.default_rng(0))
    np.testing.assert_array_equal(a, a2)


def test_train_gd_matches_autograd_and_keeps_snapshots():
    g = np.random.default_rng(1)
    X, y = g.standard_normal((6, 3)), g.standard_normal(6)
    W0, a0 = g.standard_normal((5, 3)), g.standard_normal(5)
    run = twolayer.train_gd(X, y, W0, a0, lr=0.05, steps=150, snapshots=[0, 70, 150])
    W, a = _torch_gd(X, y, W0, a0, 0.05, 150)
    np.testing.assert_allclose(run.W, W, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(run.a, a, rtol=1e-10, atol=1e-13)
    assert run.losses[0] == pytest.approx(twolayer.loss(X, y, W0, a0), rel=1e-13)
    assert sorted(run.snapshots) == [0, 70, 150]
    np.testing.assert_array_equal(run.snapshots[0][0], W0)
    np.testing.assert_array_equal(run.snapshots[150][1], run.a)
    W70, a70 = _torch_gd(X, y, W0, a0, 0.05, 70)
    np.testing.assert_allclose(run.snapshots[70][0], W70, rtol=1e-10, atol=1e-13)


def test_train_gd_many_equals_separate_runs():
    g = np.random.default_rng(2)
    X, y = g.standard_normal((4, 3)), g.standard_normal(4)
    W0, a0 = g.standard_normal((3, 6, 3)), g.standard_normal((3, 6))
    runs = twolayer.train_gd_many(X, y, W0, a0, lr=0.05, steps=120)
    assert runs.losses.shape == (3, 120) and runs.outputs.shape == (3, 120, 4)
    assert runs.W.shape == (3, 6, 3) and runs.a.shape == (3, 6)
    for k in range(3):
        one = twolayer.train_gd(X, y, W0[k], a0[k], lr=0.05, steps=120)
        np.testing.assert_allclose(runs.losses[k], one.losses, rtol=1e-12)
        np.testing.assert_allclose(runs.outputs[k, -1], twolayer.output(X, *_torch_gd(X, y, W0[k], a0[k], 0.05, 119)),
                                   rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(runs.W[k], one.W, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(runs.a[k], one.a, rtol=1e-10, atol=1e-13)
    with pytest.raises(ValueError, match="runs, m"):
        twolayer.train_gd_many(X, y, W0[0], a0[0], lr=0.05, steps=1)


def test_sample_groups_cover_the_sizes_in_order():
    groups = twolayer.sample_groups([96, 8, 12, 16, 24, 32, 48, 64])
    assert [n for grp in groups for n in grp] == [8, 12, 16, 24, 32, 48, 64, 96]
    assert 1 < len(groups) < 8
    assert twolayer.sample_groups([10]) == [[10]]


def test_threshold_sweep_equals_separate_runs_and_ols():
    ns, seeds, scales = [6, 9, 14], [0, 1], [1e-2, 1e-1]
    sw = twolayer.threshold_sweep(ns, seeds, scales, d=3, m=7, lr=0.1, steps=60, n_test=300, dtype=torch.float64,
                                  progress=False)
    assert sw.train.shape == sw.test.shape == sw.ols_train.shape == (2, 2, 3)
    test = linear_teacher_data(300, 3, seed=10**6)
    for i, s in enumerate(scales):
        for j, seed in enumerate(seeds):
            for k, n in enumerate(ns):
                D = linear_teacher_data(n, 3, seed=seed)
                W0, a0 = twolayer.balanced_init(7, 3, s, np.random.default_rng([seed, n, 1]))
                run = twolayer.train_gd(D.x, D.y, W0, a0, 0.1, 60)
                assert sw.train[i, j, k] == pytest.approx(twolayer.loss(D.x, D.y, run.W, run.a), rel=1e-9)
                assert sw.test[i, j, k] == pytest.approx(twolayer.loss(test.x, test.y, run.W, run.a), rel=1e-9)
                beta = np.linalg.lstsq(D.x, D.y, rcond=None)[0]
                assert sw.ols_train[i, j, k] == pytest.approx(0.5 * np.mean((D.x @ beta - D.y) ** 2), rel=1e-12)
                assert sw.ols_test[i, j, k] == pytest.approx(0.5 * np.mean((test.x @ beta - test.y) ** 2), rel=1e-12)
                np.testing.assert_allclose(sw.W[i, j, k], run.W, rtol=1e-9, atol=1e-15)
                np.testing.assert_allclose(sw.a[i, j, k], run.a, rtol=1e-9, atol=1e-15)
    assert sw.bayes_test == pytest.approx(0.5 * np.mean((test.x[:, 0] - test.y) ** 2), rel=1e-12)


def test_threshold_sweep_checkpoints_are_the_losses_of_shorter_runs():
    ns, seeds, scales = [6, 14], [0, 1], [1e-1]
    kw = dict(d=3, m=7, lr=0.1, n_test=300, dtype=torch.float64, progress=False)
    sw = twolayer.threshold_sweep(ns, seeds, scales, steps=60, checkpoints=(15, 40), **kw)
    assert sw.train_at.shape == (1, 2, 2, 2) and sw.checkpoints == (15, 40)
    for c, steps in enumerate((15, 40)):
        short = twolayer.threshold_sweep(ns, seeds, scales, steps=steps, **kw)
        np.testing.assert_allclose(sw.train_at[..., c], short.train, rtol=1e-12)
        assert sw.thresholds(level=0.0, at=steps) == short.thresholds(level=0.0)
        np.testing.assert_allclose(sw.median_ratio(at=steps), short.median_ratio(), rtol=1e-12)
    np.testing.assert_allclose(sw.train, twolayer.threshold_sweep(ns, seeds, scales, steps=60, **kw).train, rtol=0)
    np.testing.assert_allclose(sw.relative_change(), np.abs(sw.train - sw.train_at[..., 1]) / sw.train_at[..., 1])
    assert (sw.train < sw.train_at[..., 1]).all()  # a small step only lowers the loss
    for bad in [(60,), (0,), (40, 15), (15, 15)]:
        with pytest.raises(ValueError, match="checkpoints"):
            twolayer.threshold_sweep(ns, seeds, scales, steps=60, checkpoints=bad, **kw)


def test_beta_alignment():
    beta = np.array([1.0, 0.0])
    # two neurons along +β (a > 0) and −β (a < 0): aligned; weights along other directions lower the score
    W = np.array([[2.0, 0.0], [-1.0, 0.0]])
    assert twolayer.beta_alignment(W, np.array([3.0, -1.0]), beta) == pytest.approx(1.0)
    assert twolayer.beta_alignment(W, np.array([-3.0, 1.0]), beta) == pytest.approx(-1.0)  # signs swapped
    W = np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])  # weights |a|‖w‖: 2, 1 and 0 (a zero neuron counts nothing)
    assert twolayer.beta_alignment(W, np.array([1.0, 1.0, 5.0]), beta) == pytest.approx(2 / 3)
    assert twolayer.beta_alignment(W, np.array([1.0, 1.0, 5.0]), 3 * beta) == pytest.approx(2 / 3)  # β's norm
    stacked = twolayer.beta_alignment(np.stack([W, W]), np.array([[1.0, 1.0, 5.0], [1.0, 0.0, 0.0]]), beta)
    np.testing.assert_allclose(stacked, [2 / 3, 1.0])
    sw = _sweep(np.ones((2, 3, 4)))
    sw.W, sw.a = np.zeros((2, 3, 4, 2, 2)), np.ones((2, 3, 4, 2))
    sw.W[..., 0, 0], sw.W[..., 1, 1] = 1.0, 3.0
    np.testing.assert_allclose(sw.alignment(), np.full((2, 3, 4), 0.25))


def _sweep(train_over_ols):
    """A Sweep of 2 scales x 3 seeds x 4 sample sizes whose training losses are ``train_over_ols`` times OLS's."""
    ratio = np.asarray(train_over_ols, dtype=float)
    ols = np.full(ratio.shape, 0.1)
    return twolayer.Sweep(np.array([8, 16, 32, 64]), np.arange(3), np.array([1e-6, 1e-3]), ratio * ols, 2 * ols,
                          ols, 1.5 * ols)


def test_median_ratio_and_thresholds():
    r = np.zeros((2, 3, 4))
    r[0] = [[0.0, 0.6, 0.9, 1.0], [0.0, 0.1, 0.7, 1.0], [0.0, 0.2, 0.8, 1.0]]  # medians 0, 0.2, 0.8, 1
    r[1] = [[0.6, 0.0, 0.0, 0.4], [0.6, 0.0, 0.0, 0.1], [0.7, 0.0, 0.0, 0.2]]  # medians 0.6, 0, 0, 0.2
    sw = _sweep(r)
    np.testing.assert_allclose(sw.median_ratio(), [[0, 0.2, 0.8, 1], [0.6, 0, 0, 0.2]])
    assert sw.thresholds() == {1e-6: 32, 1e-3: None}  # 1e-3: above 1/2 at n = 8 only, not from there on
    assert sw.thresholds(level=0.1) == {1e-6: 16, 1e-3: 64}
    assert _sweep(np.ones((2, 3, 4))).thresholds() == {1e-6: 8, 1e-3: 8}
    assert _sweep(np.full((2, 3, 4), 0.5)).thresholds() == {1e-6: 8, 1e-3: 8}  # "at or above"
    r = np.ones((2, 3, 4))
    r[0, :, 3] = np.nan  # e.g. 0/0 where OLS fits exactly: not "at or above"
    assert _sweep(r).thresholds() == {1e-6: None, 1e-3: 8}


def test_linear_teacher_data():
    D = linear_teacher_data(20_000, d=4, seed=3)
    assert D.x.shape == (20_000, 4) and D.noise_var == 0.09
    np.testing.assert_allclose(twolayer.ols(D.x, D.y), [1, 0, 0, 0], atol=0.01)
    assert np.var(D.y - D.x[:, 0]) == pytest.approx(0.09, rel=0.05)
    np.testing.assert_array_equal(linear_teacher_data(10, seed=1).x, linear_teacher_data(10, seed=1).x)
    assert not np.array_equal(linear_teacher_data(10, seed=1).x[:5], linear_teacher_data(11, seed=1).x[:5])
    with pytest.raises(ValueError):
        linear_teacher_data(0)


def test_neuron_plots_are_titled_labelled_and_legended():
    W, a = twolayer.balanced_init(10, 2, 1e-6, np.random.default_rng(0))
    X = np.array([[-0.5, 1.0], [2.0, 1.0]])
    plane = plotting.neurons_plane(W, a, X, title="Plane")
    kinks = plotting.neurons_kinks(W, a, X, title="Kinks")
    for ax in (plane, kinks):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "a_j > 0" in labels and "a_j < 0" in labels
    points = np.concatenate([c.get_offsets() for c in kinks.collections])
    assert np.abs(points[:, 1]).max() == pytest.approx(1.0)  # signed norms scaled by the largest
    plane_points = np.concatenate([c.get_offsets() for c in plane.collections])
    np.testing.assert_allclose(np.linalg.norm(plane_points, axis=1), 1.0)  # directions, each neuron on its own
    assert plotting.neurons_plane(W, a, X, title="No legend", legend=False).get_legend() is None
    plt.close("all")
