"""``train``: one network per width, trained in buckets and returned as one :class:`Result`."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .bucket import Bucket
from .loop import Run, epoch_orders, mse
from .model import Optimizer, Result
from .parallel import run_buckets
from .plan import largest_first, plan_buckets


def _broadcast(value, K, name):
    """One value per network from a scalar or a sequence of length K."""
    arr = np.broadcast_to(np.asarray(value, dtype=float), (K,)) if np.ndim(value) == 0 else np.asarray(value, float)
    if arr.shape != (K,):
        raise ValueError(f"{name} needs one value per network ({K}), got {arr.shape[0]}")
    return arr


def _as_runs(x):
    """Inputs ``(n, d)`` or ``(K, n, d)`` as ``(1 or K, d, n)`` tensors in the engine's transposed layout."""
    return x.transpose(-1, -2).unsqueeze(0) if x.dim() == 2 else x.transpose(-1, -2)


def _as_inputs(x):
    """Inputs as :func:`_as_runs` with a last row of ones appended: ``(1 or K, d + 1, n)``, the first layer's input."""
    X = _as_runs(x)
    return torch.cat([X, X.new_ones(X.shape[0], 1, X.shape[2])], dim=1)


def _pick(t, k):
    """What network(s) ``k`` train on: ``t`` itself when shared ``(n, d)``, else its rows ``k`` of ``(K, n, d)``."""
    return t if t.dim() == 2 else t[k]


def _tensor(a, dtype):
    """``a`` (array-like) as a tensor of ``dtype``."""
    return torch.as_tensor(np.asarray(a), dtype=dtype)


def train(widths, x, y, *, epochs: int, lr=1e-3, optimizer: str | Optimizer = "adam", x_test=None, y_test=None,
          depth: int = 2, seeds=0, weight_decay=0.0, batch_size: int | None = None, shuffle_seed: int = 0,
          eval_every: int = 1, stop_below: float | None = None, lr_schedule=None, dtype=torch.float32, workers: int = 2,
          overhead_flops: float = 1e7, progress: bool = True, desc: str = "training") -> Result:
    """Train one network per entry of ``widths`` on ``(x, y)`` and return their curves and final losses.

    ``x``, ``y``: ``(n, d)`` arrays shared by all networks, or ``(K, n, d)`` with one data set per
    network. ``lr``, ``seeds``, ``weight_decay``: a scalar or one value per network.
    ``batch_size=None`` is full-batch training; otherwise each epoch visits a fresh random
    permutation (per network, drawn by :func:`epoch_orders`) in mini-batches, the last one smaller
    when ``batch_size`` does not divide ``n``. The training MSE on all of ``x`` is recorded before
    training and every ``eval_every`` epochs. A network whose recorded training MSE is below
    ``stop_below`` stops there (its ``stopped_epoch`` is recorded and it costs nothing after);
    training ends early once every network has stopped. ``lr_schedule``: a function of the epoch (from 0)
    giving the factor on every learning rate during that epoch, such as :class:`LinearDecay` (Adam oscillates
    near zero loss at a constant rate; a decay at the end lets the final losses settle).

    Buckets of similar widths are shared between ``workers`` workers; results do not depend on ``workers``.
    """
    opt = optimizer if isinstance(optimizer, Optimizer) else Optimizer(optimizer)
    widths = np.asarray(widths, dtype=int)
    K = len(widths)
    if K == 0 or (widths < 1).any():
        raise ValueError("widths must be a non-empty list of positive integers")
    seeds = _broadcast(seeds, K, "seeds").astype(int)
    lrs, wds = _broadcast(lr, K, "lr"), _broadcast(weight_decay, K, "weight_decay")
    x, y = _tensor(x, dtype), _tensor(y, dtype)
    if x.dim() not in (2, 3) or x.shape[:-1] != y.shape[:-1] or (x.dim() == 3 and x.shape[0] != K):
        raise ValueError(f"x and y must be (n, d) or ({K}, n, d) with the same n; "
                         f"got {tuple(x.shape)}, {tuple(y.shape)}")
    n, d_in, d_out = x.shape[-2], x.shape[-1], y.shape[-1]
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and n = {n}, or None for full batch")
    step_n = n if batch_size is None else batch_size
    buckets = plan_buckets(widths, step_n, overhead_flops, depth, d_in, d_out)
    n_evals = epochs // eval_every + 1
    runs = [Run(Bucket(widths[idx], seeds[idx], lrs[idx], wds[idx], depth, d_in, d_out, dtype), widths[idx],
                _as_inputs(_pick(x, idx)), _as_runs(_pick(y, idx)),
                None if batch_size is None else epoch_orders(n, seeds[idx], shuffle_seed),
                np.full((len(idx), n_evals), np.nan), np.full(len(idx), -1))
            for idx in buckets]

    order = largest_first(buckets, widths, step_n, overhead_flops, depth, d_in, d_out)
    settings = dict(epochs=epochs, batch_size=batch_size, eval_every=eval_every, stop_below=stop_below, opt=opt,
                    lr_schedule=lr_schedule)
    with tqdm(total=epochs * K, desc=desc, disable=not progress, mininterval=1.0, unit=" net-epochs") as bar:
        run_buckets(runs, order, max(1, min(workers, len(buckets))), settings, bar)
        bar.update(bar.total - bar.n)

    curve, stopped, params = np.empty((K, n_evals)), np.full(K, -1), [None] * K
    for idx, run in zip(buckets, runs):
        curve[idx], stopped[idx] = run.curve, run.stopped
        for j, k in enumerate(idx):
            params[k] = run.params[j]
    train_mse = np.array([mse(params[k], _pick(x, k), _pick(y, k), dtype) for k in range(K)])
    test_mse = np.full(K, np.nan)
    if x_test is not None:
        xt, yt = _tensor(x_test, dtype), _tensor(y_test, dtype)
        test_mse = np.array([mse(params[k], _pick(xt, k), _pick(yt, k), dtype) for k in range(K)])
    return Result(widths=widths, seeds=seeds, lr=lrs, weight_decay=wds, train_curve=curve,
                  eval_epochs=np.arange(n_evals) * eval_every, train_mse=train_mse, test_mse=test_mse,
                  stopped_epoch=stopped, params=params)
