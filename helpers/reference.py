"""The course's reference implementations: what the hidden tests compare answers with.

The graph of z of assignment 1 with its engine evaluation, torch.autograd's gradients of its MLP and of
its primitives, finite differences and SGD for the 1-D network of assignment 5, gradient descent for the
two-layer networks, and the ``torch.nn`` network (its parameter count, its training loop) that the
width-sweep engine reproduces. They live apart from the modules students import because they answer
graded questions: while a submission is graded, this module is withheld from its kernel (the grader's
judge has it), so an answer that calls it earns nothing. The modules that used to hold them still give
them by name (``helpers.nn.torch_forward``, ``helpers.batched.network``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .autodiff import Graph, Node
from .batched.loop import epoch_orders
from .batched.model import init_seed, layer_shapes
from .nn import Activation
from .relu1d import half_mse


def torch_loss_and_grads(x, y, params, psi: Activation):
    """MSE loss and its gradients by torch.autograd in float64, for one example or a batch.

    Returns ``(loss, [(dW1, db1), ...])`` as a Python float and numpy arrays, for checking a
    hand-written backward pass.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64))
    tensors = [(torch.tensor(W, dtype=torch.float64, requires_grad=True),
                torch.tensor(b, dtype=torch.float64, requires_grad=True)) for W, b in params]
    h = xt
    for k, (W, b) in enumerate(tensors):
        a = h @ W.T + b
        h = a if k == len(tensors) - 1 else psi.torch_f(a)
    loss = ((h - yt) ** 2).mean()
    loss.backward()
    grads = [(W.grad.numpy().copy(), b.grad.numpy().copy()) for W, b in tensors]
    return float(loss.detach()), grads


def torch_forward(x, params, psi: Activation) -> np.ndarray:
    """The network's output computed by torch in float64, for one example or a batch."""
    h = torch.as_tensor(np.asarray(x, dtype=np.float64))
    for k, (W, b) in enumerate(params):
        a = h @ torch.as_tensor(W).T + torch.as_tensor(b)
        h = a if k == len(params) - 1 else psi.torch_f(a)
    return h.numpy().copy()

_TORCH_PRIMITIVES = {
    "square": lambda x: x * x,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sum": lambda *xs: sum(xs[1:], xs[0]),
    "div": lambda x, y: x / y,
}


def torch_backward(op: str, inputs: tuple, g) -> tuple:
    """The adjoints of a primitive's inputs computed by torch.autograd (float64), as numpy arrays."""
    ts = [torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True) for x in inputs]
    out = _TORCH_PRIMITIVES[op](*ts)
    (out * torch.as_tensor(np.asarray(g, dtype=np.float64))).sum().backward()  # adjoint g, exactly
    return tuple(t.grad.numpy().copy() for t in ts)


def z_graph(a, b) -> tuple[Graph, Node]:
    """Record z(a, b) = log(b) / (1 + exp(a²) + b²) as a graph with nodes v1 … v5 and z."""
    g = Graph()
    na = g.input("a", a, "$a$")
    nb = g.input("b", b, "$b$")
    v1 = g.apply("square", na, name="v1", label="$v_1 = a^2$")
    v2 = g.apply("exp", v1, name="v2", label="$v_2 = e^{v_1}$")
    v3 = g.apply("square", nb, name="v3", label="$v_3 = b^2$")
    one = g.constant(1.0, name="one")
    v4 = g.apply("sum", one, v2, v3, name="v4", label="$v_4 = 1 + v_2 + v_3$")
    v5 = g.apply("log", nb, name="v5", label="$v_5 = \\log b$")
    z = g.apply("div", v5, v4, name="z", label="$z = v_5 / v_4$")
    return g, z


def z_and_gradients(a, b, rules: dict):
    """Evaluate z(a, b) and (∂z/∂a, ∂z/∂b) with the engine and the given backward rules."""
    g, z = z_graph(a, b)
    adjoints = g.backward(z, rules)
    return z.value, adjoints["a"], adjoints["b"]


def torch_z_and_gradients(a, b):
    """z(a, b) and its two partial derivatives by torch.autograd, elementwise over arrays."""
    at = torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)
    bt = torch.tensor(np.asarray(b, dtype=np.float64), requires_grad=True)
    z = torch.log(bt) / (1 + torch.exp(at ** 2) + bt ** 2)
    z.sum().backward()
    return z.detach().numpy(), at.grad.numpy(), bt.grad.numpy()

def numerical_gradients(x, y, theta: np.ndarray, w_h: np.ndarray, eps: float = 1e-6):
    """Central finite differences of :func:`half_mse` on ``(x, y)`` with respect to ``theta`` and ``w_h``, one entry
    at a time."""
    x, y = np.atleast_1d(np.asarray(x, dtype=float)), np.atleast_1d(np.asarray(y, dtype=float))
    params = [np.array(theta, dtype=float), np.array(w_h, dtype=float)]  # copies, perturbed in place
    grads = []
    for p in params:
        g = np.zeros(p.shape)
        for k in np.ndindex(p.shape):
            old = p[k]
            p[k] = old + eps
            up = half_mse(x, y, *params)
            p[k] = old - eps
            g[k] = (up - half_mse(x, y, *params)) / (2 * eps)
            p[k] = old
        grads.append(g)
    return grads[0], grads[1]

@dataclass
class StackResult:
    """Trained networks and their learning curves (losses at the recorded iterations, iteration 0 included)."""

    params: list  # one (theta, w_h) per network
    iterations: np.ndarray  # shape (K,): the iterations after which the losses were recorded (0: at the start)
    train_loss: np.ndarray  # shape (K, networks)
    test_loss: np.ndarray | None  # shape (K, networks), or None without test data


def _losses(x, y, T, b, W, starts):
    """½-MSE of every stacked network on ``(x, y)``."""
    h = np.maximum(np.multiply.outer(x, W[0]) + W[1], 0.0)
    out = np.maximum(np.add.reduceat(h * T, starts, axis=1) + b, 0.0)
    return 0.5 * np.mean((out - y[:, None]) ** 2, axis=0)


def train_sgd_stack(x, y, params, lr, n_iter: int, rng: np.random.Generator, x_test=None, y_test=None,
                    record=1000, progress: bool = True, desc: str = "SGD", decay=None) -> StackResult:
    """Single-sample SGD on several networks at once; returns new parameters (the inputs are not modified).

    Iteration t uses the sample ``i_t`` drawn by ``rng.integers(len(x))`` (all drawn up front, the
    same stream as one call per iteration) and updates every network with the gradient of
    ``½ (ŷ(x_i) − y_i)²`` at its current parameters: ``θ ← θ − γ_t ∇_θ``, ``w_h ← w_h − γ_t ∇_{w_h}``.
    ``lr`` (one value, or one per network) is γ; with ``decay`` τ (one value or one per network, ``None`` or
    ``inf`` for a constant step) the step of iteration t (from 0) is ``γ_t = γ / (1 + t / τ)``.
    ReLU's derivative is taken as 1 where its input is > 0, else 0. Losses are recorded at iteration 0,
    after every ``record`` iterations (an int) or after the iterations listed in ``record``, and at the end.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    widths = [p[1].shape[1] for p in params]
    starts = np.r_[0, np.cumsum(widths)[:-1]].astype(int)
    owner = np.repeat(np.arange(len(widths)), widths)  # the network each hidden unit belongs to
    W = np.concatenate([np.array(w, dtype=float) for _, w in params], axis=1)
    T = np.concatenate([np.array(t[:-1], dtype=float) for t, _ in params])
    b = np.array([float(t[-1]) for t, _ in params])
    lr_net = np.broadcast_to(np.asarray(lr, dtype=float), (len(widths),))
    tau = np.broadcast_to(np.asarray(np.inf if decay is None else decay, dtype=float), (len(widths),))
    if (lr_net <= 0).any() or (tau <= 0).any():
        raise ValueError("lr and decay must be positive")
    lr_unit, tau_unit, decaying = lr_net[owner], tau[owner], bool(np.isfinite(tau).any())
    idx = rng.integers(len(x), size=n_iter)
    every = isinstance(record, (int, np.integer))
    marks = set(range(record, n_iter + 1, record)) if every else {int(t) for t in record}
    marks.add(n_iter)
    done = [0]
    train = [_losses(x, y, T, b, W, starts)]
    test = [] if x_test is None else [_losses(np.asarray(x_test, float), np.asarray(y_test, float), T, b, W, starts)]
    w0, w1 = W[0], W[1]  # views: updated in place
    step_net, step_unit = (float(lr_net[0]), float(lr_net[0])) if (lr_net == lr_net[0]).all() and not decaying \
        else (lr_net, lr_unit)
    for t in tqdm(range(n_iter), desc=desc, disable=not progress, mininterval=0.5):
        if decaying:
            step_net, step_unit = lr_net / (1 + t / tau), lr_unit / (1 + t / tau_unit)
        xi = x[idx[t]]
        pre = w0 * xi + w1
        active = pre > 0
        h = pre * active
        pre_y = np.add.reduceat(T * h, starts) + b
        delta = (pre_y * (pre_y > 0) - y[idx[t]]) * (pre_y > 0)  # dl/dpre_y per network
        d_unit = delta[owner]
        g_pre = d_unit * T * active
        T -= step_unit * d_unit * h
        b -= step_net * delta
        w0 -= (step_unit * xi) * g_pre
        w1 -= step_unit * g_pre
        if t + 1 in marks:
            done.append(t + 1)
            train.append(_losses(x, y, T, b, W, starts))
            if x_test is not None:
                test.append(_losses(np.asarray(x_test, float), np.asarray(y_test, float), T, b, W, starts))
    out = [(np.r_[T[s:s + m], b[k]], W[:, s:s + m].copy()) for k, (s, m) in enumerate(zip(starts, widths))]
    return StackResult(out, np.array(done), np.array(train), None if x_test is None else np.array(test))

@dataclass
class GDRun:
    """One gradient-descent run: the loss before every step, snapshots ``{step: (W, a)}`` and the final parameters."""

    losses: np.ndarray
    snapshots: dict
    W: np.ndarray
    a: np.ndarray


def train_gd(X, y, W, a, lr: float, steps: int, snapshots=(), desc: str | None = None) -> GDRun:
    """Full-batch gradient descent on ``L`` from ``(W, a)`` (not modified); snapshots may be at 0 and ``steps``."""
    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
    W, a = np.array(W, dtype=float), np.array(a, dtype=float)
    n = len(y)
    want = set(int(s) for s in snapshots)
    snaps, losses = {}, np.empty(steps)
    for t in tqdm(range(steps), desc=desc, disable=desc is None, mininterval=0.5):
        if t in want:
            snaps[t] = (W.copy(), a.copy())
        pre = W @ X.T  # (m, n)
        h = np.maximum(pre, 0.0)
        r = h.T @ a - y
        losses[t] = 0.5 * (r @ r) / n
        g_a = h @ r / n
        g_W = ((pre > 0) * r) @ X * (a[:, None] / n)
        a -= lr * g_a
        W -= lr * g_W
    if steps in want:
        snaps[steps] = (W.copy(), a.copy())
    return GDRun(losses, snaps, W, a)

def n_params(M: int, depth: int = 2, d_in: int = 8, d_out: int = 8) -> int:
    """Number of weights and biases of the network of width ``M``."""
    return sum(o * i + o for o, i in layer_shapes(M, depth, d_in, d_out))


def network(M: int, depth: int = 2, d_in: int = 8, d_out: int = 8, seed: int = 0,
            dtype=torch.float32) -> nn.Sequential:
    """The ``torch.nn`` network of width ``M`` with the engine's initialisation for ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed(seed, M))
        layers = []
        for k, (o, i) in enumerate(layer_shapes(M, depth, d_in, d_out)):
            layers += [nn.Linear(i, o, dtype=dtype)] + ([nn.ReLU()] if k < depth else [])
        return nn.Sequential(*layers)

def reference_train(M: int, x, y, *, epochs: int, lr: float = 1e-3, optimizer: str = "adam", depth: int = 2,
                    seed: int = 0, weight_decay: float = 0.0, batch_size: int | None = None,
                    shuffle_seed: int = 0, lr_schedule=None,
                    dtype=torch.float64) -> tuple[nn.Sequential, list[float]]:
    """One network trained alone with ``torch.nn`` and ``torch.optim`` (the per-model loop the engine replaces).

    Returns the trained network and the training loss of every step (before that step's update).
    ``lr_schedule(e)`` scales the learning rate of epoch ``e`` (``torch.optim.lr_scheduler.LambdaLR``).
    """
    x, y = torch.as_tensor(np.asarray(x), dtype=dtype), torch.as_tensor(np.asarray(y), dtype=dtype)
    net = network(M, depth, x.shape[1], y.shape[1], seed, dtype)
    cls = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    opt = cls(net.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = None if lr_schedule is None else torch.optim.lr_scheduler.LambdaLR(opt, lr_schedule)
    loss_fn = nn.MSELoss()
    n = x.shape[0]
    orders = epoch_orders(n, [seed], shuffle_seed) if batch_size else None
    losses = []
    for _ in range(epochs):
        order = next(orders)[0] if batch_size else None
        batches = [slice(None)] if batch_size is None else [order[s:s + batch_size] for s in range(0, n, batch_size)]
        for sel in batches:
            opt.zero_grad()
            loss = loss_fn(net(x[sel]), y[sel])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if scheduler is not None:
            scheduler.step()
    return net, losses
