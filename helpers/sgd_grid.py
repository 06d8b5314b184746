"""A grid of SGD runs of one deep ReLU network (learning rate × weight decay × seed), trained at once.

Every run of the grid has the same shape (assignment 4: 3 hidden layers of width 50, mini-batches of
20), so :func:`helpers.batched.train` trains them all together as batched products. Each seed has its
own training set from the double-descent teacher (:func:`helpers.data.teacher_data`), its own
initialisation and its own mini-batch order; runs that differ only in learning rate or decay share all
three, so comparisons between them are paired. The test set is the same for every run; each seed also has
a validation set of its own (:func:`validation_data`) for choosing hyper-parameters.

``explicit_reg=λ`` trains with the penalty of the modified loss added explicitly
(:mod:`helpers.explicit_reg`): same networks, data and mini-batch orders.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from . import batched
from .data import teacher_data  # noqa: F401  (also for tests: the validation pairs follow the training pairs)
from .explicit_reg import mse as run_mse
from .explicit_reg import train as explicit_reg_train
from .summary import mean_se

WIDTH, DEPTH, BATCH_SIZE, N_TRAIN, NOISE_STD = 50, 3, 20, 100, 0.5
STOP_BELOW = 1e-3  # the matched stopping rule of assignment 4: the first epoch with training MSE below it


@dataclass
class Grid:
    """The runs of a grid, one entry per run in the order (learning rate, weight decay, seed)."""

    lr: np.ndarray
    weight_decay: np.ndarray
    seed: np.ndarray
    x: np.ndarray  # (runs, n, 8): each run's training inputs
    y: np.ndarray
    result: batched.Result
    batch_size: int | None  # None: full-batch gradient descent
    explicit_reg: float = 0.0

    def __len__(self) -> int:
        """Number of runs."""
        return len(self.lr)

    def model(self, k: int) -> torch.nn.Sequential:
        """Run ``k``'s trained network as a float64 ``torch.nn`` module."""
        return self.result.model(k)

    def data(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Run ``k``'s training set as float64 tensors."""
        return torch.tensor(self.x[k], dtype=torch.float64), torch.tensor(self.y[k], dtype=torch.float64)

    def curve(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Epochs and training MSE of run ``k``, up to the epoch it was stopped at (all epochs if never)."""
        epochs, mse = self.result.eval_epochs, self.result.train_curve[k]
        stop = self.result.stopped_epoch[k]
        keep = np.isfinite(mse) & ((epochs <= stop) if stop >= 0 else True)
        return epochs[keep], mse[keep]

    def validation_mse(self) -> np.ndarray:
        """Each run's MSE on its seed's validation set (:func:`validation_data`), for choosing hyper-parameters."""
        distinct = list(dict.fromkeys(self.seed.tolist()))
        xv, yv = validation_data(distinct)
        return np.array([run_mse(self.result.params[k], xv[distinct.index(s)], yv[distinct.index(s)])
                         for k, s in enumerate(self.seed.tolist())])

    def settings(self) -> list[tuple[float, float]]:
        """The distinct (learning rate, weight decay) pairs, in grid order."""
        return list(dict.fromkeys(zip(self.lr.tolist(), self.weight_decay.tolist())))

    def _per_run(self, values) -> np.ndarray:
        """``values`` as a float array, checked to hold one value per run."""
        values = np.asarray(values, dtype=float)
        if values.shape != (len(self),):
            raise ValueError(f"need one value per run ({len(self)}), got shape {values.shape}")
        return values

    def seed_mean(self, values) -> tuple[np.ndarray, np.ndarray]:
        """Mean over seeds and its standard error, per (learning rate, weight decay) pair of :meth:`settings`."""
        values = self._per_run(values)
        stats = [mean_se(values[(self.lr == lr) & (self.weight_decay == wd)]) for lr, wd in self.settings()]
        return np.array([m for m, _ in stats]), np.array([se for _, se in stats])

    def paired_difference(self, values, lr: float, weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`seed_mean` of each run's value minus that of the run of the same seed at ``(lr, weight_decay)``."""
        values = self._per_run(values)
        at = (self.lr == lr) & (self.weight_decay == weight_decay)
        if len(set(self.seed[at].tolist())) < at.sum():
            raise ValueError(f"several runs of one seed at learning rate {lr:g} and weight decay {weight_decay:g}")
        base = dict(zip(self.seed[at].tolist(), values[at]))
        missing = sorted(set(self.seed.tolist()) - set(base))
        if missing:
            raise ValueError(f"no run at learning rate {lr:g} and weight decay {weight_decay:g} for seeds {missing}")
        return self.seed_mean(values - np.array([base[int(s)] for s in self.seed]))


def concat(grids) -> Grid:
    """Several grids (same batch size, recorded at the same epochs) as one, runs in the order given."""
    grids = list(grids)
    if not grids or any(g.batch_size != grids[0].batch_size for g in grids):
        raise ValueError("grids to join must share their batch size")
    columns = ("lr", "weight_decay", "seed", "x", "y")
    return Grid(*(np.concatenate([getattr(g, name) for g in grids]) for name in columns),
                batched.Result.concat(g.result for g in grids), grids[0].batch_size)


def validation_data(seeds, n: int = N_TRAIN, noise_std: float = NOISE_STD):
    """Each seed's validation set ``(len(seeds), n, 8)``: the ``n`` pairs drawn after its training pairs."""
    sets = [teacher_data(N_TRAIN + n, seed=int(s), noise_std=noise_std) for s in seeds]
    return np.stack([d.x_train[N_TRAIN:] for d in sets]), np.stack([d.y_train[N_TRAIN:] for d in sets])


def seed_data(seeds, n: int = N_TRAIN, noise_std: float = NOISE_STD):
    """Training sets stacked per seed ``(len(seeds), n, 8)`` and the shared test set."""
    sets = [teacher_data(n, seed=int(s), noise_std=noise_std) for s in seeds]
    return (np.stack([d.x_train for d in sets]), np.stack([d.y_train for d in sets]),
            sets[0].x_test, sets[0].y_test)


def train_grid(lrs, seeds, weight_decays=(0.0,), *, epochs: int, stop_below: float | None = None,
               batch_size: int | None = BATCH_SIZE, width: int = WIDTH, depth: int = DEPTH, eval_every: int = 1,
               explicit_reg: float = 0.0, desc: str = "SGD runs", progress: bool = True) -> Grid:
    """Train every (learning rate, weight decay, seed) with plain SGD on its seed's data, in float64 (:class:`Grid`).

    ``stop_below``: a run is frozen at the first evaluated epoch (every ``eval_every``) with training
    MSE below it, the matched stopping rule; the others train for ``epochs`` epochs. ``batch_size=None``
    is full-batch gradient descent. ``explicit_reg=λ`` adds the gradient of ``(λ/4)‖∇J_b‖²`` to every step
    (:mod:`helpers.explicit_reg`; mini-batches, no weight decay).
    """
    runs = list(itertools.product(map(float, lrs), map(float, weight_decays), map(int, seeds)))
    if not runs:
        raise ValueError("lrs, weight_decays and seeds must each hold at least one value")
    lr, wd, seed = (np.array(v) for v in zip(*runs))
    distinct = list(dict.fromkeys(seed.tolist()))
    xs, ys, x_test, y_test = seed_data(distinct)
    rows = [distinct.index(s) for s in seed.tolist()]
    x, y = xs[rows], ys[rows]
    if explicit_reg:
        if batch_size is None or wd.any():
            raise ValueError("explicit_reg needs mini-batches and no weight decay")
        result = explicit_reg_train(width, x, y, lr=lr, reg=explicit_reg, seeds=seed, epochs=epochs,
                                    batch_size=batch_size, depth=depth, x_test=x_test, y_test=y_test,
                                    stop_below=stop_below, eval_every=eval_every, progress=progress, desc=desc)
    else:
        result = batched.train([width] * len(runs), x, y, epochs=epochs, lr=lr, optimizer="sgd", weight_decay=wd,
                               seeds=seed, depth=depth, batch_size=batch_size, x_test=x_test, y_test=y_test,
                               eval_every=eval_every, stop_below=stop_below, progress=progress, desc=desc,
                               dtype=torch.float64)
    return Grid(lr, wd, seed, x, y, result, batch_size, float(explicit_reg))
