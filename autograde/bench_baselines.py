"""What the training engine is measured against: per-model ``torch.nn`` loops and ``torch.func``, on two cores.

Each baseline runs in two forked single-threaded processes sharing the networks (the best plain PyTorch
gets from two cores for many small models) and returns its wall-clock seconds.
"""

from __future__ import annotations

import multiprocessing
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from helpers.batched import epoch_orders, plan_buckets
from helpers.batched.plan import largest_first
from helpers.reference import network, reference_train


def on_two_cores(jobs, work) -> dict:
    """Seconds of ``work(job)`` for each job, the jobs shared by two forked single-threaded processes that run
    at the same time (so each time includes the other core's load)."""
    halves = [jobs[0::2], jobs[1::2]]
    with multiprocessing.get_context("fork").Pool(2, initializer=_adopt, initargs=(work,)) as pool:
        pool.map(_each, [[None]] * 2)  # first calls load kernels
        timed = pool.map(_each, halves)
    return {job: t for half, times in zip(halves, timed) for job, t in zip(half, times)}


_work = []  # in a forked process only: the work it inherited


def _adopt(work):
    """Initialise a forked process: one thread, and the work it inherited (not pickled)."""
    torch.set_num_threads(1)
    _work.append(work)


def _each(jobs) -> list[float]:
    """Seconds of the inherited work for each job of a list, one after another."""
    times = []
    for job in jobs:
        start = time.perf_counter()
        _work[0](job)
        times.append(time.perf_counter() - start)
    return times


def per_model(x, y, epochs: int, **settings):
    """A job runner training one network (its width is the job) alone with ``torch.nn`` and ``torch.optim``."""
    def work(M):
        """Train the network of width ``M`` (a short run when ``M`` is None)."""
        reference_train(int(M or 8), x, y, epochs=epochs if M else 2, dtype=torch.float32, **settings)
    return work


def _padded(M: int, P: int, depth: int, d_in: int, d_out: int, seed: int) -> nn.Sequential:
    """The network of width ``M`` zero-padded to width ``P`` (the padded units never change)."""
    small, big = network(M, depth, d_in, d_out, seed), network(P, depth, d_in, d_out, seed)
    with torch.no_grad():
        for s, b in zip(small.parameters(), big.parameters()):
            b.zero_()
            b[tuple(slice(0, n) for n in s.shape)] = s
    return big


def func_stack(widths, x, y, epochs: int, *, lr: float, optimizer: str, depth: int = 2, seeds=None,
               batch_size: int | None = None):
    """A job runner training a group of networks (the job: indices into ``widths``) as one ``torch.func`` stack:
    ``stack_module_state`` of the networks padded to the group's widest, ``vmap`` of ``functional_call``, one
    backward pass for the summed loss and one ``torch.optim`` step (fused Adam, or SGD) for the stack."""
    x, y = torch.as_tensor(np.asarray(x), dtype=torch.float32), torch.as_tensor(np.asarray(y), dtype=torch.float32)
    seeds = np.zeros(len(widths), int) if seeds is None else np.asarray(seeds)
    per_network = x.dim() == 3
    n, d_in, d_out = x.shape[-2], x.shape[-1], y.shape[-1]

    def work(group):
        """Train the networks ``group`` together (two epochs of the first two when ``group`` is None); return the
        stacked parameters."""
        group, e = ([0, 1], 2) if group is None else (list(group), epochs)
        P = max(int(widths[k]) for k in group)
        nets = [_padded(int(widths[k]), P, depth, d_in, d_out, int(seeds[k])) for k in group]
        params, buffers = stack_module_state(nets)
        base = network(P, depth, d_in, d_out).to("meta")
        cls = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        opt = cls(params.values(), lr=lr, **({"fused": True} if optimizer == "adam" else {}))
        xs, ys = (x[group], y[group]) if per_network else (x.expand(len(group), -1, -1), y.expand(len(group), -1, -1))

        def loss(p, b, xb, yb):
            """One network's mean squared error."""
            return nn.functional.mse_loss(functional_call(base, (p, b), (xb,)), yb)

        losses = vmap(loss)
        orders = None if batch_size is None else epoch_orders(n, seeds[group])
        for _ in range(e):
            perm = None if orders is None else torch.from_numpy(next(orders))
            for s in range(0, n, batch_size or n):
                if perm is None:
                    xb, yb = xs, ys
                else:
                    idx = perm[:, s:s + batch_size].unsqueeze(2)
                    xb, yb = xs.gather(1, idx.expand(-1, -1, d_in)), ys.gather(1, idx.expand(-1, -1, d_out))
                opt.zero_grad()
                losses(params, buffers, xb, yb).sum().backward()
                opt.step()
        return params
    return work


def buckets_largest_first(widths, n: int) -> list[list[int]]:
    """The engine's buckets for ``widths``, largest first (the order in which the two processes take them)."""
    buckets = plan_buckets(widths, n)
    return [buckets[i] for i in largest_first(buckets, widths, n)]
