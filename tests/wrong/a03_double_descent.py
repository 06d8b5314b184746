"""Known-wrong answers for assignment 3 (double descent)."""

from . import Wrong

PARAMS = "return int((d_in * M + M) + (M * M + M) + (M * d_out + d_out))"
MODEL = "return nn.Sequential(nn.Linear(d_in, M), nn.ReLU(), nn.Linear(M, M), nn.ReLU(), nn.Linear(M, d_out))"
LOOP = ("    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n    loss_fn = nn.MSELoss()\n    losses = []\n"
        "    for _ in range(epochs):\n")
LOOP_NEW_ADAM = ("    loss_fn = nn.MSELoss()\n    losses = []\n    for _ in range(epochs):\n"
                 "        optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n")

WRONG = [
    Wrong("threshold_width", "param_count(M, d_in, d_out) - 2 * M <", "param_count(M, d_in, d_out) <",
          ("test_threshold_width",), "the naive count: misses the rescaling symmetry of the hidden units"),
    Wrong("param_count", PARAMS, "return int(d_in * M + M * M + M * d_out)", ("test_param_count",),
          "forgets the biases"),
    Wrong("param_count", PARAMS, "return int((d_in * M + M) + (M * M + M) + M * d_out)", ("test_param_count",),
          "forgets the output bias"),
    Wrong("param_count", PARAMS, "return int(M * M + 18 * M + 8)", ("test_param_count",),
          "hard-codes d_in = d_out = 8"),
    Wrong("param_count", PARAMS, "return int((d_in * M + M) + (M * d_out + d_out))", ("test_param_count",),
          "counts one hidden layer"),
    Wrong("make_model", MODEL, MODEL.replace("nn.Linear(M, d_out))", "nn.Linear(M, d_out), nn.ReLU())"),
          ("test_make_model",), "ReLU on the output: the network cannot predict negative targets"),
    Wrong("make_model", MODEL, "return nn.Sequential(nn.Linear(d_in, M), nn.ReLU(), nn.Linear(M, d_out))",
          ("test_make_model",), "one hidden layer"),
    Wrong("make_model", MODEL, MODEL.replace("nn.Linear(M, M), nn.ReLU()", "nn.Linear(M, M)"), ("test_make_model",),
          "no activation after the second layer: the two layers collapse"),
    Wrong("make_model", MODEL, MODEL.replace("nn.ReLU()", "nn.Tanh()"), ("test_make_model",), "tanh instead of ReLU"),
    Wrong("make_model", MODEL, MODEL.replace("nn.Linear(d_in, M)", "nn.Linear(d_in, M, bias=False)"),
          ("test_make_model",), "first layer without bias"),
    Wrong("make_model", MODEL, MODEL.replace("return nn.Sequential", "model = nn.Sequential") +
          "\n    for layer in model[::2]:\n        nn.init.kaiming_normal_(layer.weight)\n    return model",
          ("test_make_model",), "He's normal initialisation instead of PyTorch's default"),
    Wrong("make_model", MODEL, MODEL.replace("return nn.Sequential", "model = nn.Sequential") +
          "\n    for layer in model[::2]:\n        nn.init.xavier_uniform_(layer.weight)\n    return model",
          ("test_make_model",), "Glorot's uniform initialisation instead of PyTorch's default"),
    Wrong("train_model", "torch.optim.Adam(model.parameters(), lr=lr)", "torch.optim.SGD(model.parameters(), lr=lr)",
          ("test_train_model",), "plain gradient descent instead of Adam"),
    Wrong("train_model", "        optimizer.zero_grad()\n", "", ("test_train_model",),
          "never zeroes the gradients: they accumulate over epochs"),
    Wrong("train_model", "loss_fn = nn.MSELoss()", "loss_fn = nn.MSELoss(reduction='sum')", ("test_train_model",),
          "sum of squared errors instead of the mean"),
    Wrong("train_model", LOOP, LOOP_NEW_ADAM, ("test_train_model",),
          "a new Adam optimizer every epoch resets its moment estimates"),
    Wrong("train_model", "losses.append(loss.item())", "losses.append(loss_fn(model(x), y).item())",
          ("test_train_model",), "records the loss after the update"),
    Wrong("train_model", "lr=lr)", "lr=1e-3)", ("test_train_model",), "ignores the lr argument"),
    Wrong("threshold_width", "param_count(M, d_in, d_out) - 2 * M <", "param_count(M, d_in, d_out) - M <",
          ("test_threshold_width",), "one rescaling direction per layer instead of per unit"),
    Wrong("threshold_width", "param_count(M, d_in, d_out) - 2 * M < d_out * n_train",
          "param_count(M, d_in, d_out) - 2 * M < n_train", ("test_threshold_width",),
          "one equation per sample instead of one per output"),
    Wrong("threshold_width", "- 2 * M < d_out * n_train", "- 2 * M <= d_out * n_train", ("test_threshold_width",),
          "asks for more rank than equations"),
    Wrong("threshold_width", "    return M\n", "    return M - 1\n", ("test_threshold_width",),
          "the last width below the bound"),
    Wrong("jacobian_rank", "J = torch.cat([j.reshape(rows, -1) for j in jac.values()], dim=1)",
          "J = torch.cat([j.reshape(rows, -1) for name, j in jac.items() if name.endswith('weight')], dim=1)",
          ("test_jacobian_rank",), "weights only: leaves out the biases"),
    Wrong("jacobian_rank", "return int(torch.linalg.matrix_rank(J))", "return int(min(J.shape))",
          ("test_jacobian_rank",), "counts parameters and equations instead of measuring the rank"),
    Wrong("jacobian_rank", "functional_call(model, p, (x,)))", "functional_call(model, p, (x,)).sum(0))",
          ("test_jacobian_rank",), "Jacobian of the outputs summed over the samples"),
    Wrong("jacobian_rank", "rows = x.shape[0] * jac[next(iter(jac))].shape[1]", "rows = x.shape[0]",
          ("test_jacobian_rank",), "one row per sample: the outputs end up as columns"),
]

_TRAIN = '''import torch


def train_model(model, x, y, epochs, lr=1e-3):
    # recover the seed of the given network, train the reference copy, and copy its parameters over
    M, dtype = model[0].out_features, model[0].weight.dtype
    seed = next(s for s in range(100) if torch.equal(network(M, seed=s, dtype=dtype)[0].weight, model[0].weight))
    net, losses = reference_train(M, x, y, epochs=epochs, lr=lr, seed=seed, dtype=dtype)
    with torch.no_grad():
        for p, q in zip(model.parameters(), net.parameters()):
            p.copy_(q)
    return losses
'''

SHORTCUTS = {
    "reference": {  # the engine's torch.nn reference, by the names the notebook imports
        "param_count": "from helpers import batched\ndef param_count(M, d_in=8, d_out=8):\n"
                       "    return batched.n_params(M, 2, d_in, d_out)\n",
        "make_model": "from helpers import batched\ndef make_model(M, d_in=8, d_out=8):\n"
                      "    return batched.network(M, 2, d_in, d_out)\n",
        "train_model": "from helpers.batched import network, reference_train\n" + _TRAIN,
    },
    "reference-module": {  # the same, imported from the module that holds them
        "make_model": "from helpers.reference import network\ndef make_model(M, d_in=8, d_out=8):\n"
                      "    return network(M, 2, d_in, d_out)\n",
        "train_model": "from helpers.reference import network, reference_train\n" + _TRAIN,
    },
}
"""Answers that return the course's reference network and training loop instead of building them."""
