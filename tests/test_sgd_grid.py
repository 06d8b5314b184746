"""helpers.sgd_grid: the grid's order, paired data, per-run networks, seed means, joining grids."""

import numpy as np
import pytest
import torch

from helpers import batched, sgd_grid


@pytest.fixture(scope="module")
def grid():
    """2 learning rates x 2 decays x 2 seeds of a small network, 12 epochs, stopped below a loose threshold
    (some runs reach it)."""
    return sgd_grid.train_grid([0.05, 0.1], [3, 1], [0.0, 1e-3], epochs=12, width=6, depth=2, eval_every=2,
                               stop_below=1.1, progress=False)


def test_runs_are_ordered_and_paired_by_seed(grid):
    assert len(grid) == 8
    assert grid.lr.tolist() == [0.05] * 4 + [0.1] * 4
    assert grid.weight_decay.tolist() == [0.0, 0.0, 1e-3, 1e-3] * 2 and grid.seed.tolist() == [3, 1] * 4
    assert grid.settings() == [(0.05, 0.0), (0.05, 1e-3), (0.1, 0.0), (0.1, 1e-3)]
    for k in range(len(grid)):  # each seed's own training set, shared by all the runs of that seed
        x, _ = grid.data(k)
        np.testing.assert_array_equal(x.numpy(), grid.x[0 if grid.seed[k] == 3 else 1])
    assert not np.array_equal(grid.x[0], grid.x[1])
    d = sgd_grid.seed_data([1], n=100)
    np.testing.assert_array_equal(grid.x[1], d[0][0])


def test_each_run_is_plain_sgd_on_its_seed_data(grid):
    for k in (0, 3, 6):
        stop = int(grid.result.stopped_epoch[k])
        net, _ = batched.reference_train(6, grid.x[k], grid.y[k], epochs=stop if stop >= 0 else 12,
                                         lr=float(grid.lr[k]), optimizer="sgd", depth=2, seed=int(grid.seed[k]),
                                         weight_decay=float(grid.weight_decay[k]), batch_size=20,
                                         dtype=torch.float64)  # the grid trains in float64
        got = torch.cat([p.detach().reshape(-1) for p in grid.model(k).parameters()])
        want = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
        assert float((got - want).abs().max() / want.abs().max()) < 1e-10, f"run {k}"


def test_curves_stop_where_the_run_was_frozen(grid):
    stopped = grid.result.stopped_epoch
    assert (stopped > 0).any() and (stopped < 0).any()
    for k in range(len(grid)):
        epochs, mse = grid.curve(k)
        assert epochs[0] == 0 and np.isfinite(mse).all()
        if stopped[k] >= 0:
            assert epochs[-1] == stopped[k] and mse[-1] < 1.1 <= mse[-2]
        else:
            assert epochs[-1] == 12


def test_seed_mean_and_standard_error(grid):
    mean, se = grid.seed_mean(np.arange(8.0))
    np.testing.assert_allclose(mean, [0.5, 2.5, 4.5, 6.5])
    np.testing.assert_allclose(se, [0.5] * 4)
    with pytest.raises(ValueError, match="one value per run"):
        grid.seed_mean(np.arange(7.0))


def test_paired_difference_subtracts_the_same_seed_run(grid):
    values = np.array([1.0, 10.0, 2.0, 20.0, 4.0, 30.0, 8.0, 50.0])  # order: lr, decay, seed (3, 1)
    mean, se = grid.paired_difference(values, 0.05)
    np.testing.assert_allclose(mean, [0.0, 5.5, 11.5, 23.5])  # seed 3 against 1, seed 1 against 10
    np.testing.assert_allclose(se, [0.0, 4.5, 8.5, 16.5])
    np.testing.assert_allclose(grid.paired_difference(values, 0.1, 1e-3)[0], [-23.5, -18.0, -12.0, 0.0])
    with pytest.raises(ValueError, match="learning rate 0.2"):
        grid.paired_difference(values, 0.2)
    with pytest.raises(ValueError, match="one value per run"):
        grid.paired_difference(values[:7], 0.05)
    with pytest.raises(ValueError, match="several runs of one seed"):  # the same grid twice: which run is the base?
        sgd_grid.concat([grid, grid]).paired_difference(np.arange(16.0), 0.05)


def test_concat_joins_runs_in_order(grid):
    both = sgd_grid.concat([grid, grid])
    assert len(both) == 16 and both.lr.tolist() == grid.lr.tolist() * 2
    np.testing.assert_array_equal(both.result.train_curve[8:], grid.result.train_curve)
    np.testing.assert_array_equal(both.x[8:], grid.x)
    assert both.result.params[9] is grid.result.params[1]
    other = sgd_grid.train_grid([0.1], [0], epochs=4, width=3, depth=1, eval_every=2, progress=False)
    with pytest.raises(ValueError, match="same epochs"):
        sgd_grid.concat([grid, other])
    with pytest.raises(ValueError, match="at least one value"):
        sgd_grid.train_grid([], [0], epochs=1)


def test_validation_sets_follow_each_seeds_training_pairs(grid):
    xv, yv = sgd_grid.validation_data([3, 1], n=30)
    assert xv.shape == (2, 30, 8) and yv.shape == (2, 30, 8)
    longer = sgd_grid.teacher_data(130, seed=1, noise_std=sgd_grid.NOISE_STD)
    np.testing.assert_array_equal(xv[1], longer.x_train[100:])
    np.testing.assert_array_equal(longer.x_train[:100], sgd_grid.seed_data([1])[0][0])
    val = grid.validation_mse()
    xv, yv = sgd_grid.validation_data([3])
    with torch.no_grad():
        want = float(((grid.model(0)(torch.tensor(xv[0], dtype=torch.float64)) - torch.tensor(yv[0])) ** 2).mean())
    assert val.shape == (len(grid),) and val[0] == pytest.approx(want, rel=1e-10)


def test_explicit_penalty_gradient_is_double_backpropagation():
    from helpers import explicit_reg

    g = np.random.default_rng(0)
    nets = [batched.network(5, depth=3, d_in=3, d_out=2, seed=s, dtype=torch.float64) for s in range(3)]
    W, b = explicit_reg._stack(nets, torch.float64)
    X, Y = torch.tensor(g.standard_normal((3, 3, 7))), torch.tensor(g.standard_normal((3, 2, 7)))
    loss, dW, db, cache = explicit_reg.gradient(W, b, X, Y)
    HW, Hb = explicit_reg.hvp(W, cache, dW, db, 2 * 7)
    for k, net in enumerate(nets):
        params = list(net.parameters())
        J = ((net(X[k].T) - Y[k].T) ** 2).mean()
        grads = torch.autograd.grad(J, params, create_graph=True)
        Hg = torch.autograd.grad(sum((q ** 2).sum() for q in grads) / 2, params)  # ∇(½‖∇J‖²) = H ∇J
        assert float(loss[k]) == pytest.approx(float(J.detach()), rel=1e-12)
        for l in range(4):
            np.testing.assert_allclose(dW[l][k].numpy(), grads[2 * l].detach().numpy(), rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(HW[l][k].numpy(), Hg[2 * l].numpy(), rtol=1e-9, atol=1e-13)
            np.testing.assert_allclose(Hb[l][k, :, 0].numpy(), Hg[2 * l + 1].numpy(), rtol=1e-9, atol=1e-13)


def test_explicit_grid_without_penalty_is_the_engine_and_with_it_differs():
    kw = dict(epochs=30, width=6, depth=2, stop_below=1.05, progress=False)
    plain = sgd_grid.train_grid([0.1], [0, 1, 2], **kw)
    tiny = sgd_grid.train_grid([0.1], [0, 1, 2], explicit_reg=1e-300, **kw)  # the explicit trainer, penalty ~ 0
    assert (plain.result.stopped_epoch > 0).any()
    np.testing.assert_array_equal(tiny.result.stopped_epoch, plain.result.stopped_epoch)
    np.testing.assert_allclose(tiny.result.train_curve, plain.result.train_curve, rtol=1e-10)
    for p, q in zip(tiny.result.params, plain.result.params):
        for (W1, _), (W2, _) in zip(p, q):
            np.testing.assert_allclose(W1, W2, rtol=1e-9, atol=1e-13)
    reg = sgd_grid.train_grid([0.1], [0, 1, 2], explicit_reg=0.5, **kw)
    assert reg.explicit_reg == 0.5 and not np.allclose(reg.result.train_curve, plain.result.train_curve)
    with pytest.raises(ValueError, match="mini-batches"):
        sgd_grid.train_grid([0.1], [0], explicit_reg=0.5, batch_size=None, epochs=2, progress=False)
