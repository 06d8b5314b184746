"""A bucket: K networks padded to one width, their forward and backward passes and their optimiser step.

Each layer's weights and bias are stored together, bias last, as one ``(K, out, in + 1)`` block; the
layer's input carries a last row of ones, so that the layer is one batched matrix product and its
weight gradient includes the bias gradient. The first layer's block is stored transposed across the
bucket, as ``(in + 1, K·out)``: with inputs shared by the bucket, its forward pass and its weight
gradient are then one wide product each. All blocks live in one flat tensor, so that the optimiser
updates the whole bucket in one pass.

The matrix products go through ``numpy.matmul`` on numpy views of the same memory, the element-wise
passes and the optimiser through torch: at these small shapes numpy's BLAS ran the products faster
than ``torch.bmm`` where it was measured (``make bench-sweep`` prints both rates).

Zero padding is exact: a padded unit has zero weights in and out and zero bias, so its
pre-activation is 0, ReLU's derivative there is 0 (as in torch), its gradients are 0, and Adam and
SGD leave it at 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.optim.adam import adam

from .model import Optimizer, layer_shapes

_relu_backward_ = torch.ops.aten.threshold_backward.grad_input  # gradient where the activation is > 0, else 0


class Buffers:
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
        self.nZ, self.nH, self.nHT = ([t.numpy() for t in ts] for ts in (self.Z, self.H, self.HT))
        self.nout = self.out.numpy()


class Bucket:
    """K networks padded to width P, with their parameters, gradients and optimiser state as flat tensors."""

    def __init__(self, widths, seeds, lr, weight_decay, depth, d_in, d_out, dtype):
        from ..reference import network  # each network starts where torch.nn would start it

        P = max(int(M) for M in widths)
        self.shapes = layer_shapes(P, depth, d_in, d_out)
        self._allocate(len(widths), dtype)
        for k, (M, s) in enumerate(zip(widths, seeds)):
            linears = [m for m in network(int(M), depth, d_in, d_out, int(s), dtype) if isinstance(m, nn.Linear)]
            for W, b, lin in zip(self.W, self.b, linears):
                o, i = lin.weight.shape
                W[k, :o, :i] = lin.weight.detach()
                b[k, :o, 0] = lin.bias.detach()
        self.lrs, self.wds = np.asarray(lr, dtype=float), np.asarray(weight_decay, dtype=float)
        self.step_count = 0
        self._settings()

    def _allocate(self, K: int, dtype):
        """Zeroed parameters, gradients and optimiser state for ``K`` networks, with their layer views."""
        self.K = K
        self.theta = torch.zeros(K * sum(o * (i + 1) for o, i in self.shapes), dtype=dtype)
        self.grad = torch.zeros_like(self.theta)
        self.m = torch.zeros_like(self.theta)
        self.v = torch.zeros_like(self.theta)
        self.Wb, self.dWb = self._blocks(self.theta), self._blocks(self.grad)
        self.W0T, self.dW0T = self._first(self.theta), self._first(self.grad)
        self.W = [B[..., :-1] for B in self.Wb]
        self.b = [B[..., -1:] for B in self.Wb]
        self.WT = [W.transpose(1, 2) for W in self.W]
        self.nWb, self.ndWb, self.nWT = ([t.numpy() for t in ts] for ts in (self.Wb, self.dWb, self.WT))
        self.nW0T, self.ndW0T = self.W0T.numpy(), self.dW0T.numpy()
        self._buffers = {}
        self.buf = self.X = None

    def _settings(self):
        """The learning rates and decays as the optimiser uses them: scalars when every network shares them
        (then torch's fused kernels update the bucket in one pass), else one value per parameter."""
        self.uniform = bool((self.lrs == self.lrs[0]).all() and (self.wds == self.wds[0]).all())
        self.lr0, self.wd0 = float(self.lrs[0]), float(self.wds[0])
        self.lr = None if self.uniform else self._per_element(self.lrs)
        self.wd = None if self.uniform else self._per_element(self.wds)
        self.step_tensor = torch.tensor(float(self.step_count), dtype=torch.float32)

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

    def _per_element(self, per_net):
        """Spread one value per network over every parameter of that network (flat layout)."""
        out = torch.empty_like(self.theta)
        values = torch.as_tensor(per_net, dtype=self.theta.dtype)
        for B in self._blocks(out):
            B.copy_(values.view(-1, 1, 1).expand_as(B))
        return out

    def keep(self, rows):
        """Keep only the networks ``rows`` (indices into this bucket, in order): the others stop costing."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        old = [self._blocks(t) for t in (self.theta, self.m, self.v)]
        self._allocate(len(rows), self.theta.dtype)
        for new, blocks in zip((self.theta, self.m, self.v), old):
            for dst, src in zip(self._blocks(new), blocks):
                dst.copy_(src.index_select(0, rows))
        self.lrs, self.wds = self.lrs[rows.numpy()], self.wds[rows.numpy()]
        self._settings()

    def _buffers_for(self, n: int) -> Buffers:
        """The activation buffers for ``n`` samples, made on first use."""
        if n not in self._buffers:
            self._buffers[n] = Buffers(self.K, self.shapes, n, self.theta.dtype)
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
        Xn, last = X.numpy(), len(self.Wb) - 1
        for l, Wb in enumerate(self.nWb):
            out = buf.nout if l == last else buf.nZ[l]
            if l == 0 and X.shape[0] == 1:
                np.matmul(self.nW0T.T, Xn[0], out=out.reshape(-1, out.shape[2]))
            else:
                np.matmul(Wb, Xn if l == 0 else buf.nH[l - 1], out=out)
            if l < last:
                torch.clamp_min(buf.Z[l], 0, out=buf.h[l])
        return buf.out

    def backward(self, G):
        """Write the gradients of the loss into ``self.grad`` from ``G`` = dLoss/dOutput ``(K, d_out, n)``.

        The gradient flowing into a hidden layer overwrites that layer's pre-activations; ReLU's
        derivative comes from the activation (> 0 exactly where the pre-activation is).
        """
        buf, X = self.buf, self.X
        Gn = G.numpy()
        for l in range(len(self.Wb) - 1, 0, -1):
            np.matmul(Gn, buf.nHT[l - 1], out=self.ndWb[l])
            np.matmul(self.nWT[l], Gn, out=buf.nZ[l - 1])
            _relu_backward_(buf.Z[l - 1], buf.h[l - 1], 0, grad_input=buf.Z[l - 1])
            Gn = buf.nZ[l - 1]
        if X.shape[0] == 1:  # shared inputs: the first layer's gradient for the whole bucket in one product
            np.matmul(X[0].numpy(), Gn.reshape(-1, Gn.shape[2]).T, out=self.ndW0T)
        else:
            np.matmul(Gn, X.numpy().transpose(0, 2, 1), out=self.ndWb[0])

    def step(self, opt: Optimizer, scale: float = 1.0):
        """One optimiser step on every network of the bucket (torch.optim rules), learning rates times ``scale``."""
        g = self.grad
        if opt.name == "adam":
            self.step_count += 1
            if self.uniform:  # torch's fused Adam, as torch.optim.Adam(fused=True) runs it
                adam([self.theta], [g], [self.m], [self.v], [], [self.step_tensor], fused=True, amsgrad=False,
                     beta1=opt.betas[0], beta2=opt.betas[1], lr=self.lr0 * scale, weight_decay=self.wd0, eps=opt.eps,
                     maximize=False)
                return
            b1, b2 = opt.betas
            if self.wds.any():
                g = g.addcmul(self.wd, self.theta)
            self.m.lerp_(g, 1 - b1)
            self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (self.v.sqrt() / (1 - b2 ** self.step_count) ** 0.5).add_(opt.eps)
            self.theta.addcdiv_(self.m * self.lr, denom, value=-scale / (1 - b1 ** self.step_count))
        elif self.uniform:  # plain SGD, as torch.optim.SGD: g + wd θ, then θ − lr g
            if self.wd0:
                g.add_(self.theta, alpha=self.wd0)
            self.theta.add_(g, alpha=-self.lr0 * scale)
        else:
            if self.wds.any():
                g.addcmul_(self.wd, self.theta)
            self.theta.addcmul_(self.lr, g, value=-scale)

    def params(self, k: int, M: int):
        """The parameters of network ``k`` (true width ``M``) as float64 numpy arrays."""
        out = []
        for (o, i), W, b in zip(layer_shapes(M, len(self.W) - 1, self.W[0].shape[2], self.W[-1].shape[1]),
                                self.W, self.b):
            out.append((W[k, :o, :i].double().numpy().copy(), b[k, :o, 0].double().numpy().copy()))
        return out
