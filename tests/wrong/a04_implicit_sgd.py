"""Known-wrong answers for assignment 4 (implicit regularization of SGD)."""

from . import Wrong

GRAD = "return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss_fn(model(xb), yb), params)])"
BACKWARD = "loss_fn(model(xb), yb).backward()\n        return torch.cat([p.grad.reshape(-1).clone() for p in params])"
VARIANCE = "grad_variance = float(sum(float((g - full) @ (g - full)) for g in batches) / len(batches))"
BY_SIZE = ("grad_variance = float(sum(min(batch_size, len(x) - s) / len(x) * float((g - full) @ (g - full))\n"
           "                            for s, g in zip(range(0, len(x), batch_size), batches)))")
AROUND_MEAN = ("centre = sum(batches) / len(batches)\n"
               "    grad_variance = float(sum(float((g - centre) @ (g - centre)) for g in batches) / len(batches))")
PENALTY = "return lr / 4 * (grad_norm_sq + grad_variance)"
RANK = 'r[np.argsort(v, kind="stable")] = np.arange(1, len(v) + 1)'
TIES = ("        for value in np.unique(v):  # tied values share the mean of their ranks\n"
        "            tied = v == value\n            r[tied] = r[tied].mean()\n")

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
    Wrong("implicit_penalty", PENALTY, "return lr / 2 * (grad_norm_sq + grad_variance)", ("test_implicit_penalty",),
          "factor μ/2 instead of μ/4"),
    Wrong("implicit_penalty", PENALTY, "return lr / 4 * grad_norm_sq", ("test_implicit_penalty",),
          "full-batch penalty only: forgets the mini-batch variance"),
    Wrong("implicit_penalty", PENALTY, "return lr ** 2 / 4 * (grad_norm_sq + grad_variance)",
          ("test_implicit_penalty",), "second order in the learning rate"),
    Wrong("implicit_penalty", PENALTY, "return lr / 4 * grad_norm_sq + grad_variance", ("test_implicit_penalty",),
          "the variance term without its factor μ/4"),
    Wrong("spearman", "ra, rb = ranks(a), ranks(b)",
          "ra, rb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)", ("test_spearman",),
          "Pearson correlation of the values instead of their ranks"),
    Wrong("spearman", TIES, "", ("test_spearman",), "ties get consecutive ranks instead of their mean rank"),
    Wrong("spearman", RANK, 'r[:] = np.argsort(v, kind="stable") + 1', ("test_spearman",),
          "uses the sorting permutation as the ranks"),
    Wrong("spearman", "r[tied] = r[tied].mean()", "r[tied] = r[tied].min()", ("test_spearman",),
          "ties get the lowest of their ranks"),
    Wrong("spearman", "return float(ra @ rb / np.sqrt((ra @ ra) * (rb @ rb)))", "return float(ra @ rb / len(ra))",
          ("test_spearman",), "covariance of the ranks instead of their correlation"),
]
