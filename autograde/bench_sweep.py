"""Benchmark the width-sweep engine against a per-model training loop: ``make bench`` (last part).

The exhaustive sweep of assignment 3: every width M = 2..200, full-batch Adam, 5000 epochs, N = 100.
Printed, from one run: the per-model loop's time (``torch.nn`` + ``torch.optim.Adam``, one width after
another; timed on a subset of widths for fewer epochs and extrapolated, as said in its line), the
engine's time, their ratio, the useful FLOPs per epoch, the machine's float32 matmul rate, and the
fraction of it the engine reaches. The last line is
``SWEEP naive_s=… engine_s=… speedup=… peak_fraction=…``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from helpers import batched
from helpers.data import teacher_data

N, EPOCHS = 100, 5000
WIDTHS = np.arange(2, 201)
NAIVE_WIDTHS = [2, 10, 25, 50, 75, 100, 125, 150, 175, 200]
NAIVE_EPOCHS = 300


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


def naive_seconds(x, y, widths, epochs: int) -> dict[int, float]:
    """Seconds per epoch of the per-model loop (float32) for each width, over ``epochs`` epochs, after a warm-up."""
    batched.reference_train(int(widths[0]), x, y, epochs=20, dtype=torch.float32)  # first calls load kernels
    out = {}
    for M in widths:
        start = time.perf_counter()
        batched.reference_train(int(M), x, y, epochs=epochs, dtype=torch.float32)
        out[int(M)] = (time.perf_counter() - start) / epochs
    return out


def extrapolate(per_epoch: dict[int, float], widths, epochs: int) -> float:
    """Whole-sweep seconds from a least-squares fit of seconds per epoch = a + b · FLOPs(M)."""
    f = np.array([batched.flops_per_epoch(M, N) for M in per_epoch], dtype=float)
    a, b = np.linalg.lstsq(np.c_[np.ones_like(f), f], np.array(list(per_epoch.values())), rcond=None)[0]
    return float(sum(a + b * batched.flops_per_epoch(int(M), N) for M in widths) * epochs)


def main(argv=None) -> None:
    """Run the benchmark and print its figures, the SWEEP line last."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs of the sweep (default 5000)")
    args = parser.parse_args(argv)
    data = teacher_data(N, seed=0, noise_std=0.5)
    before = matmul_gflops()

    per_epoch = naive_seconds(data.x_train, data.y_train, NAIVE_WIDTHS, NAIVE_EPOCHS)
    naive = extrapolate(per_epoch, WIDTHS, args.epochs)
    print(f"per-model loop: timed on widths {NAIVE_WIDTHS} for {NAIVE_EPOCHS} epochs each "
          f"({', '.join(f'{1e3 * t:.2f}' for t in per_epoch.values())} ms/epoch), extrapolated with a fit "
          f"a + b*FLOPs(M) to all {len(WIDTHS)} widths x {args.epochs} epochs: {naive:.0f} s")

    useful = sum(batched.flops_per_epoch(int(M), N) for M in WIDTHS)
    buckets = batched.plan_buckets(WIDTHS, N)
    padded = sum(len(b) * batched.flops_per_epoch(int(WIDTHS[b[-1]]), N) for b in buckets)
    start = time.perf_counter()
    result = batched.train(WIDTHS, data.x_train, data.y_train, epochs=args.epochs, progress=False)
    engine = time.perf_counter() - start
    after = matmul_gflops()
    peak = max(before, after)  # the machine's rate; a noisy neighbour only ever lowers a measurement
    print(f"float32 matmul rate (2048x2048, {torch.get_num_threads()} threads, median of 7, before and after the "
          f"engine): {before:.1f} and {after:.1f} GFLOP/s; the higher is used")
    rate = useful * args.epochs / engine / 1e9
    print(f"engine: {len(WIDTHS)} widths in {len(buckets)} buckets, {args.epochs} epochs in {engine:.1f} s "
          f"(final training MSE from {result.train_mse.max():.2g} to {result.train_mse.min():.2g})")
    print(f"useful work: {useful / 1e9:.3f} GFLOP per epoch, {useful * args.epochs / 1e12:.2f} TFLOP in all "
          f"(padding adds {100 * (padded / useful - 1):.0f}%); engine rate {rate:.1f} GFLOP/s = "
          f"{100 * rate / peak:.0f}% of the matmul rate")
    print(f"SWEEP naive_s={naive:.1f} engine_s={engine:.1f} speedup={naive / engine:.1f} "
          f"peak_fraction={rate / peak:.2f}")


if __name__ == "__main__":
    main()
