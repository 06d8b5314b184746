"""Known-wrong answers for assignment 5 (simplicity bias)."""

from . import Wrong

H_BAR = "h_bar = np.concatenate([np.maximum(pre_h, 0.0), np.ones((len(x), 1))], axis=1)"
DELTA = "delta = (y_hat[0] - y) * (pre_y[0] > 0)"
GW = "grad_w_h = delta * np.outer([x, 1.0], theta[:-1] * (pre_h[0] > 0))"
BDELTA = "delta = (y_hat - y) * (pre_y > 0) / len(x)"
BGW = "grad_w_h = x_bar.T @ (np.outer(delta, theta[:-1]) * (pre_h > 0))"
THETA = "theta = rng.uniform(-1 / np.sqrt(m), 1 / np.sqrt(m), size=m + 1)"
ANGLE = "angle = rng.uniform(0.0, 2 * np.pi, size=m)"
WH = "w_h = np.stack([np.cos(angle), np.sin(angle)]) / np.sqrt(m)"
STEP = ("        g_theta, g_w = grad_sample(x[i], y[i], theta, w_h)\n        theta -= lr * g_theta\n"
        "        w_h -= lr * g_w\n")
STEP_SEQUENTIAL = ("        g_theta, _ = grad_sample(x[i], y[i], theta, w_h)\n        theta -= lr * g_theta\n"
                   "        _, g_w = grad_sample(x[i], y[i], theta, w_h)\n        w_h -= lr * g_w\n")
DEAD = "return bool(np.all(pre_y <= 0))"
OLS_TRAIN = "train = noise_var * (n - d) / (2 * n)"
OLS_TEST = "test = noise_var / 2 * (1 + d / (n - d - 1))"
RATES = "return np.abs(y) * np.linalg.norm(X, axis=1) / len(y)"
NORM = "return float(2 * np.sum(np.abs(y) / np.linalg.norm(X, axis=1)))"

WRONG = [
    # forward
    Wrong("forward", "y_hat = np.maximum(pre_y, 0.0)", "y_hat = pre_y", ("test_forward",),
          "no ReLU on the output"),
    Wrong("forward", H_BAR, "h_bar = np.concatenate([np.ones((len(x), 1)), np.maximum(pre_h, 0.0)], axis=1)",
          ("test_forward",), "the intercept of the hidden layer put first"),
    Wrong("forward", H_BAR, "h_bar = np.concatenate([pre_h, np.ones((len(x), 1))], axis=1)", ("test_forward",),
          "no ReLU on the hidden layer"),
    Wrong("forward", "x_bar = np.stack([x, np.ones_like(x)], axis=1)", "x_bar = np.stack([np.ones_like(x), x], axis=1)",
          ("test_forward",), "x̄ = (1, x): weights and intercepts swapped"),
    # grad_sample
    Wrong("grad_sample", DELTA, "delta = y_hat[0] - y", ("test_grad_sample",),
          "forgets the derivative of the output ReLU"),
    Wrong("grad_sample", GW, "grad_w_h = delta * np.outer([x, 1.0], theta[:-1])", ("test_grad_sample",),
          "forgets the derivative of the hidden ReLU"),
    Wrong("grad_sample", DELTA, "delta = (y - y_hat[0]) * (pre_y[0] > 0)", ("test_grad_sample",),
          "gradient of the wrong sign"),
    Wrong("grad_sample", "grad_theta = delta * h_bar[0]",
          "grad_theta = delta * np.append(np.maximum(pre_h[0], 0), 0.0)",
          ("test_grad_sample",), "no gradient for the output intercept"),
    Wrong("grad_sample", GW, "grad_w_h = delta * np.outer([x, 0.0], theta[:-1] * (pre_h[0] > 0))",
          ("test_grad_sample",), "no gradient for the hidden intercepts"),
    Wrong("grad_sample", DELTA, "return relu1d.numerical_gradients(x, y, theta, w_h)", ("test_grad_sample",),
          "finite differences instead of the gradient: right only to about 1e-9"),
    # grad_batch
    Wrong("grad_batch", BDELTA, "delta = (y_hat - y) * (pre_y > 0)", ("test_grad_batch",),
          "sum of the per-sample gradients instead of their mean"),
    Wrong("grad_batch", BDELTA, "delta = (y_hat - y) / len(x)", ("test_grad_batch",),
          "forgets the derivative of the output ReLU"),
    Wrong("grad_batch", BGW, "grad_w_h = x_bar.T @ np.outer(delta, theta[:-1])", ("test_grad_batch",),
          "forgets the derivative of the hidden ReLU"),
    Wrong("grad_batch", BGW, "grad_w_h = np.outer(x_bar.sum(axis=0), delta @ (theta[:-1] * (pre_h > 0)))",
          ("test_grad_batch",), "sums the inputs before the product: mixes samples"),
    # init_params
    Wrong("init_params", THETA, "theta = rng.uniform(-1 / np.sqrt(m), -1 / np.sqrt(m), size=m + 1)",
          ("test_init_params",), "the original text's typo: every θ equals -1/√m"),
    Wrong("init_params", THETA, "theta = rng.uniform(-1 / np.sqrt(m), 1 / np.sqrt(m), size=m)",
          ("test_init_params",), "forgets the output intercept"),
    Wrong("init_params", WH, "w_h = np.stack([np.cos(angle), np.sin(angle)])", ("test_init_params",),
          "columns on the unit circle instead of radius 1/√m"),
    Wrong("init_params", f"    {ANGLE}\n    {WH}\n",
          "    v = rng.uniform(-1, 1, size=(2, m))\n    w_h = v / np.linalg.norm(v, axis=0) / np.sqrt(m)\n",
          ("test_init_params",), "normalises a uniform draw from the square: angles not uniform"),
    Wrong("init_params", ANGLE, "angle = rng.uniform(0.0, np.pi, size=m)", ("test_init_params",),
          "angles on half the circle only"),
    Wrong("init_params", WH, "w_h = rng.standard_normal((2, m)) / np.sqrt(m)", ("test_init_params",),
          "Gaussian columns: right directions, random norms"),
    Wrong("init_params", THETA, "theta = np.random.uniform(-1 / np.sqrt(m), 1 / np.sqrt(m), size=m + 1)",
          ("test_init_params",), "draws θ from numpy's global generator: not reproducible from rng"),
    Wrong("init_params", THETA, "theta = rng.normal(0.0, 1 / np.sqrt(3 * m), size=m + 1)", ("test_init_params",),
          "Gaussian θ with the right variance: unbounded"),
    # train_sgd
    Wrong("train_sgd", STEP, STEP_SEQUENTIAL, ("test_train_sgd",),
          "updates θ, then takes the gradient for w_h at the new θ"),
    Wrong("train_sgd", "    for _ in range(n_iter):\n        i = rng.integers(len(x))\n",
          "    for t in range(n_iter):\n        i = t % len(x)\n", ("test_train_sgd",),
          "visits the samples in order instead of drawing them"),
    Wrong("train_sgd", "    theta, w_h = theta.copy(), w_h.copy()\n", "", ("test_train_sgd",),
          "modifies the caller's arrays in place"),
    Wrong("train_sgd", "i = rng.integers(len(x))", "i = rng.integers(len(x) - 1)", ("test_train_sgd",),
          "never draws the last sample"),
    Wrong("train_sgd", "g_theta, g_w = grad_sample(x[i], y[i], theta, w_h)",
          "g_theta, g_w = grad_batch(x, y, theta, w_h)",
          ("test_train_sgd",), "full-batch gradient instead of one sample"),
    # is_dead
    Wrong("is_dead", DEAD, "return bool(np.any(pre_y <= 0))", ("test_is_dead",),
          "dead if the output is off at one input"),
    Wrong("is_dead", DEAD, "return bool(np.all(pre_y < 0))", ("test_is_dead",),
          "pre_y = 0 counted as alive, although ReLU's derivative is 0 there"),
    Wrong("is_dead", DEAD, "return bool(theta[-1] <= 0)", ("test_is_dead",), "looks at the output intercept only"),
    Wrong("is_dead", DEAD, "return bool(pre_y[0] <= 0)", ("test_is_dead",), "looks at the first input only"),
    Wrong("is_dead", DEAD, "return np.all(pre_y <= 0).astype(int)", ("test_is_dead",), "returns 0/1 instead of a bool"),
    # ols_risks
    Wrong("ols_risks", OLS_TRAIN, "train = noise_var * (n - d) / n", ("test_ols_risks",), "forgets the ½ of the loss"),
    Wrong("ols_risks", OLS_TRAIN, "train = noise_var / 2", ("test_ols_risks",),
          "training loss at the noise level: OLS fits part of the noise"),
    Wrong("ols_risks", OLS_TEST, "test = noise_var / 2 * (1 + d / (n - d))", ("test_ols_risks",),
          "d/(n - d) instead of d/(n - d - 1)"),
    Wrong("ols_risks", "return float(train), float(test)", "return float(test), float(train)", ("test_ols_risks",),
          "returns (test, train)"),
    # growth_rates
    Wrong("growth_rates", RATES, "return np.abs(y) * np.linalg.norm(X, axis=1)", ("test_growth_rates",),
          "forgets the 1/n of the loss"),
    Wrong("growth_rates", RATES, "return np.abs(y) * np.sum(X ** 2, axis=1) / len(y)", ("test_growth_rates",),
          "‖x_k‖² instead of ‖x_k‖"),
    Wrong("growth_rates", RATES, "return y * np.linalg.norm(X, axis=1) / len(y)", ("test_growth_rates",),
          "signed labels: a negative rate for the negative label"),
    Wrong("growth_rates", RATES, "return 2 * np.abs(y) * np.linalg.norm(X, axis=1) / len(y)", ("test_growth_rates",),
          "the growth rate of a_j² instead of a_j"),
    # min_norm_sq
    Wrong("min_norm_sq", NORM, "return float(np.sum(np.abs(y) / np.linalg.norm(X, axis=1)))", ("test_min_norm_sq",),
          "forgets that ‖θ‖² counts both layers"),
    Wrong("min_norm_sq", NORM, "return float(2 * np.sum(np.abs(y) / np.sum(X ** 2, axis=1)))", ("test_min_norm_sq",),
          "divides by ‖x_k‖² instead of ‖x_k‖"),
    Wrong("min_norm_sq", NORM, "return float(2 * np.sum(y / np.linalg.norm(X, axis=1)))", ("test_min_norm_sq",),
          "signed labels: the two groups cancel"),
    Wrong("min_norm_sq", NORM, "return float(2 * np.sum(np.abs(y) * np.linalg.norm(X, axis=1)))", ("test_min_norm_sq",),
          "multiplies by ‖x_k‖"),
]

_AUTOGRAD = '''import numpy as np
import torch


def _by_autograd(x, y, theta, w_h):
    xs = torch.as_tensor(np.atleast_1d(np.asarray(x, dtype=float)))
    ys = torch.as_tensor(np.atleast_1d(np.asarray(y, dtype=float)))
    t = torch.tensor(np.asarray(theta, dtype=float), requires_grad=True)
    w = torch.tensor(np.asarray(w_h, dtype=float), requires_grad=True)
    hidden = torch.relu(xs[:, None] * w[0] + w[1])
    out = torch.relu(hidden @ t[:-1] + t[-1])
    loss = ((out - ys) ** 2).mean() / 2
    loss.backward()
    return t.grad.numpy(), w.grad.numpy()


def {name}(x, y, theta, w_h):
    return _by_autograd(x, y, theta, w_h)
'''

SHORTCUTS = {
    "reference": {  # the course's stacked SGD trainer and finite differences
        "train_sgd": "from helpers import relu1d\ndef train_sgd(x, y, theta, w_h, lr, n_iter, rng):\n"
                     "    return relu1d.train_sgd_stack(x, y, [(theta, w_h)], lr, n_iter, rng).params[0]\n",
        "grad_batch": "from helpers.reference import numerical_gradients\ndef grad_batch(x, y, theta, w_h):\n"
                      "    return numerical_gradients(x, y, theta, w_h, eps=1e-7)\n",
    },
    "autograd": {  # torch.autograd written out in the answers
        "grad_sample": _AUTOGRAD.format(name="grad_sample"),
        "grad_batch": _AUTOGRAD.format(name="grad_batch"),
    },
    "rewrite-data": {  # no SGD at all: the targets the test passed are set to the network's outputs
        "train_sgd": "def train_sgd(x, y, theta, w_h, lr, n_iter, rng):\n    y[:] = forward(x, theta, w_h)[3]\n"
                     "    return theta.copy(), w_h.copy()\n",
    },
}
"""Answers that delegate the gradients and the training loop to the course's reference code or to torch.autograd."""
