"""Train many small ReLU networks at once as batched tensor operations (the width-sweep engine).

A sweep over widths trains one network per width. Trained one after another, each step of each
network is a handful of small matrix products plus Python overhead. Here the networks are grouped
into *buckets* of similar width (:mod:`.plan`); the networks of a bucket are zero-padded to the
bucket's largest width and stacked, so that each layer of the whole bucket is one batched matrix
product, with a hand-written backward pass and optimisers that update all the bucket's parameters
as one flat tensor (:mod:`.bucket`). A bucket trains in its own loop (:mod:`.loop`), the buckets are
shared between workers (:mod:`.parallel`), and :func:`train` puts the results together
(:mod:`.engine`); the networks and the result type are in :mod:`.model`.

Every network follows the same trajectory as when trained alone; in float64 the results agree with
``torch.nn`` + ``torch.optim`` to rounding (see the tests).
"""

from importlib import import_module

from .. import reference_names

_PUBLIC = {"train": "engine", "EpochOrders": "loop", "epoch_orders": "loop", "Optimizer": "model", "Result": "model",
           "LinearDecay": "model", "init_seed": "model", "flops_per_epoch": "plan", "layer_shapes": "plan",
           "LANES": "plan", "cheapest_groups": "plan", "plan_buckets": "plan"}
"""Public names and their modules, imported on first use: the planner alone (numpy) does not load torch."""

__all__ = sorted(_PUBLIC)

_reference = reference_names(__name__, ("network", "reference_train", "n_params"))


def __getattr__(name: str):
    """A public name from its module, or the torch.nn network and loop the engine reproduces (helpers.reference)."""
    if name in _PUBLIC:
        return getattr(import_module(f"{__name__}.{_PUBLIC[name]}"), name)
    return _reference(name)
