"""Known-wrong answers for assignment 4 (implicit regularization of SGD)."""

from . import Wrong

GRAD = "return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss_fn(model(xb), yb), params)])"
BACKWARD = "loss_fn(model(xb), yb).backward()\n        return torch.cat([p.grad.reshape(-1).clone() for p in params])"
VARIANCE = "grad_variance = float(sum(float((g - full) @ (g - full)) for g in batches) / len(batches))"
BY_SIZE = ("grad_variance = float(sum(min(batch_size, len(x) - s) / len(x) * float((g - full) @ (g - full))\n"
           "                            for s, g in zip(range(0, len(x), batch_size), batches)))")
AROUND_MEAN = ("centre = sum(batches) / len(batches)\n"
               "    grad_variance = float(sum(float((g - centre) @ (g - centre)) for g in batches) / len(batches))")
CHECK = "if J < stop_below or epoch == max_epochs:\n            return epoch, J"
ORDER = "order = torch.from_numpy(rng.permutation(len(x)))"
STEP = "p.sub_(lr * g)"
COEF = "return lr / 4 * (n - batch_size) / (batch_size * (n - 1))"
DEVIATION = "penalty = penalty + sum(((g - f) ** 2).sum() for g, f in zip(grads, full)) / len(batches)"
FINAL = "return list(torch.autograd.grad(J + lr / 4 * penalty, params))"

WRONG = [
    Wrong("gradient_stats", "loss_fn = nn.MSELoss()", "loss_fn = nn.MSELoss(reduction='sum')",
          ("test_gradient_stats",), "sums the squared errors instead of taking the mean"),
    Wrong("gradient_stats", VARIANCE, "grad_variance = float(np.var([float(g @ g) for g in batches]))",
          ("test_gradient_stats",), "variance of the batch-gradient norms instead of the norm of the deviations"),
    Wrong("gradient_stats", "range(0, len(x), batch_size)", "range(0, len(x) - batch_size + 1, batch_size)",
          ("test_gradient_stats",), "drops the last, smaller mini-batch"),
    Wrong("gradient_stats", VARIANCE, BY_SIZE, ("test_gradient_stats",),
          "weighs the batches by their size instead of 1/N_b"),
    Wrong("gradient_stats", VARIANCE, AROUND_MEAN, ("test_gradient_stats",),
          "measures deviations from the mean of the batch gradients instead of the full-data gradient"),
    Wrong("gradient_stats", "/ len(batches))", "/ max(len(batches) - 1, 1))", ("test_gradient_stats",),
          "divides by N_b - 1"),
    Wrong("gradient_stats", "grad_norm_sq = float(full @ full)", "grad_norm_sq = float(torch.sqrt(full @ full))",
          ("test_gradient_stats",), "returns the norm, not its square"),
    Wrong("gradient_stats", GRAD, BACKWARD, ("test_gradient_stats",),
          "calls backward() without zeroing .grad: the gradients accumulate"),
    Wrong("gradient_stats", "params = list(model.parameters())",
          "params = [p for p in model.parameters() if p.dim() > 1]", ("test_gradient_stats",),
          "leaves the biases out of the gradient"),
    Wrong("sgd_until", CHECK, "if J < stop_below or epoch == max_epochs:\n            return max(epoch - 1, 0), J",
          ("test_sgd_until",), "counts the epochs from 1 below the truth (off by one)"),
    Wrong("sgd_until", ORDER, "order = torch.arange(len(x))", ("test_sgd_until",),
          "never reshuffles: the same mini-batches every epoch"),
    Wrong("sgd_until", ORDER, "order = torch.randperm(len(x))", ("test_sgd_until",),
          "draws the order with torch's generator instead of rng"),
    Wrong("sgd_until", "for s in range(0, len(x), batch_size):",
          "for s in range(0, len(x) - batch_size + 1, batch_size):", ("test_sgd_until",),
          "drops the last, smaller mini-batch"),
    Wrong("sgd_until", STEP, "p.sub_(lr * g * len(batch))", ("test_sgd_until",),
          "steps along the gradient of the summed loss instead of the mean"),
    Wrong("sgd_until", "if J < stop_below or epoch == max_epochs:", "if J <= stop_below / 10 or epoch == max_epochs:",
          ("test_sgd_until",), "stops at the wrong threshold"),
    Wrong("variance_coefficient", COEF, "return lr / 4 / batch_size", ("test_variance_coefficient",),
          "batches drawn with replacement: no finite-population factor"),
    Wrong("variance_coefficient", COEF, "return lr / 4 * (n - batch_size) / (batch_size * n)",
          ("test_variance_coefficient",), "finite-population factor (N - B)/N instead of (N - B)/(N - 1)"),
    Wrong("variance_coefficient", COEF, "return (n - batch_size) / (batch_size * (n - 1))",
          ("test_variance_coefficient",), "forgets the factor μ/4"),
    Wrong("variance_coefficient", COEF, "return lr / 2 * (n - batch_size) / (batch_size * (n - 1))",
          ("test_variance_coefficient",), "factor μ/2 instead of μ/4"),
    Wrong("regularized_grad", FINAL, "return list(torch.autograd.grad(J + lr / 2 * penalty, params))",
          ("test_regularized_grad",), "factor μ/2 instead of μ/4"),
    Wrong("regularized_grad", DEVIATION, "pass", ("test_regularized_grad",),
          "the gradient-norm penalty only: forgets the mini-batch variance"),
    Wrong("regularized_grad", FINAL, "return list(torch.autograd.grad(J, params))", ("test_regularized_grad",),
          "the gradient of J alone"),
    Wrong("regularized_grad", DEVIATION,
          "penalty = penalty + (sum((g ** 2).sum() for g in grads) - sum((f ** 2).sum() for f in full)) / len(batches)",
          ("test_regularized_grad",),
          "the mean of the squared batch-gradient norms, equal to the penalty only when the batches are equal"),
    Wrong("regularized_grad", "params, create_graph=True)\n        penalty", "params)\n        penalty",
          ("test_regularized_grad",), "the batch gradients without create_graph: their penalty is not differentiated"),
]
