"""autograde.bench_sweep and its baselines: the torch.func stack trains the same networks as the engine, and the
summary lines say what they measured."""

import numpy as np

from autograde import bench_sweep
from autograde.bench_baselines import buckets_largest_first, func_stack, on_two_cores, per_model
from helpers import batched


def _data(K=None, n=24, seed=3):
    """A small float32 regression problem, shared or one per network."""
    g = np.random.default_rng(seed)
    shape = (n, 8) if K is None else (K, n, 8)
    return g.standard_normal(shape).astype(np.float32), g.standard_normal(shape).astype(np.float32)


def test_torch_func_baseline_trains_what_the_engine_trains_full_batch_with_padding():
    x, y = _data()
    widths = np.array([3, 7, 12])
    params = func_stack(widths, x, y, 30, lr=1e-2, optimizer="adam")((0, 1, 2))
    result = batched.train(widths, x, y, epochs=30, lr=1e-2, workers=1, overhead_flops=1e15, progress=False)
    stacked = list(params.values())  # weight, bias per layer, each (networks, ...) padded to width 12
    for k in range(len(widths)):
        for (W, b), Ws, bs in zip(result.params[k], stacked[0::2], stacked[1::2]):
            np.testing.assert_allclose(Ws[k, :W.shape[0], :W.shape[1]].detach().numpy(), W, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(bs[k, :b.shape[0]].detach().numpy(), b, rtol=1e-4, atol=1e-5)
            assert not Ws[k, W.shape[0]:].any()  # padding stays zero


def test_torch_func_baseline_trains_what_the_engine_trains_with_mini_batches():
    x, y = _data(K=4)
    kw = dict(lr=0.05, optimizer="sgd", depth=3, seeds=np.arange(4), batch_size=8)
    params = func_stack(np.full(4, 6), x, y, 5, **kw)((0, 1, 2, 3))
    result = batched.train(np.full(4, 6), x, y, epochs=5, workers=1, progress=False, **kw)
    first = next(iter(params.values())).detach().numpy()
    for k in range(4):
        np.testing.assert_allclose(first[k], result.params[k][0][0], rtol=1e-4, atol=1e-5)


def test_two_core_runner_times_every_job_once():
    x, y = _data()
    times = on_two_cores([2, 3, 4], per_model(x, y, 3))
    assert sorted(times) == [2, 3, 4] and all(t > 0 for t in times.values())
    assert 1 in buckets_largest_first(np.array([2, 200, 3, 150]), 100)[0]  # the widest network's bucket first


def test_summary_line_reports_speedups_fraction_and_ceiling():
    t = dict(naive=100.0, func=40.0, engine=10.0, useful=5e11)
    text = bench_sweep.line("SWEEP", t, peak=100.0, extra="N=100")
    assert text == ("SWEEP N=100 engine_s=10.0 naive_s=100.0 torch_func_s=40.0 speedup=10.0 func_speedup=2.5 "
                    "peak_fraction=0.50 ceiling=20")
