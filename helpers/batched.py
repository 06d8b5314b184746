"""Train many small ReLU networks at once as batched tensor operations (the width-sweep engine).

A sweep over widths trains one network per width. Trained one after another, each step of each
network is a handful of small matrix products plus Python overhead. Here the networks are grouped
into *buckets* of similar width; the networks of a bucket are zero-padded to the bucket's largest
width and stacked, so that each layer of the whole bucket is one batched matrix product
(``torch.bmm``, the bias folded into the weights), with a hand-written backward pass and optimizers
that update all the bucket's parameters as one flat tensor.

Zero padding is exact: a padded unit has zero weights in and out and zero bias, so its
pre-activation is 0, ReLU's derivative there is 0 (as in torch), its gradients are 0, and Adam and
SGD leave it at 0. Every network therefore follows the same trajectory as when trained alone; in
float64 the results agree with ``torch.nn`` + ``torch.optim`` to rounding (see the tests).

Networks: ``d_in → M → … → M → d_out`` with ``depth`` hidden ReLU layers of width M and a linear
output, initialised as ``torch.nn.Linear`` does (see :func:`network`). Loss: mean squared error
over samples and outputs, as ``torch.nn.MSELoss``.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import reference_names

MIN_BUCKETS = 2
"""A plan with fewer buckets is split (networks alternately) so that two workers share the work; this
does not depend on ``workers``, so neither do the results."""

_relu_backward_ = torch.ops.aten.threshold_backward.grad_input  # gradient where the activation is > 0, else 0


__getattr__ = reference_names(__name__, ("network", "reference_train", "n_params"))
"""The torch.nn network and training loop the engine reproduces, in :mod:`helpers.reference`."""


def layer_shapes(M: int, depth: int = 2, d_in: int = 8, d_out: int = 8) -> list[tuple[int, int]]:
    """``(fan_out, fan_in)`` of every linear layer of the network of width ``M``."""
    sizes = [d_in] + [M] * depth + [d_out]
    return list(zip(sizes[1:], sizes[:-1]))


def flops_per_epoch(M: int, n: int, depth: int = 2, d_in: int = 8, d_out: int = 8) -> int:
    """Useful multiply-add FLOPs (2 per multiply-add) of one epoch over ``n`` samples: forward,
    weight gradients and input gradients (none for the first layer's input)."""
    macs = [o * i for o, i in layer_shapes(M, depth, d_in, d_out)]
    return 2 * n * (2 * sum(macs) + sum(macs[1:]))


def init_seed(seed: int, M: int) -> int:
    """The torch seed that initialises the network of width ``M`` in run ``seed``."""
    return 1_000_003 * seed + M


@dataclass(frozen=True)
class Optimizer:
    """Hyper-parameters of ``torch.optim.Adam`` or ``torch.optim.SGD`` (no momentum), as the engine applies them."""

    name: str = "adam"
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def __post_init__(self):
        """Only Adam and plain SGD are implemented."""
        if self.name not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', not {self.name!r}")


@dataclass
class Result:
    """What a batched run returns, one row per network in the order of the ``widths`` given."""

    widths: np.ndarray
    seeds: np.ndarray
    lr: np.ndarray
    weight_decay: np.ndarray
    train_curve: np.ndarray  # (networks, evaluations): full-data training MSE
    eval_epochs: np.ndarray  # epochs at which train_curve was measured (0 = before training)
    train_mse: np.ndarray  # at the end (or when the network was stopped)
    test_mse: np.ndarray
    stopped_epoch: np.ndarray  # first evaluated epoch with train MSE below stop_below, else -1
    params: list = field(repr=False, default_factory=list)  # per network: [(W, b), ...] as float64 numpy

    @property
    def n_params(self) -> np.ndarray:
        """Parameter count of each network."""
        return np.array([sum(W.size + b.size for W, b in p) for p in self.params])

    @staticmethod
    def concat(results) -> "Result":
        """The networks of several results (recorded at the same epochs) as one result, in the order given."""
        results = list(results)
        if not results or any(not np.array_equal(r.eval_epochs, results[0].eval_epochs) for r in results):
            raise ValueError("results to join must be recorded at the same epochs (same epochs and eval_every)")
        cat = {name: np.concatenate([getattr(r, name) for r in results])
               for name in ("widths", "seeds", "lr", "weight_decay", "train_curve", "train_mse", "test_mse",
                            "stopped_epoch")}
        return Result(**cat, eval_epochs=results[0].eval_epochs, params=[p for r in results for p in r.params])

    def model(self, k: int, dtype=torch.float64) -> nn.Sequential:
        """Network ``k`` as a ``torch.nn`` module holding its trained parameters (ReLU between the linear layers)."""
        layers = []
        for j, (W, b) in enumerate(self.params[k]):
            linear = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(W))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear] + ([nn.ReLU()] if j < len(self.params[k]) - 1 else [])
        return nn.Sequential(*layers)


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
    over the widths in increasing order).
    """
    order = np.argsort(widths, kind="stable")
    groups = cheapest_groups([int(widths[i]) for i in order],
                             lambda M: flops_per_epoch(M, n, depth, d_in, d_out), overhead_flops)
    starts = np.cumsum([0] + [len(g) for g in groups])
    return [[int(k) for k in order[a:b]] for a, b in zip(starts[:-1], starts[1:])]


class _Buffers:
    """A bucket's activations for ``n`` samples.

    Per hidden layer: the pre-activations ``Z`` ``(K, P, n)`` and the activations with a last row of ones
    ``H`` ``(K, P + 1, n)`` (the next layer's input), with views of the activations alone (``h``) and of
    ``H`` transposed (``HT``); and the outputs ``(K, d_out, n)``.
    """

    def __init__(self, K: int, shapes, n: int, dtype):
        hidden = [o for o, _ in shapes[:-1]]
        self.Z = [torch.empty(K, P, n, dtype=dtype) for P in hidden]
        self.H = [torch.ones(K, P + 1, n, dtype=dtype) for P in hidden]
        self.h = [H[:, :-1] for H in self.H]
        self.HT = [H.transpose(1, 2) for H in self.H]
        self.out = torch.empty(K, shapes[-1][0], n, dtype=dtype)


class _Bucket:
    """K networks padded to width P, their parameters, gradients and optimizer state as flat tensors.

    Each layer's weights and bias are stored together, bias last, as one ``(K, out, in + 1)`` block; the
    layer's input carries a last row of ones, so that the layer is one matrix product and its weight gradient
    includes the bias gradient. The first layer's block is stored transposed across the bucket, as
    ``(in + 1, K·out)``: with inputs shared by the bucket, its weight gradient is then one wide product.
    Activations live in buffers kept for each number of samples.
    """

    def __init__(self, widths, seeds, lr, weight_decay, depth, d_in, d_out, dtype):
        from .reference import network as _network  # each network starts where torch.nn would start it

        K, P = len(widths), max(widths)
        self.K = K
        self.shapes = layer_shapes(P, depth, d_in, d_out)
        self.theta = torch.zeros(K * sum(o * (i + 1) for o, i in self.shapes), dtype=dtype)
        self.grad = torch.zeros_like(self.theta)
        self.Wb, self.dWb = self._blocks(self.theta), self._blocks(self.grad)
        self.W0T, self.dW0T = self._first(self.theta), self._first(self.grad)
        self.W, self.b = self._views(self.theta)
        self.WT = [W.transpose(1, 2) for W in self.W]
        for k, (M, s) in enumerate(zip(widths, seeds)):
            net = _network(int(M), depth, d_in, d_out, int(s), dtype)
            linears = [m for m in net if isinstance(m, nn.Linear)]
            for W, b, lin in zip(self.W, self.b, linears):
                o, i = lin.weight.shape
                W[k, :o, :i] = lin.weight.detach()
                b[k, :o, 0] = lin.bias.detach()
        per_net = torch.tensor([float(x) for x in lr], dtype=dtype)
        self.lr = self._per_element(per_net)
        self.wd = self._per_element(torch.tensor([float(x) for x in weight_decay], dtype=dtype))
        self.has_wd = bool((self.wd != 0).any())
        self.m = torch.zeros_like(self.theta)
        self.v = torch.zeros_like(self.theta)
        self.step_count = 0
        lr0, wd0 = float(per_net[0]), float(weight_decay[0])
        # one learning rate and decay for every network: torch's fused Adam kernel (the one behind
        # torch.optim.Adam(fused=True)) updates the whole bucket in one pass over memory
        self.uniform = bool((per_net == lr0).all()) and all(float(w) == wd0 for w in weight_decay)
        self.lr0, self.wd0 = lr0, wd0
        self.step_tensor = torch.zeros((), dtype=torch.float32)
        self._buffers = {}

    def _first(self, flat):
        """The first layer's ``(in + 1, K·out)`` block of a flat parameter-shaped tensor."""
        o, i = self.shapes[0]
        return flat[:self.K * o * (i + 1)].view(i + 1, self.K * o)

    def _blocks(self, flat):
        """Per-layer views ``(K, out, in + 1)`` (weights, then the bias as last column) of a flat parameter tensor."""
        o, i = self.shapes[0]
        blocks, at = [self._first(flat).view(i + 1, self.K, o).permute(1, 2, 0)], self.K * o * (i + 1)
        for o, i in self.shapes[1:]:
            blocks.append(flat[at:at + self.K * o * (i + 1)].view(self.K, o, i + 1))
            at += self.K * o * (i + 1)
        return blocks

    def _views(self, flat):
        """Per-layer views ``(K, out, in)`` and ``(K, out, 1)`` of the weights and biases in a flat parameter tensor."""
        blocks = self._blocks(flat)
        return [B[..., :-1] for B in blocks], [B[..., -1:] for B in blocks]

    def _per_element(self, per_net):
        """Spread one value per network over every parameter of that network (flat layout)."""
        out = torch.empty_like(self.theta)
        for B in self._blocks(out):
            B.copy_(per_net.view(-1, 1, 1).expand_as(B))
        return out

    def freeze(self, k: int):
        """Stop updating network ``k``: its learning rate becomes 0 in every layer."""
        self.uniform = False
        for B in self._blocks(self.lr):
            B[k].zero_()

    def _buffers_for(self, n: int) -> _Buffers:
        """The activation buffers for ``n`` samples, made on first use."""
        if n not in self._buffers:
            self._buffers[n] = _Buffers(self.K, self.shapes, n, self.theta.dtype)
        return self._buffers[n]

    def free(self):
        """Drop the activation buffers and the references to the last forward pass's inputs and activations."""
        self._buffers.clear()
        self.buf = self.X = None

    def forward(self, X):
        """Outputs ``(K, d_out, n)`` for inputs ``X`` of shape ``(1 or K, d_in + 1, n)`` with a last row of ones.

        Inputs shared by the whole bucket (``X.shape[0] == 1``) go through the first layer as one
        plain matrix product of all the bucket's first-layer weights, stacked. The outputs are a buffer
        that the next forward pass with as many samples overwrites; the activations are kept for :meth:`backward`.
        """
        buf = self.buf = self._buffers_for(X.shape[2])
        self.X = X
        for l, Wb in enumerate(self.Wb):
            out = buf.out if l == len(self.Wb) - 1 else buf.Z[l]
            if l == 0 and X.shape[0] == 1:
                torch.mm(self.W0T.t(), X[0], out=out.view(-1, out.shape[2]))
            else:
                torch.bmm(Wb, X if l == 0 else buf.H[l - 1], out=out)
            if l < len(buf.Z):
                torch.clamp_min(out, 0, out=buf.h[l])
        return buf.out

    def backward(self, G):
        """Write the gradients of the loss into ``self.grad`` from ``G`` = dLoss/dOutput ``(K, d_out, n)``.

        The gradient flowing into a hidden layer overwrites that layer's pre-activations; ReLU's
        derivative comes from the activation (> 0 exactly where the pre-activation is).
        """
        buf, X = self.buf, self.X
        for l in range(len(self.Wb) - 1, 0, -1):
            torch.bmm(G, buf.HT[l - 1], out=self.dWb[l])
            Gin = torch.bmm(self.WT[l], G, out=buf.Z[l - 1])
            G = _relu_backward_(Gin, buf.h[l - 1], 0, grad_input=Gin)
        if X.shape[0] == 1:  # shared inputs: the first layer's gradient for the whole bucket in one product
            torch.mm(X[0], G.view(-1, G.shape[2]).t(), out=self.dW0T)
        else:
            torch.bmm(G, X.transpose(1, 2), out=self.dWb[0])

    def step(self, opt: Optimizer):
        """One optimizer step on every network of the bucket (torch.optim's update rules)."""
        g = self.grad
        if opt.name == "adam" and self.uniform:
            self.step_count += 1
            self.step_tensor.fill_(self.step_count)
            torch._fused_adam_([self.theta], [g], [self.m], [self.v], [], [self.step_tensor], lr=self.lr0,
                               beta1=opt.betas[0], beta2=opt.betas[1], weight_decay=self.wd0, eps=opt.eps,
                               amsgrad=False, maximize=False)
            return
        if self.has_wd:
            g = g.addcmul(self.wd, self.theta)
        if opt.name == "sgd":
            self.theta.addcmul_(self.lr, g, value=-1.0)
            return
        self.step_count += 1
        b1, b2 = opt.betas
        self.m.lerp_(g, 1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = (self.v.sqrt() / math.sqrt(1 - b2 ** self.step_count)).add_(opt.eps)
        self.theta.addcdiv_(self.m * self.lr, denom, value=-1.0 / (1 - b1 ** self.step_count))

    def params(self, k: int, M: int):
        """The parameters of network ``k`` (true width ``M``) as float64 numpy arrays."""
        out = []
        for (o, i), W, b in zip(layer_shapes(M, len(self.W) - 1, self.W[0].shape[2], self.W[-1].shape[1]),
                                self.W, self.b):
            out.append((W[k, :o, :i].double().numpy().copy(), b[k, :o, 0].double().numpy().copy()))
        return out


def _as_runs(x):
    """Inputs ``(n, d)`` or ``(K, n, d)`` as ``(1 or K, d, n)`` tensors in the engine's transposed layout."""
    return x.transpose(-1, -2).unsqueeze(0) if x.dim() == 2 else x.transpose(-1, -2)


def _as_inputs(x):
    """Inputs as :func:`_as_runs` with a last row of ones appended: ``(1 or K, d + 1, n)``, the first layer's input."""
    X = _as_runs(x)
    return torch.cat([X, X.new_ones(X.shape[0], 1, X.shape[2])], dim=1)


def _broadcast(value, K, name):
    """One value per network from a scalar or a sequence of length K."""
    arr = np.broadcast_to(np.asarray(value, dtype=float), (K,)) if np.ndim(value) == 0 else np.asarray(value, float)
    if arr.shape != (K,):
        raise ValueError(f"{name} needs one value per network ({K}), got {arr.shape[0]}")
    return arr


def _largest_first(buckets, widths, n, overhead_flops, depth, d_in, d_out) -> list[int]:
    """Bucket indices by decreasing estimated cost per epoch, the order in which workers take them.

    Taking the largest buckets first and each next bucket as soon as a worker is free keeps the
    workers busy until the end (longest-processing-time-first scheduling).
    """
    cost = [overhead_flops + len(idx) * flops_per_epoch(max(int(widths[k]) for k in idx), n, depth, d_in, d_out)
            for idx in buckets]
    return sorted(range(len(buckets)), key=lambda i: -cost[i])


@dataclass
class _Run:
    """One bucket's data and records during training."""

    bucket: _Bucket
    X: torch.Tensor
    Y: torch.Tensor
    orders: object  # the bucket's epoch_orders iterator, None for full batches
    curve: torch.Tensor
    stopped: np.ndarray
    epochs_done: int = 0


def _train_bucket(run: _Run, *, epochs, batch_size, eval_every, stop_below, opt, tick):
    """Train one bucket for ``epochs`` epochs, recording the training MSE every ``eval_every`` epochs."""
    b, X, Y = run.bucket, run.X, run.Y
    n, d_out = X.shape[2], Y.shape[1]
    squares = torch.full((run.curve.shape[1], b.K, 1, 1), math.nan, dtype=X.dtype)  # Σ residual² per record

    def record(e, residual):
        """Store the squared residuals after ``e`` epochs (current parameters); True when all networks stopped."""
        torch.bmm(residual.view(b.K, 1, -1), residual.view(b.K, -1, 1), out=squares[e // eval_every])
        if stop_below is not None:
            mse = squares[e // eval_every].view(-1).double() / (n * d_out)
            for j in np.flatnonzero((mse < stop_below).numpy() & (run.stopped < 0)):
                run.stopped[j] = e
                b.freeze(int(j))
            return bool((run.stopped >= 0).all())
        return False

    _epochs(run, epochs=epochs, batch_size=batch_size, eval_every=eval_every, opt=opt, tick=tick, record=record)
    run.curve.copy_(squares.view(len(squares), b.K).t().double() / (n * d_out))


def _epochs(run: _Run, *, epochs, batch_size, eval_every, opt, tick, record):
    """The training loop of :func:`_train_bucket`; ``record(e, residual)`` is called every ``eval_every`` epochs."""
    b, X, Y = run.bucket, run.X, run.Y
    n, d_out = X.shape[2], Y.shape[1]
    full = batch_size is None
    for e in range(epochs):  # epoch e + 1 starts from the parameters after e epochs
        if full:
            residual = b.forward(X).sub_(Y)
            if e % eval_every == 0 and record(e, residual):
                return
            b.backward(residual.mul_(2.0 / (n * d_out)))
            b.step(opt)
        else:
            if e % eval_every == 0 and record(e, b.forward(X).sub_(Y)):
                return
            perm = torch.from_numpy(next(run.orders))
            for s in range(0, n, batch_size):
                Xb, Yb = _gather(X, Y, perm[:, s:s + batch_size])
                b.backward(b.forward(Xb).sub_(Yb).mul_(2.0 / (Xb.shape[2] * d_out)))
                b.step(opt)
        run.epochs_done = e + 1
        tick(e + 1)
    if epochs % eval_every == 0:
        record(epochs, b.forward(X).sub_(Y))


def train(widths, x, y, *, epochs: int, lr=1e-3, optimizer: str | Optimizer = "adam", x_test=None, y_test=None,
          depth: int = 2, seeds=0, weight_decay=0.0, batch_size: int | None = None, shuffle_seed: int = 0,
          eval_every: int = 1, stop_below: float | None = None, dtype=torch.float32, workers: int = 2,
          overhead_flops: float = 1e7, progress: bool = True, desc: str = "training") -> Result:
    """Train one network per entry of ``widths`` on ``(x, y)`` and return their curves and final losses.

    ``x``, ``y``: ``(n, d)`` arrays shared by all networks, or ``(K, n, d)`` with one data set per
    network. ``lr``, ``seeds``, ``weight_decay``: a scalar or one value per network.
    ``batch_size=None`` is full-batch training; otherwise each epoch visits a fresh random
    permutation (per network, drawn by :func:`epoch_orders`) in mini-batches, the last one smaller
    when ``batch_size`` does not divide ``n``. The training MSE on all of ``x`` is recorded before
    training and every ``eval_every`` epochs. A network whose recorded training MSE is below
    ``stop_below`` is frozen there (its learning rate set to 0) and its ``stopped_epoch`` recorded;
    training ends early once every network is frozen.

    Buckets are shared between ``workers`` forked processes (threads where fork is unavailable),
    each running torch single-threaded and taking the next largest bucket when free: the matrices
    are small, and independent streams of small products use the cores better than splitting every
    product. Results do not depend on ``workers``.
    """
    opt = optimizer if isinstance(optimizer, Optimizer) else Optimizer(optimizer)
    widths = np.asarray(widths, dtype=int)
    K = len(widths)
    if K == 0 or (widths < 1).any():
        raise ValueError("widths must be a non-empty list of positive integers")
    seeds = _broadcast(seeds, K, "seeds").astype(int)
    lrs, wds = _broadcast(lr, K, "lr"), _broadcast(weight_decay, K, "weight_decay")
    x, y = torch.as_tensor(np.asarray(x), dtype=dtype), torch.as_tensor(np.asarray(y), dtype=dtype)
    if x.dim() not in (2, 3) or x.shape[:-1] != y.shape[:-1] or (x.dim() == 3 and x.shape[0] != K):
        raise ValueError(f"x and y must be (n, d) or ({K}, n, d) with the same n; "
                         f"got {tuple(x.shape)}, {tuple(y.shape)}")
    n, d_in, d_out = x.shape[-2], x.shape[-1], y.shape[-1]
    if batch_size is not None and not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be between 1 and n = {n}, or None for full batch")
    step_n = n if batch_size is None else batch_size
    buckets = plan_buckets(widths, step_n, overhead_flops, depth, d_in, d_out)
    while len(buckets) < MIN_BUCKETS and max(map(len, buckets)) > 1:  # e.g. one width, many seeds
        big = max(buckets, key=len)
        buckets.remove(big)
        buckets += [big[0::2], big[1::2]]
    n_evals = epochs // eval_every + 1
    runs = [_Run(_Bucket(widths[idx], seeds[idx], lrs[idx], wds[idx], depth, d_in, d_out, dtype),
                 _as_inputs(x if x.dim() == 2 else x[idx]), _as_runs(y if y.dim() == 2 else y[idx]),
                 None if batch_size is None else epoch_orders(n, seeds[idx], shuffle_seed),
                 torch.full((len(idx), n_evals), float("nan"), dtype=torch.float64), np.full(len(idx), -1))
            for idx in buckets]

    order = _largest_first(buckets, widths, step_n, overhead_flops, depth, d_in, d_out)
    workers = max(1, min(workers, len(buckets)))
    settings = dict(epochs=epochs, batch_size=batch_size, eval_every=eval_every, stop_below=stop_below, opt=opt)
    bar = tqdm(total=epochs * K, desc=desc, disable=not progress, mininterval=1.0, unit=" net-epochs")
    threads_before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
            _in_processes(runs, order, workers, settings, bar)
        else:
            _in_threads(runs, order, workers, settings, bar)
    finally:
        torch.set_num_threads(threads_before)
    bar.update(bar.total - bar.n)
    bar.close()

    curve = torch.empty((K, n_evals), dtype=torch.float64)
    stopped = np.full(K, -1)
    train_mse, test_mse, params = np.empty(K), np.full(K, np.nan), [None] * K
    xt = None if x_test is None else torch.as_tensor(np.asarray(x_test), dtype=dtype)
    yt = None if y_test is None else torch.as_tensor(np.asarray(y_test), dtype=dtype)
    for idx, run in zip(buckets, runs):
        curve[idx], stopped[idx] = run.curve, run.stopped
        train_mse[idx] = _mse(run.bucket, run.X, run.Y)
        if xt is not None:
            test_mse[idx] = _mse(run.bucket, _as_inputs(xt if xt.dim() == 2 else xt[idx]),
                                 _as_runs(yt if yt.dim() == 2 else yt[idx]))
        for j, k in enumerate(idx):
            params[k] = run.bucket.params(j, int(widths[k]))
        run.bucket.free()
    return Result(widths, seeds, lrs, wds, curve.numpy(), np.arange(n_evals) * eval_every, train_mse, test_mse,
                  stopped, params)


def _in_threads(runs, order, workers, settings, bar):
    """Train the buckets in ``workers`` threads of this process, each taking the next bucket of ``order``."""
    lock = threading.Lock()

    def work(i):
        """Train bucket ``i``."""
        k = runs[i].bucket.K
        _train_bucket(runs[i], **settings, tick=lambda e: e % 100 == 0 and _locked(lock, bar.update, 100 * k))

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, order))


_FORKED: dict = {}  # what a forked worker inherits: the runs and the progress counter


def _work_in_child(i):
    """In a forked worker: train bucket ``i``; return its parameters and records."""
    torch.set_num_threads(1)
    run, counter = _FORKED["runs"][i], _FORKED["counter"]

    def tick(e):
        """Count finished network-epochs for the parent's progress bar."""
        if e % 100 == 0:
            with counter.get_lock():
                counter.value += 100 * run.bucket.K

    _train_bucket(run, **_FORKED["settings"], tick=tick)
    return run.bucket.theta.numpy(), run.curve.numpy(), run.stopped


def _in_processes(runs, order, workers, settings, bar):
    """Train the buckets in ``workers`` forked processes (Python's GIL then serialises nothing),
    each taking the next bucket of ``order`` when it is free."""
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    _FORKED.update(runs=runs, counter=counter, settings=settings)
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            futures = {i: pool.submit(_work_in_child, i) for i in order}
            while wait(futures.values(), timeout=0.5).not_done:
                bar.update(counter.value - bar.n)
            for i, f in futures.items():
                theta, curve, stopped = f.result()
                runs[i].bucket.theta.copy_(torch.from_numpy(theta))
                runs[i].curve.copy_(torch.from_numpy(curve))
                runs[i].stopped[:] = stopped
    finally:
        _FORKED.clear()


def _locked(lock, f, *args):
    """Call ``f(*args)`` holding ``lock``."""
    with lock:
        f(*args)


def _mse(bucket, X, Y) -> np.ndarray:
    """Per-network mean squared error of ``bucket`` on ``(X, Y)`` in the engine's layout."""
    return (bucket.forward(X) - Y).square_().mean(dim=(1, 2)).double().numpy()


def _gather(X, Y, cols):
    """The mini-batch ``cols`` (``(K, b)`` sample indices) of inputs and targets in transposed layout."""
    K = cols.shape[0]
    idx = cols.unsqueeze(1)
    return (X.expand(K, -1, -1).gather(2, idx.expand(-1, X.shape[1], -1)),
            Y.expand(K, -1, -1).gather(2, idx.expand(-1, Y.shape[1], -1)))


def epoch_orders(n: int, seeds, shuffle_seed: int = 0):
    """Endless sample orders, one ``(networks, n)`` array of permutations per epoch.

    Network k draws its permutations from its own generator, seeded by ``(shuffle_seed, seeds[k])``,
    so a per-network loop visits the same mini-batches.
    """
    generators = [np.random.default_rng([shuffle_seed, int(s)]) for s in np.atleast_1d(np.asarray(seeds, dtype=int))]
    while True:
        yield np.stack([g.permutation(n) for g in generators])
