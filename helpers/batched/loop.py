"""One bucket's training loop: epochs of full batches or shuffled mini-batches, the recorded training
loss, and the stopping rule (a stopped network leaves the bucket and stops costing)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .bucket import Bucket


class EpochOrders:
    """Sample orders for mini-batch epochs, one permutation per network and epoch.

    Network k draws its permutations from its own generator, seeded by ``(shuffle_seed, seeds[k])``,
    so a per-network loop visits the same mini-batches.
    """

    def __init__(self, n: int, seeds, shuffle_seed: int = 0):
        self.n = n
        self.generators = [np.random.default_rng([shuffle_seed, int(s)])
                           for s in np.atleast_1d(np.asarray(seeds, dtype=int))]

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        """The next epoch's permutations, ``(networks, n)``."""
        return np.stack([g.permutation(self.n) for g in self.generators])

    def keep(self, rows):
        """Keep drawing for the networks ``rows`` only."""
        self.generators = [self.generators[int(j)] for j in rows]


def epoch_orders(n: int, seeds, shuffle_seed: int = 0) -> EpochOrders:
    """Endless sample orders, one ``(networks, n)`` array of permutations per epoch (see :class:`EpochOrders`)."""
    return EpochOrders(n, seeds, shuffle_seed)


@dataclass
class Run:
    """One bucket's networks, data and records during training.

    ``rows``: which of the run's networks are still in the bucket (the others have stopped);
    ``params``: each network's final parameters, filled when it stops and at the end.
    """

    bucket: Bucket
    widths: np.ndarray
    X: torch.Tensor  # (1 or K, d_in + 1, n): inputs with a last row of ones
    Y: torch.Tensor  # (1 or K, d_out, n)
    orders: EpochOrders | None  # None for full batches
    curve: np.ndarray  # (K, evaluations)
    stopped: np.ndarray
    rows: np.ndarray = field(init=False)
    params: list = field(init=False)

    def __post_init__(self):
        self.rows = np.arange(len(self.widths))
        self.params = [None] * len(self.widths)

    def keep(self, keep):
        """Keep the bucket's networks ``keep`` (positions in the bucket); the others' parameters are saved."""
        gone = np.setdiff1d(np.arange(len(self.rows)), keep)
        for j in gone:
            self.params[self.rows[j]] = self.bucket.params(int(j), int(self.widths[self.rows[j]]))
        if len(keep):
            self.bucket.keep(keep)
            self.X = self.X if self.X.shape[0] == 1 else self.X[keep]
            self.Y = self.Y if self.Y.shape[0] == 1 else self.Y[keep]
            if self.orders is not None:
                self.orders.keep(keep)
        self.rows = self.rows[keep]


def train_bucket(run: Run, *, epochs, batch_size, eval_every, stop_below, opt, lr_schedule, tick):
    """Train one bucket for ``epochs`` epochs, recording the training MSE every ``eval_every`` epochs.

    ``tick(k)`` is called with the number of network-epochs done since its last call; ``lr_schedule(e)``, when
    given, scales the learning rates of epoch ``e``.
    """
    b, n, d_out = run.bucket, run.X.shape[2], run.Y.shape[1]
    counted = 0

    def record(e, residual) -> bool:
        """Store the MSE after ``e`` epochs and stop the networks below ``stop_below``; True when none is left."""
        sums = torch.bmm(residual.view(b.K, 1, -1), residual.view(b.K, -1, 1)).view(-1).double() / (n * d_out)
        mse = sums.numpy()
        run.curve[run.rows, e // eval_every] = mse
        if stop_below is None:
            return False
        done = mse < stop_below
        if done.any():
            for j in np.flatnonzero(done):
                run.stopped[run.rows[j]] = e
                run.curve[run.rows[j], e // eval_every:] = mse[j]
            run.keep(np.flatnonzero(~done))
        return len(run.rows) == 0

    for e in range(epochs):  # epoch e + 1 starts from the parameters after e epochs
        scale = 1.0 if lr_schedule is None else float(lr_schedule(e))
        if batch_size is None:
            residual = b.forward(run.X).sub_(run.Y)
            if e % eval_every == 0:
                K = b.K
                if record(e, residual):
                    break
                if b.K != K:  # networks left the bucket: the residual of those that stay
                    residual = b.forward(run.X).sub_(run.Y)
            b.backward(residual.mul_(2.0 / (n * d_out)))
            b.step(opt, scale)
        else:
            if e % eval_every == 0 and record(e, b.forward(run.X).sub_(run.Y)):
                break
            Xp, Yp = _permuted(run.X, run.Y, torch.from_numpy(next(run.orders)))
            for s in range(0, n, batch_size):
                Xb, Yb = Xp[:, :, s:s + batch_size], Yp[:, :, s:s + batch_size]
                b.backward(b.forward(Xb).sub_(Yb).mul_(2.0 / (Xb.shape[2] * d_out)))
                b.step(opt, scale)
        counted += b.K
        if (e + 1) % 100 == 0:
            tick(counted)
            counted = 0
    else:
        if epochs % eval_every == 0:
            record(epochs, b.forward(run.X).sub_(run.Y))
    tick(counted)
    run.keep(np.array([], dtype=int))
    b.free()


def _permuted(X, Y, perm):
    """Inputs and targets with each network's samples in the order ``perm`` ``(K, n)``, in transposed layout."""
    idx = perm.unsqueeze(1)
    K = perm.shape[0]
    return (X.expand(K, -1, -1).gather(2, idx.expand(-1, X.shape[1], -1)),
            Y.expand(K, -1, -1).gather(2, idx.expand(-1, Y.shape[1], -1)))


def mse(params, x, y, dtype) -> float:
    """Mean squared error of the network ``params`` ``[(W, b), ...]`` on ``(x, y)``, computed in ``dtype``."""
    h = x
    for j, (W, b) in enumerate(params):
        h = torch.addmm(torch.as_tensor(b, dtype=dtype), h, torch.as_tensor(W, dtype=dtype).t())
        if j < len(params) - 1:
            h = h.clamp_min_(0)
    return float((h - y).square_().mean())


