"""Benchmark the training engine (:mod:`helpers.batched`) in its two regimes: ``make bench-sweep``.

Full batch (``SWEEP``): the exhaustive sweep of assignment 3, every width M = 2..200, full-batch Adam,
5000 epochs, N = 100. Mini-batch (``MINIBATCH``): 64 networks of assignment 4's shape (depth 5, M = 50,
N = 100), SGD with mini-batches of 20, 2000 epochs. Each is set against plain PyTorch on the same two
cores (:mod:`autograde.bench_baselines`): a per-model ``torch.nn`` + ``torch.optim`` loop and a
``torch.func`` stack, each timed on part of the work and extrapolated, as its line says. Rates are
useful FLOPs (:func:`helpers.batched.flops_per_epoch`) over seconds, as a fraction of the machine's
float32 matmul rate, measured before and after; ``ceiling`` is the speedup an engine running at that
full rate would reach.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from helpers import batched, sgd_grid
from helpers.data import teacher_data

from .bench_baselines import buckets_largest_first, func_stack, on_two_cores, per_model

N, EPOCHS = 100, 5000
WIDTHS = np.arange(2, 201)
NAIVE_WIDTHS = (2, 10, 25, 50, 75, 100, 125, 150, 175, 200)
NAIVE_EPOCHS, FUNC_EPOCHS = 300, 100
MB_NETWORKS, MB_DEPTH, MB_WIDTH, MB_BATCH, MB_EPOCHS, MB_LR = 64, 5, 50, 20, 2000, 0.1
MB_EVAL = 5  # the training loss over all samples is recorded every 5 epochs, as in assignment 4
MB_TIMED_NETWORKS, MB_TIMED_EPOCHS = 4, 100


def matmul_gflops(n: int = 2048, repeats: int = 7) -> float:
    """Median float32 rate of an n×n by n×n product with torch's default threads, in GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def hidden_products(K: int, P: int, n: int, repeats: int):
    """A job runner: ``repeats`` times the three products of a hidden layer of ``K`` networks of width ``P`` on
    ``n`` samples (forward, weight gradient, input gradient), by the library named in the job."""
    W, H, G = torch.randn(K, P, P + 1), torch.randn(K, P + 1, n), torch.randn(K, P, n)
    Z, dW, Gin = torch.empty(K, P, n), torch.empty(K, P, P + 1), torch.empty(K, P, n)
    WT, HT = W[:, :, :-1].transpose(1, 2), H.transpose(1, 2)

    def work(job):
        """Run the products (once when ``job`` is None)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for _ in range(1 if job is None else repeats):
                if job is None or job[0] == "numpy":
                    np.matmul(W.numpy(), H.numpy(), out=Z.numpy())
                    np.matmul(G.numpy(), HT.numpy(), out=dW.numpy())
                    np.matmul(WT.numpy(), G.numpy(), out=Gin.numpy())
                if job is None or job[0] == "torch":
                    torch.bmm(W, H, out=Z)
                    torch.bmm(G, HT, out=dW)
                    torch.bmm(WT, G, out=Gin)
    return work


def product_rates(K: int, P: int, n: int, flops: float = 3e10) -> dict:
    """GFLOP/s of the hidden-layer products (:func:`hidden_products`) in two processes at once, per library, each
    process running about ``flops`` FLOPs."""
    repeats = max(1, round(flops / (2 * K * n * (2 * P * (P + 1) + P * P))))
    work = hidden_products(K, P, n, repeats)
    flops = 2 * repeats * K * n * (2 * P * (P + 1) + P * P)
    return {lib: 2 * flops / max(on_two_cores([(lib, 0), (lib, 1)], work).values()) / 1e9 for lib in ("torch", "numpy")}


def sweep(epochs: int) -> dict:
    """Seconds of the full-batch sweep: per-model loop and torch.func (extrapolated), and the engine."""
    data = teacher_data(N, seed=0, noise_std=0.5)
    x, y = data.x_train, data.y_train
    per = on_two_cores(list(NAIVE_WIDTHS), per_model(x, y, NAIVE_EPOCHS))
    flops = np.array([batched.flops_per_epoch(M, N) for M in NAIVE_WIDTHS], dtype=float)
    per_epoch = np.array([per[M] for M in NAIVE_WIDTHS]) / NAIVE_EPOCHS
    a, b = np.linalg.lstsq(np.c_[np.ones_like(flops), flops], per_epoch, rcond=None)[0]
    naive = sum(a + b * batched.flops_per_epoch(int(M), N) for M in WIDTHS) * epochs / 2
    groups = [tuple(g) for g in buckets_largest_first(WIDTHS, N)]
    func = on_two_cores(groups, func_stack(WIDTHS, x, y, FUNC_EPOCHS, lr=1e-3, optimizer="adam"))
    func_s = sum(func.values()) / 2 * epochs / FUNC_EPOCHS
    print(f"per-model loop: widths {list(NAIVE_WIDTHS)} for {NAIVE_EPOCHS} epochs each in two processes "
          f"({', '.join(f'{1e3 * t:.2f}' for t in per_epoch)} ms/epoch), extrapolated with a fit a + b*FLOPs(M) "
          f"to all {len(WIDTHS)} widths x {epochs} epochs, shared by two cores: {naive:.0f} s")
    print(f"torch.func: the engine's {len(groups)} buckets, each padded to its widest network, stacked and vmapped, "
          f"{FUNC_EPOCHS} epochs in two processes, extrapolated to {epochs} epochs: {func_s:.0f} s")
    start = time.perf_counter()
    result = batched.train(WIDTHS, x, y, epochs=epochs, progress=False)
    engine = time.perf_counter() - start
    print(f"engine: {len(WIDTHS)} widths in {len(groups)} buckets, {epochs} epochs in {engine:.1f} s "
          f"(final training MSE from {result.train_mse.max():.2g} to {result.train_mse.min():.2g})")
    useful = sum(batched.flops_per_epoch(int(M), N) for M in WIDTHS) * epochs
    return dict(naive=naive, func=func_s, engine=engine, useful=useful)


def minibatch(epochs: int) -> dict:
    """Seconds of the mini-batch regime: per-model loop and torch.func (extrapolated), the engine, and the engine
    with a stopping rule that stops some networks early."""
    xs, ys, _, _ = sgd_grid.seed_data(range(MB_NETWORKS))
    seeds = np.arange(MB_NETWORKS)
    shape = dict(depth=MB_DEPTH, batch_size=MB_BATCH)
    loop = per_model(xs[0], ys[0], MB_TIMED_EPOCHS, lr=MB_LR, optimizer="sgd", **shape)
    per = on_two_cores([MB_WIDTH] * 1 + list(range(MB_WIDTH + 1, MB_WIDTH + MB_TIMED_NETWORKS)), loop)
    per_network = statistics.mean(per.values()) / MB_TIMED_EPOCHS
    naive = per_network * epochs * MB_NETWORKS / 2
    func = on_two_cores([tuple(range(0, MB_NETWORKS, 2)), tuple(range(1, MB_NETWORKS, 2))],
                        func_stack(np.full(MB_NETWORKS, MB_WIDTH), xs, ys, MB_TIMED_EPOCHS, lr=MB_LR,
                                   optimizer="sgd", seeds=seeds, **shape))
    func_s = max(func.values()) * epochs / MB_TIMED_EPOCHS
    print(f"per-model loop: {MB_TIMED_NETWORKS} networks for {MB_TIMED_EPOCHS} epochs in two processes "
          f"({1e3 * per_network:.2f} ms/epoch each), extrapolated to {MB_NETWORKS} x {epochs} epochs shared by "
          f"two cores: {naive:.0f} s")
    print(f"torch.func: two stacks of {MB_NETWORKS // 2} networks, one per process, {MB_TIMED_EPOCHS} epochs, "
          f"extrapolated to {epochs} epochs: {func_s:.0f} s")
    args = dict(epochs=epochs, lr=MB_LR, optimizer="sgd", seeds=seeds, eval_every=MB_EVAL, progress=False, **shape)
    start = time.perf_counter()
    result = batched.train(np.full(MB_NETWORKS, MB_WIDTH), xs, ys, **args)
    engine = time.perf_counter() - start
    level = float(np.median(result.train_curve[:, epochs // MB_EVAL // 2]))  # half the networks are below it mid-run
    start = time.perf_counter()
    stopped = batched.train(np.full(MB_NETWORKS, MB_WIDTH), xs, ys, stop_below=level, **args)
    stop_s = time.perf_counter() - start
    done = np.where(stopped.stopped_epoch >= 0, stopped.stopped_epoch, epochs).sum() / (MB_NETWORKS * epochs)
    print(f"engine: {MB_NETWORKS} networks, {epochs} epochs (training loss recorded every {MB_EVAL}) in "
          f"{engine:.1f} s; with stop_below={level:.3g} "
          f"({(stopped.stopped_epoch >= 0).sum()} networks stop, {100 * done:.0f}% of the network-epochs trained): "
          f"{stop_s:.1f} s = {100 * stop_s / engine:.0f}% of the time")
    useful = batched.flops_per_epoch(MB_WIDTH, N, MB_DEPTH) * MB_NETWORKS * epochs
    return dict(naive=naive, func=func_s, engine=engine, useful=useful)


def line(name: str, t: dict, peak: float, extra: str) -> str:
    """The summary line of one regime."""
    rate = t["useful"] / t["engine"] / 1e9
    ceiling = t["naive"] / (t["useful"] / peak / 1e9)
    return (f"{name} {extra} engine_s={t['engine']:.1f} naive_s={t['naive']:.1f} torch_func_s={t['func']:.1f} "
            f"speedup={t['naive'] / t['engine']:.1f} func_speedup={t['naive'] / t['func']:.1f} "
            f"peak_fraction={rate / peak:.2f} ceiling={ceiling:.0f}")


def main(argv=None) -> None:
    """Run the benchmark and print its figures, the SWEEP and MINIBATCH lines last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs of the sweep (default 5000)")
    parser.add_argument("--mb-epochs", type=int, default=MB_EPOCHS, help="epochs of the mini-batch runs (default 2000)")
    args = parser.parse_args(argv)
    before = matmul_gflops()
    shapes = {"the sweep's widest bucket": (21, 200, N), "a mini-batch step": (32, MB_WIDTH, MB_BATCH)}
    rates = {label: product_rates(*shape) for label, shape in shapes.items()}
    full, mini = sweep(args.epochs), minibatch(args.mb_epochs)
    after = matmul_gflops()
    peak = max(before, after)  # the machine's rate; a noisy neighbour only ever lowers a measurement
    print(f"float32 matmul rate (2048x2048, {torch.get_num_threads()} threads, median of 7, before and after): "
          f"{before:.1f} and {after:.1f} GFLOP/s; the higher is used")
    for (label, (K, P, n)), r in zip(shapes.items(), rates.values()):
        print(f"hidden-layer products alone of {label} ({K} networks, width {P}, {n} samples; forward, weight and "
              f"input gradients) in two processes: torch.bmm {r['torch']:.0f} GFLOP/s = {r['torch'] / peak:.2f}, "
              f"numpy.matmul {r['numpy']:.0f} GFLOP/s = {r['numpy'] / peak:.2f} of the matmul rate")
    print(line("SWEEP", full, peak, f"widths=2..200 N={N} epochs={args.epochs}"))
    print(line("MINIBATCH", mini, peak, f"networks={MB_NETWORKS} depth={MB_DEPTH} M={MB_WIDTH} N={N} "
                                        f"B={MB_BATCH} epochs={args.mb_epochs}"))


if __name__ == "__main__":
    main()
