"""Known-wrong answers for assignment 1 (autodiff by hand)."""

from . import Wrong

Z = ("test_z", "test_dz_da", "test_dz_db")
D = ("test_dz_da", "test_dz_db")

G = ("test_graph",)

WRONG = [
    # 1a: the graph (first: it passes the visible test and fails only the hidden one, as tests of feedback need)
    Wrong("graph", '"v4": ("sum", [1.0, "v2", "v3"]),',
          '"w": ("sum", [1.0, "v2"]),\n        "v4": ("sum", ["w", "v3"]),', G,
          "the right function through another graph (a sum split in two)"),
    Wrong("graph", '"v4": ("sum", [1.0, "v2", "v3"])', '"v4": ("sum", ["v2", "v3"])', G, "forgets the constant 1"),
    Wrong("graph", '"z": ("div", ["v5", "v4"])', '"z": ("div", ["v4", "v5"])', G, "divides the wrong way round"),
    Wrong("graph", '"v3": ("square", ["b"])', '"v3": ("square", ["a"])', G, "squares a where b is squared"),
    # 1c: the numbers, as a function of (a, b)
    Wrong("numbers", "v5 = np.log(b)", "v5 = np.log10(b)", Z, "log10 instead of the natural log"),
    Wrong("numbers", "v4 = 1.0 + v2 + v3", "v4 = v2 + v3", Z, "forgets the 1 in the denominator"),
    Wrong("numbers", "v2 = np.exp(v1)", "v2 = np.exp(a)", Z, "exp(a) instead of exp(a^2)"),
    Wrong("numbers", "v4_bar = -v5 / v4**2", "v4_bar = v5 / v4**2", D, "sign error in the adjoint of v4"),
    Wrong("numbers", "a_bar = 2 * a * v1_bar", "a_bar = v1_bar", ("test_dz_da",),
          "missing chain-rule factor 2a"),
    Wrong("numbers", "v5_bar / b + 2 * b * v3_bar", "2 * b * v3_bar", ("test_dz_db",),
          "drops the path of b through log b"),
    Wrong("numbers", "v5_bar / b + 2 * b * v3_bar", "v5_bar / b", ("test_dz_db",),
          "drops the path of b through b^2"),
    # 1c: backward rules
    Wrong("rules", "(2.0 * x * g,)", "(x * g,)", ("test_rules_unary", "test_engine"), "square: missing factor 2"),
    Wrong("rules", "(out * g,)", "(inputs[0] * g,)", ("test_rules_unary", "test_engine"),
          "exp: uses the input instead of exp(input)"),
    Wrong("rules", "(g / x,)", "(1.0 / x,)", ("test_rules_unary", "test_engine"), "log: forgets the output adjoint g"),
    Wrong("rules", "(g / y, -g * x / y**2)", "(g / y, g * x / y**2)", ("test_rules_binary", "test_engine"),
          "div: sign error for the denominator"),
    Wrong("rules", "(g / y, -g * x / y**2)", "(1.0 / y, -x / y**2)", ("test_rules_binary",),
          "div: missing chain-rule factor g (invisible end to end: z is the output, so g = 1)"),
    Wrong("rules", "g * np.ones_like(x) for x in inputs", "g / len(inputs) * np.ones_like(x) for x in inputs",
          ("test_rules_binary", "test_engine"), "sum: averages instead of passing g to every input"),
    Wrong("rules", "return tuple(g * np.ones_like(x) for x in inputs)", "return (g,)",
          ("test_rules_binary", "test_engine"), "sum: one adjoint instead of one per input"),
    # 2c: one example
    Wrong("mlp_forward", "return W @ h + b", "return W @ h", ("test_mlp_forward",), "forgets the output bias"),
    Wrong("mlp_forward", "return W @ h + b", "return psi(W @ h + b)", ("test_mlp_forward",),
          "activation on the linear output"),
    Wrong("mlp_forward", "h = psi(W @ h + b)", "h = psi(h @ W + b)", ("test_mlp_forward",), "transposed weights"),
    Wrong("mlp_forward", "h = psi(W @ h + b)", "h = W @ psi(h) + b", ("test_mlp_forward",),
          "activation before the affine map"),
    Wrong("mlp_backward", "e = W @ hs[-1] + b - y", "e = y - (W @ hs[-1] + b)", ("test_mlp_backward",),
          "sign error: e = y - y_hat"),
    Wrong("mlp_backward", " * psi.df(pre[k - 1])", "", ("test_mlp_backward",), "missing psi' factor"),
    Wrong("mlp_backward", "delta = 2.0 * e / e.size", "delta = 2.0 * e", ("test_mlp_backward",),
          "gradient of the sum instead of the mean"),
    Wrong("mlp_backward", "np.outer(delta, hs[k])", "np.outer(hs[k], delta)", ("test_mlp_backward",),
          "transposed weight gradient"),
    Wrong("mlp_backward", "delta = 2.0 * e / e.size", "delta = e / e.size", ("test_mlp_backward",),
          "missing factor 2 of the square"),
    # 2d: a batch
    Wrong("mlp_forward_batch", "return H @ W.T + b", "return H @ W.T", ("test_mlp_forward_batch",),
          "forgets the output bias"),
    Wrong("mlp_forward_batch", "return H @ W.T + b", "return psi(H @ W.T + b)", ("test_mlp_forward_batch",),
          "activation on the linear output"),
    Wrong("mlp_forward_batch", "H = psi(H @ W.T + b)", "H = psi(H @ W + b)", ("test_mlp_forward_batch",),
          "transposed weights"),
    Wrong("mlp_backward_batch", "Delta = 2.0 * E / E.size", "Delta = 2.0 * E / E.shape[1]",
          ("test_mlp_backward_batch",), "sums over the batch instead of averaging"),
    Wrong("mlp_backward_batch", " * psi.df(pre[k - 1])", "", ("test_mlp_backward_batch",), "missing psi' factor"),
    Wrong("mlp_backward_batch", "(Delta.T @ Hs[k], Delta.sum(axis=0))", "(Hs[k].T @ Delta, Delta.sum(axis=0))",
          ("test_mlp_backward_batch",), "transposed weight gradient"),
    Wrong("mlp_backward_batch", "Delta.sum(axis=0)", "Delta.mean(axis=0)", ("test_mlp_backward_batch",),
          "bias gradient averaged a second time"),
    # 2e: operation counts
    Wrong("op_counts", "weights = I * L + (K - 1) * L * L + L * O", "weights = I * L + K * L * L + L * O",
          ("test_op_counts",), "K hidden-to-hidden products instead of K - 1"),
    Wrong("op_counts", "propagation = (K - 1) * L * L + L * O", "propagation = I * L + (K - 1) * L * L + L * O",
          ("test_op_counts",), "propagates the error into the input"),
    Wrong("op_counts", '{"forward": B * weights, "backward": B * (weights + propagation)}',
          '{"forward": weights, "backward": weights + propagation}', ("test_op_counts",), "ignores the batch size"),
    Wrong("op_counts", "B * (weights + propagation)", "B * 2 * weights", ("test_op_counts",),
          "backward taken as twice the forward"),
]

_AUTOGRAD_MLP = '''import numpy as np
import torch


def _by_autograd(x, y, params, psi):
    ps = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    h = torch.as_tensor(np.asarray(x, dtype=float))
    for k, (W, b) in enumerate(ps):
        a = h @ W.T + b
        h = a if k == len(ps) - 1 else getattr(torch.nn.functional, psi.torch_name)(a)
    loss = ((h - torch.as_tensor(np.asarray(y, dtype=float))) ** 2).mean()
    loss.backward()
    return float(loss), [(W.grad.numpy(), b.grad.numpy()) for W, b in ps]


def {name}(x, y, params, psi):
    return _by_autograd(x, y, params, psi)
'''

SHORTCUTS = {
    "reference": {  # the course's own torch references, as the visible checks call them
        "graph": "from helpers.autodiff import z_graph\ndef z_nodes():\n"
                 "    return {n.name: (n.op, [p.value if p.constant else p.name for p in n.inputs])\n"
                 "            for n in z_graph(1.0, 2.0)[0].nodes if n.op}\n",
        "numbers": "from helpers.autodiff import torch_backward, z_graph\ndef forward_backward(a, b):\n"
                   "    rules = {op: (lambda op: lambda inputs, out, g: torch_backward(op, inputs, g))(op)\n"
                   "             for op in ('square', 'exp', 'log', 'sum', 'div')}\n"
                   "    graph, z = z_graph(a, b)\n    adjoints = graph.backward(z, rules)\n"
                   "    values = {n.name: n.value for n in graph.nodes if n.op}\n"
                   "    return values, {k: float(v) for k, v in adjoints.items() if k in ('a', 'b') or k in values}\n",
        "rules": "from helpers.autodiff import torch_backward\n"
                 "rules = {op: (lambda op: lambda inputs, out, g: torch_backward(op, inputs, g))(op)\n"
                 "         for op in ('square', 'exp', 'log', 'sum', 'div')}\n",
        "mlp_forward": "import helpers.nn\ndef mlp_forward(x, params, psi):\n"
                       "    return helpers.nn.torch_forward(x, params, psi)\n",
        "mlp_backward": "from helpers.nn import torch_loss_and_grads\ndef mlp_backward(x, y, params, psi):\n"
                        "    return torch_loss_and_grads(x, y, params, psi)\n",
        "mlp_backward_batch": "from helpers.reference import torch_loss_and_grads\n"
                              "def mlp_backward_batch(X, Y, params, psi):\n"
                              "    return torch_loss_and_grads(X, Y, params, psi)\n",
    },
    "autograd": {  # torch.autograd written out in the answers
        "numbers": "import torch\ndef forward_backward(a, b):\n"
                   "    at = torch.tensor(a, dtype=torch.float64, requires_grad=True)\n"
                   "    bt = torch.tensor(b, dtype=torch.float64, requires_grad=True)\n"
                   "    v = {'v1': at ** 2}\n    v['v2'] = torch.exp(v['v1'])\n    v['v3'] = bt ** 2\n"
                   "    v['v4'] = 1 + v['v2'] + v['v3']\n    v['v5'] = torch.log(bt)\n    v['z'] = v['v5'] / v['v4']\n"
                   "    for t in v.values():\n        t.retain_grad()\n    v['z'].backward()\n"
                   "    adjoints = {k: float(t.grad) for k, t in v.items() if k != 'z'}\n"
                   "    return {k: float(t.detach()) for k, t in v.items()}, {**adjoints, 'a': float(at.grad),"
                   " 'b': float(bt.grad)}\n",
        "mlp_backward": _AUTOGRAD_MLP.format(name="mlp_backward"),
        "mlp_backward_batch": _AUTOGRAD_MLP.format(name="mlp_backward_batch"),
    },
}
"""Answers that delegate the work done by hand to the course's reference code or to torch.autograd."""
