"""Which networks share a bucket, and in which order the workers take the buckets (numpy only: no torch).

A bucket is a group of networks padded to the width of its widest member and trained as one batched
product. Padding costs FLOPs and every bucket costs a fixed overhead per step, so the plan is the
cheapest cut of the sorted widths into consecutive groups, with buckets then halved while that lets two
workers finish sooner.
"""

from __future__ import annotations

import math

import numpy as np


def layer_shapes(M: int, depth: int = 2, d_in: int = 8, d_out: int = 8) -> list[tuple[int, int]]:
    """``(fan_out, fan_in)`` of every linear layer of the network of width ``M``."""
    sizes = [d_in] + [M] * depth + [d_out]
    return list(zip(sizes[1:], sizes[:-1]))


def flops_per_epoch(M: int, n: int, depth: int = 2, d_in: int = 8, d_out: int = 8) -> int:
    """Useful multiply-add FLOPs (2 per multiply-add) of one epoch over ``n`` samples: forward,
    weight gradients and input gradients (none for the first layer's input)."""
    macs = [o * i for o, i in layer_shapes(M, depth, d_in, d_out)]
    return 2 * n * (2 * sum(macs) + sum(macs[1:]))


LANES = 2
"""The plan is balanced for this many workers (a lone bucket is always split in two), whatever ``workers`` is, so
that the results do not depend on it."""


def cheapest_groups(values, item_cost, overhead: float) -> list[list]:
    """Cut sorted ``values`` into consecutive groups minimising Σ over groups of ``overhead`` plus, for each
    member, ``item_cost`` of the group's largest value (exact dynamic programme)."""
    values = list(values)
    cost = [0.0] + [math.inf] * len(values)
    cut = [0] * (len(values) + 1)
    for j in range(1, len(values) + 1):
        f = item_cost(values[j - 1])
        for i in range(j):
            c = cost[i] + overhead + (j - i) * f
            if c < cost[j]:
                cost[j], cut[j] = c, i
    groups, j = [], len(values)
    while j > 0:
        groups.append(values[cut[j]:j])
        j = cut[j]
    return groups[::-1]


def plan_buckets(widths, n: int, overhead_flops: float = 1e7, depth: int = 2, d_in: int = 8,
                 d_out: int = 8) -> list[list[int]]:
    """Group indices of ``widths`` into buckets minimising padded FLOPs plus a fixed cost per bucket.

    A bucket costs ``overhead_flops`` (Python and launch overhead, in FLOP-equivalents) plus, for each
    network it holds, the FLOPs of a network padded to the bucket's largest width (:func:`cheapest_groups`
    over the widths in increasing order). Buckets are then halved while that lets :data:`LANES` workers finish
    sooner (:func:`makespan`).
    """
    order = np.argsort(widths, kind="stable")
    groups = cheapest_groups([int(widths[i]) for i in order],
                             lambda M: flops_per_epoch(M, n, depth, d_in, d_out), overhead_flops)
    starts = np.cumsum([0] + [len(g) for g in groups])
    buckets = [[int(k) for k in order[a:b]] for a, b in zip(starts[:-1], starts[1:])]
    return _balanced(buckets, _bucket_cost(widths, n, overhead_flops, depth, d_in, d_out))


def _bucket_cost(widths, n, overhead_flops, depth, d_in, d_out):
    """Estimated cost per epoch of a bucket (indices into ``widths``): its overhead and its padded FLOPs."""
    return lambda idx: overhead_flops + len(idx) * flops_per_epoch(max(int(widths[k]) for k in idx), n, depth, d_in,
                                                                  d_out)


def makespan(costs, lanes: int = LANES) -> float:
    """Time until the last of ``lanes`` workers is done when each takes the largest remaining cost when free."""
    loads = [0.0] * lanes
    for c in sorted(costs, reverse=True):
        loads[loads.index(min(loads))] += c
    return max(loads)


def _balanced(buckets, cost) -> list[list[int]]:
    """Split buckets in two (networks alternately) while a split shortens the :func:`makespan` over :data:`LANES`."""
    buckets = [list(b) for b in buckets]
    while True:
        best, best_time = None, makespan([cost(b) for b in buckets])
        for i, b in enumerate(buckets):
            if len(b) > 1:
                trial = buckets[:i] + [b[0::2], b[1::2]] + buckets[i + 1:]
                t = makespan([cost(c) for c in trial])
                if t < best_time:
                    best, best_time = trial, t
        if best is None:
            return buckets
        buckets = best


def largest_first(buckets, widths, n: int, overhead_flops: float = 1e7, depth: int = 2, d_in: int = 8,
                  d_out: int = 8) -> list[int]:
    """Bucket indices by decreasing estimated cost per epoch, the order in which workers take them.

    Taking the largest buckets first and each next bucket as soon as a worker is free keeps the
    workers busy until the end (longest-processing-time-first scheduling).
    """
    cost = [_bucket_cost(widths, n, overhead_flops, depth, d_in, d_out)(idx) for idx in buckets]
    return sorted(range(len(buckets)), key=lambda i: -cost[i])
