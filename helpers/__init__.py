"""Shared code for the course notebooks: data, plotting, training engines and answer checks.

Submodules are imported on demand so that ``import helpers`` stays cheap:

- :mod:`helpers.data`      seeded data generators
- :mod:`helpers.plotting`  titled, labelled, legended figures in one call
- :mod:`helpers.checks`    comparisons with messages written for students
- :mod:`helpers.autodiff`  a tiny reverse-mode engine (assignment 1)
- :mod:`helpers.nn`        activations, MLP initialisation and a torch.autograd reference
- :mod:`helpers.opcount`   counting multiply-adds of matrix products
- :mod:`helpers.batched`   the width-sweep engine: many small ReLU networks trained as batched products
- :mod:`helpers.sgd_grid`  assignment 4's grid of SGD runs (learning rate × decay × seed), seed means, paired
  differences
- :mod:`helpers.relu1d`    the 1-D ReLU network of assignment 5, finite-difference gradients, a trainer for many at once
- :mod:`helpers.twolayer`  two-layer ReLU networks without biases: balanced init, GD, the threshold sweep and its
  threshold
- :mod:`helpers.reference` the reference implementations the hidden tests compare with (withheld while grading)
- :mod:`helpers.summary`   the ``SUMMARY {json}`` line that closes each solution notebook
"""

__version__ = "0.1.0"


def reference_names(module: str, names: tuple[str, ...]):
    """A module ``__getattr__`` giving ``names`` from :mod:`helpers.reference` (withheld while grading)."""

    def __getattr__(name: str):
        if name in names:
            from importlib import import_module

            return getattr(import_module("helpers.reference"), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
