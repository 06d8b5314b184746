"""Two-layer ReLU networks without biases, ``h(x) = Σ_j a_j ReLU(⟨w_j, x⟩)``, trained by full-batch GD.

Used by assignment 5, Parts 2 and 3. Parameters: ``W`` of shape ``(m, d)`` (row j is w_j) and ``a`` of
shape ``(m,)``. Loss: ``L = (1/2n) Σ_k (h(x_k) − y_k)²``. ReLU's derivative is 1 where its input is > 0,
else 0 (as in torch). Gradients: ``∇_{a_j} L = (1/n) Σ_k r_k ReLU(⟨w_j, x_k⟩)`` and
``∇_{w_j} L = (1/n) Σ_k r_k a_j 1[⟨w_j, x_k⟩ > 0] x_k``, with residuals ``r_k = h(x_k) − y_k``.

- :func:`balanced_init` draws the small balanced initialisation ``w_j = λ g_j``, ``a_j = s_j ‖w_j‖``;
- :func:`train_gd` trains one network in numpy and keeps the loss of every step and chosen snapshots;
- :func:`train_gd_many` trains several networks on the same data at once and keeps the loss and the outputs
  of every step;
- :func:`threshold_sweep` trains one network per (sample size, seed, initialisation scale) at once in
  torch: networks of similar sample sizes share a bucket, their data zero-padded to the bucket's largest
  size with zero weight in the loss (exact: a padded sample contributes nothing to any gradient);
  :meth:`Sweep.median_ratio` and :meth:`Sweep.thresholds` locate where the network stops interpolating.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from . import reference_names
from .batched.plan import cheapest_groups
from .data import linear_teacher_data

__getattr__ = reference_names(__name__, ("train_gd", "GDRun"))
"""Gradient descent on one network, in :mod:`helpers.reference`."""


def balanced_init(m: int, d: int, scale: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``W = scale · G`` with G standard normal ``(m, d)``, and ``a_j = s_j ‖w_j‖`` with random signs s_j = ±1."""
    W = scale * rng.standard_normal((m, d))
    s = np.where(rng.random(m) < 0.5, -1.0, 1.0)
    return W, s * np.linalg.norm(W, axis=1)


def output(X: np.ndarray, W: np.ndarray, a: np.ndarray) -> np.ndarray:
    """The network's outputs ``h(x_k)`` for the rows x_k of ``X``."""
    return np.maximum(X @ W.T, 0.0) @ a


def loss(X: np.ndarray, y: np.ndarray, W: np.ndarray, a: np.ndarray) -> float:
    """The training loss ``(1/2n) Σ (h(x_k) − y_k)²``."""
    return float(0.5 * np.mean((output(X, W, a) - y) ** 2))


def ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The ordinary-least-squares coefficients (no intercept): the minimiser of ‖Xβ − y‖²."""
    return np.linalg.lstsq(X, y, rcond=None)[0]


@dataclass
class Sweep:
    """Final losses of :func:`threshold_sweep`, each of shape ``(len(scales), len(seeds), len(ns))``; ``train_at``
    adds a last axis over ``checkpoints``, and ``W`` ``(…, m, d)`` and ``a`` ``(…, m)`` are the final parameters."""

    ns: np.ndarray
    seeds: np.ndarray
    scales: np.ndarray
    train: np.ndarray  # the network's training loss ½-MSE
    test: np.ndarray  # the network's ½-MSE on the common test set
    ols_train: np.ndarray  # the OLS estimator's training loss on the same data
    ols_test: np.ndarray  # the OLS estimator's ½-MSE on the common test set
    bayes_test: float = float("nan")  # the ½-MSE of the teacher ⟨β, x⟩ on the common test set
    checkpoints: tuple = ()  # steps after which the training loss was also recorded
    train_at: np.ndarray | None = None  # the training loss after each checkpoint
    W: np.ndarray | None = None
    a: np.ndarray | None = None

    def _train(self, at: int | None) -> np.ndarray:
        """The training losses at the end (``at=None``) or after checkpoint step ``at``."""
        return self.train if at is None else self.train_at[..., self.checkpoints.index(at)]

    def median_ratio(self, at: int | None = None) -> np.ndarray:
        """Median over seeds of the network's training loss over OLS's on the same data, shape ``(scales, ns)``,
        at the end or after checkpoint step ``at``."""
        return np.median(self._train(at) / self.ols_train, axis=1)

    def thresholds(self, level: float = 0.5, at: int | None = None) -> dict:
        """Per scale, the smallest n from which on the median ratio stays at or above ``level`` (None if it
        does not at the largest n; a NaN ratio counts as below): where the network stops interpolating."""
        out = {}
        for scale, ratio in zip(self.scales.tolist(), self.median_ratio(at)):
            below = np.flatnonzero(~(ratio >= level))
            start = 0 if below.size == 0 else below[-1] + 1
            out[scale] = int(self.ns[start]) if start < len(self.ns) else None
        return out

    def relative_change(self) -> np.ndarray:
        """Per run, ``|L_end − L_c| / L_c`` between the training loss at the last checkpoint c and at the end."""
        before = self.train_at[..., -1]
        return np.abs(self.train - before) / before

    def alignment(self) -> np.ndarray:
        """Per run, :func:`beta_alignment` of the final network with the teacher β = e₁."""
        beta = np.zeros(self.W.shape[-1])
        beta[0] = 1.0
        return beta_alignment(self.W, self.a, beta)


def beta_alignment(W: np.ndarray, a: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``Σ_j |a_j|‖w_j‖ cos(w_j, sign(a_j) β) / Σ_j |a_j|‖w_j‖``: 1 when every neuron that matters points along
    ``+β`` (if ``a_j > 0``) or ``−β`` (if ``a_j < 0``), the two neurons of ``⟨β, x⟩ = σ(⟨β, x⟩) − σ(−⟨β, x⟩)``;
    over the last two axes of ``W`` ``(…, m, d)`` and ``a`` ``(…, m)``."""
    norms = np.linalg.norm(W, axis=-1)
    cos = np.sign(a) * (W @ beta) / (np.linalg.norm(beta) * np.where(norms > 0, norms, 1.0))
    weight = np.abs(a) * norms
    return np.sum(weight * cos, axis=-1) / np.sum(weight, axis=-1)


@dataclass
class GDRuns:
    """Several gradient-descent runs on the same data: the loss ``(runs, steps)`` and the outputs
    ``(runs, steps, n)`` before every step, and the final parameters ``W`` ``(runs, m, d)`` and ``a`` ``(runs, m)``."""

    losses: np.ndarray
    outputs: np.ndarray
    W: np.ndarray
    a: np.ndarray


def train_gd_many(X, y, W, a, lr: float, steps: int, desc: str | None = None) -> GDRuns:
    """Full-batch gradient descent on ``L`` for every run at once from ``W`` ``(runs, m, d)``, ``a`` ``(runs, m)``."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    W, a = np.array(W, dtype=float), np.array(a, dtype=float)
    if W.ndim != 3 or a.shape != W.shape[:2] or W.shape[2] != X.shape[1]:
        raise ValueError(f"W must be (runs, m, {X.shape[1]}) and a (runs, m); got {W.shape} and {a.shape}")
    n, XT = len(y), X.T.copy()
    losses, outputs = np.empty((W.shape[0], steps)), np.empty((W.shape[0], steps, n))
    for t in tqdm(range(steps), desc=desc, disable=desc is None, mininterval=0.5):
        pre = W @ XT  # (runs, m, n)
        h = np.maximum(pre, 0.0)
        outputs[:, t] = (a[:, None, :] @ h)[:, 0]  # (runs, n)
        r = outputs[:, t] - y
        losses[:, t] = 0.5 * np.mean(r * r, axis=1)
        g_a = (h @ r[:, :, None])[:, :, 0] / n
        g_W = ((pre > 0) * r[:, None, :]) @ X * (a[:, :, None] / n)
        a -= lr * g_a
        W -= lr * g_W
    return GDRuns(losses, outputs, W, a)


def sample_groups(ns, overhead: int = 40) -> list[list[int]]:
    """Split sorted sample sizes into consecutive groups minimising Σ (size × largest n) + overhead per group."""
    return cheapest_groups(sorted(ns), lambda n: n, overhead)


def _train_bucket(X, Y, w, W, A, lr, steps, bar):
    """Full-batch GD of the stacked networks of one bucket, in place (X: (B, N, d); sample weights w: (B, N))."""
    relu_backward = torch.ops.aten.threshold_backward
    Xt = X.transpose(1, 2).contiguous()
    for t in range(steps):
        pre = torch.bmm(W, Xt)  # (B, m, N)
        h = pre.clamp_min(0.0)
        r = (torch.bmm(A.unsqueeze(1), h).squeeze(1) - Y) * w  # (B, N): residuals weighted by 1/n (0 on padding)
        # the products below are written with the short dimension d or 1 first: much faster than the plain order
        g_a = torch.bmm(r.unsqueeze(1), h.transpose(1, 2)).squeeze(1)
        g_pre = relu_backward(A.unsqueeze(2) * r.unsqueeze(1), pre, 0.0)
        g_W_t = torch.bmm(Xt, g_pre.transpose(1, 2))  # (B, d, m)
        A.sub_(g_a, alpha=lr)
        W.sub_(g_W_t.transpose(1, 2), alpha=lr)
        if bar is not None and (t + 1) % 500 == 0:
            bar.update(500 * X.shape[0])
    if bar is not None:
        bar.update(steps % 500 * X.shape[0])


def threshold_sweep(ns, seeds, scales, d: int = 5, m: int = 100, lr: float = 0.3, steps: int = 8000,
                    noise_var: float = 0.09, n_test: int = 5000, dtype=None, checkpoints=(),
                    progress: bool = True, desc: str = "threshold sweep") -> Sweep:
    """Train a two-layer ReLU network from the balanced initialisation for every (scale, seed, n) and compare with OLS.

    Data: :func:`helpers.data.linear_teacher_data` ``(n, d, seed)``; the common test set is drawn with seed
    10⁶. Initialisation: :func:`balanced_init` with generator ``rng([seed, n, 1])`` and ``λ = scale``.
    Networks are trained in ``dtype`` for ``steps`` steps of full-batch GD at learning rate ``lr``; losses are
    evaluated in float64, also after each step count in ``checkpoints`` (each below ``steps``).
    """
    dtype = torch.float32 if dtype is None else dtype
    ns, seeds, scales = np.asarray(ns, int), np.asarray(seeds, int), np.asarray(scales, float)
    checkpoints = tuple(int(c) for c in checkpoints)
    if any(not 0 < c < steps for c in checkpoints) or list(checkpoints) != sorted(set(checkpoints)):
        raise ValueError(f"checkpoints must increase strictly, each from 1 to steps - 1 = {steps - 1}: {checkpoints}")
    test = linear_teacher_data(n_test, d, seed=10**6, noise_var=noise_var)
    shape = (len(scales), len(seeds), len(ns))
    out = {k: np.zeros(shape) for k in ("train", "test", "ols_train", "ols_test")}
    out.update(train_at=np.zeros(shape + (len(checkpoints),)), W=np.zeros(shape + (m, d)), a=np.zeros(shape + (m,)))
    jobs = [(i, j, k) for i in range(len(scales)) for j in range(len(seeds)) for k in range(len(ns))]
    data = {}
    for j, s in enumerate(seeds):
        for k, n in enumerate(ns):
            D = linear_teacher_data(int(n), d, seed=int(s), noise_var=noise_var)
            beta = ols(D.x, D.y)
            data[j, k] = D
            out["ols_train"][:, j, k] = 0.5 * np.mean((D.x @ beta - D.y) ** 2)
            out["ols_test"][:, j, k] = 0.5 * np.mean((test.x @ beta - test.y) ** 2)
    bar = tqdm(total=len(jobs) * steps, desc=desc, disable=not progress, unit="net-step", mininterval=0.5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the networks are small: one thread is fastest
    try:
        for group in sample_groups(sorted(set(ns.tolist()))):
            members = [job for job in jobs if ns[job[2]] in group]
            N, B = max(group), len(members)
            X, Y, w = torch.zeros(B, N, d, dtype=dtype), torch.zeros(B, N, dtype=dtype), torch.zeros(B, N, dtype=dtype)
            W, A = torch.zeros(B, m, d, dtype=dtype), torch.zeros(B, m, dtype=dtype)
            for b, (i, j, k) in enumerate(members):
                n, D = int(ns[k]), data[j, k]
                X[b, :n], Y[b, :n], w[b, :n] = torch.from_numpy(D.x), torch.from_numpy(D.y), 1.0 / n
                W0, a0 = balanced_init(m, d, float(scales[i]), np.random.default_rng([int(seeds[j]), n, 1]))
                W[b], A[b] = torch.from_numpy(W0), torch.from_numpy(a0)
            done = 0
            for c, until in enumerate(checkpoints + (steps,)):
                _train_bucket(X, Y, w, W, A, lr, until - done, bar)
                done = until
                for b, (i, j, k) in enumerate(members):
                    D, Wb, ab = data[j, k], W[b].double().numpy(), A[b].double().numpy()
                    if until < steps:
                        out["train_at"][i, j, k, c] = loss(D.x, D.y, Wb, ab)
                    else:
                        out["train"][i, j, k] = loss(D.x, D.y, Wb, ab)
                        out["test"][i, j, k] = loss(test.x, test.y, Wb, ab)
                        out["W"][i, j, k], out["a"][i, j, k] = Wb, ab
    finally:
        torch.set_num_threads(threads)
        bar.close()
    bayes_test = 0.5 * float(np.mean((test.x[:, 0] - test.y) ** 2))
    return Sweep(ns, seeds, scales, checkpoints=checkpoints, bayes_test=bayes_test, **out)
