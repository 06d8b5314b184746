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

from .. import reference_names
from .engine import train
from .loop import EpochOrders, epoch_orders
from .model import Optimizer, Result, flops_per_epoch, init_seed, layer_shapes
from .plan import MIN_BUCKETS, cheapest_groups, plan_buckets

__all__ = ["EpochOrders", "MIN_BUCKETS", "Optimizer", "Result", "cheapest_groups", "epoch_orders", "flops_per_epoch",
           "init_seed", "layer_shapes", "plan_buckets", "train"]

__getattr__ = reference_names(__name__, ("network", "reference_train", "n_params"))
"""The torch.nn network and training loop the engine reproduces, in :mod:`helpers.reference`."""
