"""SGD on the modified loss of Smith et al. (2021), with its penalty added explicitly, for many networks at once.

On mini-batch ``b`` the step is ``θ ← θ − μ (∇J_b + (λ/2) H_b ∇J_b)``, the gradient of
``J_b + (λ/4)‖∇J_b‖²``; over an epoch of equal batches the steps follow
``J + (λ/4)(‖∇J‖² + mean_b ‖∇J_b − ∇J‖²)``. The Hessian-vector product ``H_b ∇J_b`` is computed exactly, by
differentiating the hand-written backward pass along the gradient (Pearlmutter's R-operator), which
is what double backpropagation computes (a test compares the two). The networks, their initialisation
and their mini-batch orders are those of :func:`helpers.batched.train`; with ``λ = 0`` the runs are the
engine's plain SGD runs (a test compares them).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .batched.loop import epoch_orders
from .batched.model import Result
from .batched.parallel import map_parts


def _forward(W, b, X):
    """Pre-activations of every layer (the last one is the output) for inputs ``X`` ``(K, d, n)``."""
    Z, h = [], X
    for l, (Wl, bl) in enumerate(zip(W, b)):
        Z.append(torch.baddbmm(bl, Wl, h))
        h = Z[-1].clamp_min(0) if l < len(W) - 1 else Z[-1]
    return Z


def _activations(X, Z):
    """Each layer's input: ``X``, then the ReLU of every hidden pre-activation."""
    return [X] + [z.clamp_min(0) for z in Z[:-1]]


def _backward(W, H, Z, G):
    """Gradients ``(dW, db)`` and the gradient ``G_l`` at every layer's output, from ``G`` = dLoss/dOutput."""
    dW, db, Gs = [None] * len(W), [None] * len(W), [None] * len(W)
    for l in range(len(W) - 1, -1, -1):
        Gs[l] = G
        dW[l], db[l] = torch.bmm(G, H[l].transpose(1, 2)), G.sum(2, keepdim=True)
        if l:
            G = torch.bmm(W[l].transpose(1, 2), G) * (Z[l - 1] > 0)
    return dW, db, Gs


def gradient(W, b, X, Y):
    """Per-network mean-squared-error loss and its gradients, with what :func:`hvp` needs."""
    Z = _forward(W, b, X)
    H = _activations(X, Z)
    residual = Z[-1] - Y
    loss = residual.square().mean(dim=(1, 2))
    dW, db, Gs = _backward(W, H, Z, residual * (2.0 / (Y.shape[1] * Y.shape[2])))
    return loss, dW, db, (H, Z, Gs)


def hvp(W, cache, VW, Vb, n_out: int):
    """Hessian of each network's loss times the direction ``(VW, Vb)``, from :func:`gradient`'s ``cache``."""
    H, Z, Gs = cache
    c = 2.0 / n_out
    RH, L = [torch.zeros_like(H[0])], len(W)
    for l in range(L):  # the directional derivative of the forward pass
        RZ = torch.baddbmm(Vb[l], VW[l], H[l])
        if l:
            RZ = RZ.baddbmm_(W[l], RH[l])
        RH.append(RZ * (Z[l] > 0) if l < L - 1 else RZ)
    RG = RH[L] * c
    HW, Hb = [None] * L, [None] * L
    for l in range(L - 1, -1, -1):  # ... and of the backward pass
        HW[l] = torch.bmm(RG, H[l].transpose(1, 2))
        if l:
            HW[l].baddbmm_(Gs[l], RH[l].transpose(1, 2))
        Hb[l] = RG.sum(2, keepdim=True)
        if l:
            RG = (torch.bmm(VW[l].transpose(1, 2), Gs[l]) + torch.bmm(W[l].transpose(1, 2), RG)) * (Z[l - 1] > 0)
    return HW, Hb


def _stack(models, dtype):
    """The Linear layers of ``models`` as per-layer stacks ``W (K, out, in)`` and ``b (K, out, 1)``."""
    layers = [[m for m in net if isinstance(m, torch.nn.Linear)] for net in models]
    W = [torch.stack([net[l].weight.detach().to(dtype) for net in layers]) for l in range(len(layers[0]))]
    b = [torch.stack([net[l].bias.detach().to(dtype)[:, None] for net in layers]) for l in range(len(layers[0]))]
    return W, b


def _train_part(part, tick):
    """Train the networks of ``part`` (a dict of their stacked parameters, data and settings); see :func:`train`."""
    W, b, X, Y, lr, reg = (part[k] for k in ("W", "b", "X", "Y", "lr", "reg"))
    epochs, eval_every, stop_below, batch_size = (part[k] for k in ("epochs", "eval_every", "stop_below", "batch_size"))
    orders, K, n = part["orders"], X.shape[0], X.shape[2]
    d_in, d_out = X.shape[1], Y.shape[1]
    curve, stopped = np.full((K, epochs // eval_every + 1), np.nan), np.full(K, -1)
    rows, final = np.arange(K), [None] * K

    def save(j):
        """Store network ``rows[j]``'s parameters as float64 numpy ``[(W, b), ...]``."""
        final[rows[j]] = [(Wl[j].numpy().copy(), bl[j, :, 0].numpy().copy()) for Wl, bl in zip(W, b)]

    for e in range(epochs + 1):
        if e % eval_every == 0:
            mse = (_forward(W, b, X)[-1] - Y).square().mean(dim=(1, 2)).numpy()
            curve[rows, e // eval_every] = mse
            done = mse < stop_below if stop_below is not None else np.zeros(len(rows), bool)
            for j in np.flatnonzero(done):
                stopped[rows[j]] = e
                curve[rows[j], e // eval_every:] = mse[j]
                save(j)
            if done.any():
                keep = torch.as_tensor(np.flatnonzero(~done))
                W, b = [t[keep] for t in W], [t[keep] for t in b]
                X, Y, lr, reg = X[keep], Y[keep], lr[keep], reg[keep]
                orders.keep(keep.numpy())
                rows = rows[~done]
            if not len(rows):
                break
        if e == epochs:
            break
        perm = torch.from_numpy(next(orders))
        for s in range(0, n, batch_size):
            idx = perm[:, s:s + batch_size].unsqueeze(1)
            Xb, Yb = X.gather(2, idx.expand(-1, d_in, -1)), Y.gather(2, idx.expand(-1, d_out, -1))
            _, dW, db, cache = gradient(W, b, Xb, Yb)
            HW, Hb = hvp(W, cache, dW, db, d_out * Xb.shape[2])
            step, curvature = lr, lr * reg / 2
            for p, g, h in zip(W + b, dW + db, HW + Hb):
                p.sub_(g.mul_(step)).sub_(h.mul_(curvature))
        if (e + 1) % 20 == 0:
            tick(20 * len(rows))
    for j in range(len(rows)):
        save(j)
    return curve, stopped, final


def mse(params, x, y) -> float:
    """The MSE of one network ``[(W, b), ...]`` on ``(x, y)`` in float64."""
    h = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    for l, (Wl, bl) in enumerate(params):
        h = h @ torch.from_numpy(Wl).T + torch.from_numpy(bl)
        h = h.clamp_min(0) if l < len(params) - 1 else h
    return float((h - torch.as_tensor(np.asarray(y), dtype=torch.float64)).square().mean())


def train(width: int, x, y, *, lr, reg, seeds, epochs: int, batch_size: int, depth: int, x_test=None, y_test=None,
          stop_below: float | None = None, eval_every: int = 1, shuffle_seed: int = 0, workers: int = 2,
          progress: bool = True, desc: str = "explicit regulariser") -> Result:
    """Train one network per seed with SGD on ``J_b + (reg/4)‖∇J_b‖²``, in float64; arguments as
    :func:`helpers.batched.train`.

    ``x``, ``y``: ``(K, n, d)``, one data set per network; ``lr``, ``reg``, ``seeds``: one value per network
    (or a scalar). The stopping rule and the recorded curves are the engine's; the networks are shared between
    ``workers`` processes.
    """
    from .reference import network  # each network starts where torch.nn (and the engine) would start it

    dtype = torch.float64
    x, y = torch.as_tensor(np.asarray(x), dtype=dtype), torch.as_tensor(np.asarray(y), dtype=dtype)
    if x.dim() != 3 or y.dim() != 3 or x.shape[:2] != y.shape[:2]:
        raise ValueError("x and y must be (K, n, d) with one data set per network")
    K, n, d_in = x.shape
    seeds = np.broadcast_to(np.asarray(seeds, dtype=int), (K,)).copy()
    lrs = np.broadcast_to(np.asarray(lr, float), (K,)).copy()
    regs = np.broadcast_to(np.asarray(reg, float), (K,)).copy()
    W, b = _stack([network(width, depth, d_in, y.shape[2], int(s), dtype) for s in seeds], dtype)
    X, Y = x.transpose(1, 2).contiguous(), y.transpose(1, 2).contiguous()
    halves = [h for h in np.array_split(np.arange(K), max(1, min(workers, K))) if len(h)]
    parts = [dict(W=[t[h].clone() for t in W], b=[t[h].clone() for t in b], X=X[h], Y=Y[h],
                  lr=torch.as_tensor(lrs[h], dtype=dtype).view(-1, 1, 1),
                  reg=torch.as_tensor(regs[h], dtype=dtype).view(-1, 1, 1),
                  orders=epoch_orders(n, seeds[h], shuffle_seed),
                  epochs=epochs, eval_every=eval_every, stop_below=stop_below, batch_size=batch_size) for h in halves]
    with tqdm(total=epochs * K, desc=desc, disable=not progress, mininterval=1.0, unit=" net-epochs") as bar:
        done = map_parts(_train_part, parts, len(parts), bar)
        bar.update(bar.total - bar.n)
    curve = np.concatenate([c for c, _, _ in done])
    stopped = np.concatenate([s for _, s, _ in done])
    final = [p for _, _, ps in done for p in ps]
    train_mse = np.array([mse(final[k], x[k], y[k]) for k in range(K)])
    test_mse = np.full(K, np.nan) if x_test is None else np.array([mse(p, x_test, y_test) for p in final])
    return Result(widths=np.full(K, width), seeds=seeds, lr=lrs, weight_decay=np.zeros(K), train_curve=curve,
                  eval_epochs=np.arange(epochs // eval_every + 1) * eval_every, train_mse=train_mse,
                  test_mse=test_mse, stopped_epoch=stopped, params=final)
