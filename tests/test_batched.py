"""helpers.batched: the engine reproduces per-model torch.nn + torch.optim training, and the teacher data."""

import numpy as np
import pytest
import torch

from helpers import batched, checks
from helpers.batched import parallel
from helpers.batched.bucket import Bucket
from helpers.data import teacher, teacher_data

STEPS = 200


@pytest.fixture(scope="module")
def xy():
    """A small float64 regression problem (n = 30, 8 → 8)."""
    g = np.random.default_rng(7)
    return g.standard_normal((30, 8)), g.standard_normal((30, 8))


def _flat(params):
    """All parameters of a [(W, b), ...] list or a torch module as one float64 vector."""
    if isinstance(params, torch.nn.Module):
        return np.concatenate([p.detach().double().numpy().ravel() for p in params.parameters()])
    return np.concatenate([a.ravel() for W, b in params for a in (W, b)])


def _rel(a, b):
    """Largest entrywise difference relative to the largest entry of ``b``."""
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("optimizer,lr,batch_size,weight_decay", [
    ("adam", 1e-2, None, 0.0),   # full batch, as in the double-descent sweep
    ("adam", 5e-3, 7, 1e-3),     # mini-batches with a smaller last batch (30 = 4*7 + 2), decay
    ("sgd", 5e-2, None, 0.0),
    ("sgd", 2e-2, 8, 1e-2),
])
def test_engine_reproduces_torch_optim_in_float64(xy, optimizer, lr, batch_size, weight_decay):
    x, y = xy
    widths, seeds = [1, 3, 8, 20, 37], [0, 1, 2, 3, 4]  # several buckets, each padded to its widest network
    epochs = STEPS if batch_size is None else STEPS // 4
    result = batched.train(widths, x, y, epochs=epochs, lr=lr, optimizer=optimizer, seeds=seeds,
                           batch_size=batch_size, weight_decay=weight_decay, dtype=torch.float64,
                           overhead_flops=0.0 if optimizer == "sgd" else 1e12, progress=False)
    for k, (M, s) in enumerate(zip(widths, seeds)):
        net, losses = batched.reference_train(M, x, y, epochs=epochs, lr=lr, optimizer=optimizer, seed=s,
                                              batch_size=batch_size, weight_decay=weight_decay)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"width {M}"
        if batch_size is None:  # the recorded curve is the loss before each step
            np.testing.assert_allclose(result.train_curve[k, :epochs], losses, rtol=1e-10, atol=1e-10 * losses[0])


def test_depth_and_per_network_learning_rates(xy):
    x, y = xy
    result = batched.train([4, 4, 9], x, y, epochs=STEPS, lr=[0.01, 0.03, 0.02], optimizer="sgd", depth=5,
                           seeds=[0, 1, 2], dtype=torch.float64, progress=False)
    for k, (M, lr) in enumerate([(4, 0.01), (4, 0.03), (9, 0.02)]):
        net, _ = batched.reference_train(M, x, y, epochs=STEPS, lr=lr, optimizer="sgd", depth=5, seed=k)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10


def test_one_width_many_seeds_own_data_and_shuffles(xy):
    """Networks of one width (one bucket, split for the two workers), each with its own data set and
    mini-batch order: every one follows its own per-model SGD trajectory."""
    x, y = xy
    g = np.random.default_rng(3)
    xs, ys = np.stack([x, x + 0.1 * g.standard_normal(x.shape), x[::-1]]), np.stack([y, y[::-1], y])
    result = batched.train([6, 6, 6], xs, ys, epochs=20, lr=[0.02, 0.05, 0.02], optimizer="sgd", depth=3,
                           seeds=[0, 1, 1], batch_size=8, dtype=torch.float64, progress=False)
    for k, (lr, s) in enumerate([(0.02, 0), (0.05, 1), (0.02, 1)]):
        net, _ = batched.reference_train(6, xs[k], ys[k], epochs=20, lr=lr, optimizer="sgd", depth=3, seed=s,
                                         batch_size=8)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"network {k}"


def test_assignment_4_shape_follows_torch_optim_sgd():
    """Five hidden layers of 50, B = 20 of N = 100, per-network learning rate, decay, data and shuffles:
    200 SGD steps (40 epochs) of each network agree with per-model torch.optim.SGD in float64."""
    g = np.random.default_rng(11)
    xs, ys = g.standard_normal((3, 100, 8)), g.standard_normal((3, 100, 8))
    lrs, wds, seeds = [0.05, 0.4, 0.2], [0.0, 0.0, 3e-3], [0, 1, 1]
    result = batched.train([50] * 3, xs, ys, epochs=40, lr=lrs, weight_decay=wds, optimizer="sgd", depth=5,
                           seeds=seeds, batch_size=20, dtype=torch.float64, progress=False)
    for k in range(3):
        net, _ = batched.reference_train(50, xs[k], ys[k], epochs=40, lr=lrs[k], optimizer="sgd", depth=5,
                                         seed=seeds[k], weight_decay=wds[k], batch_size=20)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"network {k}"


def test_results_do_not_depend_on_threads_and_buckets_only_round(xy):
    x, y = (a.astype(np.float32) for a in xy)
    widths = [2, 5, 17, 30, 31, 60]
    one, two, alone = [batched.train(widths, x, y, epochs=50, workers=w, overhead_flops=o, progress=False)
                       for w, o in [(1, 4e7), (2, 4e7), (2, 0.0)]]
    np.testing.assert_array_equal(two.train_curve, one.train_curve)  # threads: bit for bit
    for k in range(len(widths)):
        np.testing.assert_array_equal(_flat(two.params[k]), _flat(one.params[k]))
    np.testing.assert_allclose(alone.train_curve, one.train_curve, rtol=1e-4)  # padding: float32 rounding only


def test_stop_below_freezes_each_network_where_it_crossed(xy):
    x, y = xy
    result = batched.train([40, 60], x, y, epochs=400, lr=1e-2, seeds=[0, 1], stop_below=1e-2, dtype=torch.float64,
                           progress=False)
    assert (result.stopped_epoch > 0).all() and (result.train_mse < 1e-2).all()
    for k, M in enumerate([40, 60]):
        e = int(result.stopped_epoch[k])
        assert result.train_curve[k, e - 1] >= 1e-2 > result.train_curve[k, e]
        net, _ = batched.reference_train(M, x, y, epochs=e, lr=1e-2, seed=k)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10


def test_adam_with_a_learning_rate_and_decay_per_network(xy):
    x, y = xy
    lrs, wds = [5e-3, 1e-2, 2e-3], [0.0, 1e-3, 1e-2]
    result = batched.train([5, 5, 11], x, y, epochs=STEPS, lr=lrs, weight_decay=wds, seeds=[0, 1, 2],
                           dtype=torch.float64, overhead_flops=1e12, progress=False)  # one bucket, two lrs
    for k, M in enumerate([5, 5, 11]):
        net, _ = batched.reference_train(M, x, y, epochs=STEPS, lr=lrs[k], weight_decay=wds[k], seed=k)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"network {k}"


@pytest.mark.parametrize("optimizer,lrs,batch_size", [
    ("adam", 1e-2, None),              # fused Adam: one learning rate for the bucket
    ("adam", [5e-3, 1e-2, 2e-3], None),  # Adam with one learning rate per network
    ("sgd", 5e-2, 8),                  # plain SGD, mini-batches
    ("sgd", [2e-2, 5e-2, 1e-2], None),
])
def test_a_learning_rate_schedule_follows_torch_lambdalr(xy, optimizer, lrs, batch_size):
    x, y = xy
    epochs = 60
    schedule = batched.LinearDecay(start=20, epochs=epochs, final=0.1)
    result = batched.train([5, 5, 11], x, y, epochs=epochs, lr=lrs, optimizer=optimizer, seeds=[0, 1, 2],
                           batch_size=batch_size, lr_schedule=schedule, dtype=torch.float64,
                           overhead_flops=1e12, progress=False)
    constant = batched.train([5], x, y, epochs=epochs, lr=np.atleast_1d(lrs)[0], optimizer=optimizer, seeds=[0],
                             batch_size=batch_size, dtype=torch.float64, progress=False)
    assert _rel(_flat(result.params[0]), _flat(constant.params[0])) > 1e-6  # the schedule changes the path
    for k, M in enumerate([5, 5, 11]):
        lr = float(np.broadcast_to(lrs, (3,))[k])
        net, _ = batched.reference_train(M, x, y, epochs=epochs, lr=lr, optimizer=optimizer, seed=k,
                                         batch_size=batch_size, lr_schedule=schedule)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"network {k}"


def test_linear_decay_factors():
    decay = batched.LinearDecay(start=10, epochs=20, final=0.0)
    assert [decay(e) for e in (0, 9, 10, 15, 20, 30)] == [1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    assert batched.LinearDecay(start=0, epochs=4, final=0.2)(2) == pytest.approx(0.6)


def test_stopped_networks_leave_their_bucket_and_the_others_go_on_exactly(xy, monkeypatch):
    x, y = xy
    xs, ys = np.stack([x, x[::-1], x, x[::-1], -x, -x]), np.stack([y, y[::-1], -y, -y[::-1], y, -y])
    lrs, sizes = [0.05, 0.02, 0.05, 0.03, 0.02, 0.04], []
    keep = Bucket.keep
    monkeypatch.setattr(Bucket, "keep", lambda self, rows: (keep(self, rows), sizes.append(self.K)))
    result = batched.train([6] * 6, xs, ys, epochs=60, lr=lrs, optimizer="sgd", depth=3, seeds=range(6),
                           batch_size=8, stop_below=0.895, dtype=torch.float64, workers=1, overhead_flops=1e12,
                           progress=False)
    stopped = result.stopped_epoch
    assert (stopped > 0).sum() >= 2 and (stopped < 0).any(), stopped  # some stop at different times, one goes on
    assert sizes and max(sizes) >= 2  # a stopped network left its bucket at once; the others train on together
    for k in range(6):
        e = int(stopped[k]) if stopped[k] >= 0 else 60
        net, _ = batched.reference_train(6, xs[k], ys[k], epochs=e, lr=lrs[k], optimizer="sgd", depth=3, seed=k,
                                         batch_size=8)
        assert _rel(_flat(result.params[k]), _flat(net)) < 1e-10, f"network {k}"
        if stopped[k] >= 0:  # its curve stays at the value it stopped at
            at = int(stopped[k])  # recorded every epoch
            assert (result.train_curve[k, at:] == result.train_curve[k, at]).all()


def test_threads_where_the_platform_cannot_fork_give_the_same_results(xy, monkeypatch):
    x, y = (a.astype(np.float32) for a in xy)
    args = dict(epochs=30, lr=1e-2, seeds=[0, 1, 2, 3], stop_below=0.6, workers=2, progress=False)
    forked = batched.train([3, 7, 20, 21], x, y, **args)
    monkeypatch.setattr(parallel, "can_fork", lambda: False)
    threaded = batched.train([3, 7, 20, 21], x, y, **args)
    np.testing.assert_array_equal(threaded.train_curve, forked.train_curve)
    np.testing.assert_array_equal(threaded.stopped_epoch, forked.stopped_epoch)
    for k in range(4):
        np.testing.assert_array_equal(_flat(threaded.params[k]), _flat(forked.params[k]))


def test_test_loss_and_counts(xy):
    x, y = xy
    result = batched.train([3, 20], x, y, epochs=5, x_test=x[:10], y_test=y[:10], progress=False)
    assert result.test_mse.shape == (2,) and np.isfinite(result.test_mse).all()
    assert list(result.n_params) == [batched.n_params(3), batched.n_params(20)] == [3**2 + 18 * 3 + 8, 768]
    assert batched.n_params(20) == sum(p.numel() for p in batched.network(20).parameters())
    # forward 2N(8M + M² + 8M), weight gradients the same, input gradients 2N(M² + 8M)
    assert batched.flops_per_epoch(20, 100) == 2 * 100 * (2 * (160 + 400 + 160) + 400 + 160)


def test_result_model_holds_each_trained_network(xy):
    x, y = xy
    xs, ys = np.stack([x, x[::-1]]), np.stack([y, -y])
    result = batched.train([4, 9], xs, ys, epochs=10, lr=0.02, optimizer="sgd", depth=3, seeds=[0, 1], batch_size=8,
                           x_test=x[:10], y_test=y[:10], dtype=torch.float64, progress=False)
    for k in range(2):
        model = result.model(k)
        assert sum(isinstance(m, torch.nn.ReLU) for m in model) == 3 and _flat(model).size == result.n_params[k]
        np.testing.assert_array_equal(_flat(model), _flat(result.params[k]))
        with torch.no_grad():
            train = torch.nn.functional.mse_loss(model(torch.tensor(xs[k])), torch.tensor(ys[k])).item()
            test = torch.nn.functional.mse_loss(model(torch.tensor(x[:10])), torch.tensor(y[:10])).item()
        assert train == pytest.approx(result.train_mse[k], rel=1e-12)
        assert test == pytest.approx(result.test_mse[k], rel=1e-12)


def test_buckets_cover_every_width_once_in_order():
    widths = np.array([50, 3, 200, 17, 17, 90, 2])
    buckets = batched.plan_buckets(widths, 100)
    flat = [i for b in buckets for i in b]
    assert sorted(flat) == list(range(len(widths)))
    assert [widths[i] for i in flat] == sorted(widths)
    assert len(batched.plan_buckets(widths, 100, overhead_flops=0.0)) == len(set(widths))
    one = sorted(range(len(widths)), key=lambda i: widths[i])  # a single bucket is split for two workers
    assert batched.plan_buckets(widths, 100, overhead_flops=1e15) == [one[0::2], one[1::2]]


def test_plan_is_balanced_for_two_workers():
    from helpers.batched import plan
    widths = np.repeat([2, 4, 8, 16, 24, 28, 32, 40, 48, 56, 100], 3)
    cost = plan._bucket_cost(widths, 100, 1e7, 2, 8, 8)
    buckets = batched.plan_buckets(widths, 100)
    assert sorted(i for b in buckets for i in b) == list(range(len(widths)))
    groups = plan.cheapest_groups(sorted(widths.tolist()), lambda M: plan.flops_per_epoch(M, 100), 1e7)
    starts = np.cumsum([0] + [len(g) for g in groups])
    unbalanced = [list(range(a, b)) for a, b in zip(starts[:-1], starts[1:])]  # widths are sorted already
    balanced_time = plan.makespan([cost(b) for b in buckets])
    assert balanced_time < 0.9 * plan.makespan([cost(b) for b in unbalanced])
    for i, b in enumerate(buckets):  # no further split shortens it
        if len(b) > 1:
            trial = buckets[:i] + [b[0::2], b[1::2]] + buckets[i + 1:]
            assert plan.makespan([cost(c) for c in trial]) >= balanced_time


@pytest.mark.parametrize("kwargs,message", [
    (dict(widths=[]), "widths"),
    (dict(widths=[0, 3]), "widths"),
    (dict(lr=[0.1, 0.2, 0.3]), "lr needs one value per network"),
    (dict(batch_size=0), "batch_size"),
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(y=np.zeros((29, 8))), "same n"),
])
def test_bad_arguments_get_clear_messages(xy, kwargs, message):
    args = dict(widths=[2, 3], x=xy[0], y=xy[1], epochs=1, progress=False) | kwargs
    with pytest.raises(ValueError, match=message):
        batched.train(args.pop("widths"), args.pop("x"), args.pop("y"), **args)


def test_teacher_data_is_seeded_nested_and_scaled():
    a, b, c = teacher_data(100, seed=0), teacher_data(200, seed=0), teacher_data(100, seed=1)
    np.testing.assert_array_equal(b.x_train[:100], a.x_train)
    np.testing.assert_array_equal(b.y_train[:100], a.y_train)
    np.testing.assert_array_equal(c.x_test, a.x_test)
    assert not np.array_equal(c.x_train, a.x_train)
    assert a.x_train.dtype == np.float32 and a.y_train.shape == (100, 8) and a.x_test.shape == (1000, 8)
    big = teacher(np.random.default_rng(3).standard_normal((20_000, 8)))
    np.testing.assert_allclose(big.std(axis=0), 1.0, atol=0.03)
    noisy = teacher_data(2000, seed=2, noise_std=0.5, n_test=1)
    residual = noisy.y_train - teacher(noisy.x_train.astype(np.float64))
    assert noisy.noise_var == 0.25 and abs(residual.var() - 0.25) < 0.01
    with pytest.raises(ValueError):
        teacher_data(0)


def test_numbers_check_accepts_lists_of_real_numbers_only():
    checks.numbers([1.0, 2, np.float64(3.0)], "losses", length=3)
    for bad, msg in [((1.0,), "2 numbers"), ([1.0, "2"], r"losses\[1\]"), (np.ones(2), "list"),
                     ([1.0, float("nan")], "finite")]:
        with pytest.raises(checks.CheckFailed, match=msg):
            checks.numbers(bad, "losses", length=2)


def test_norms_sensitivity_and_dead_networks_of_a_result(xy):
    x, y = xy
    result = batched.train([3, 7], x, y, epochs=5, seeds=[0, 1], dtype=torch.float64, progress=False)
    for k in range(2):
        net = result.model(k)
        flat = torch.cat([p.detach().ravel() for p in net.parameters()])
        assert result.param_norms()[k] == pytest.approx(float(flat.norm()), rel=1e-12)
        J = torch.func.vmap(torch.func.jacrev(net))(torch.tensor(x)).detach()
        assert result.input_sensitivity(x)[k] == pytest.approx(float((J**2).sum(dim=(1, 2)).mean()), rel=1e-10)
    assert not result.dead(x).any()
    (W1, b1), *rest = result.params[0]
    result.params[0] = [(W1, b1 - 1e3)] + rest  # every first-layer unit off on these inputs: a constant network
    assert result.dead(x).tolist() == [True, False] and result.input_sensitivity(x)[0] == 0.0
