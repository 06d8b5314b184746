"""Count the multiply-adds of the matrix products a numpy function performs.

A product of an (i × j) by a (j × k) matrix costs i·j·k multiply-adds with the naive
algorithm. :func:`count_macs` runs a function on arrays that record every ``@`` /
``np.matmul``, ``np.dot``, ``np.outer``, ``np.inner`` and ``np.multiply.outer`` they take
part in, and returns the total. Elementwise work (additions of biases, activations) is not
counted, as in the pen-and-paper count of the course.
"""

from __future__ import annotations

import numpy as np


def _matmul_macs(sa: tuple, sb: tuple) -> int:
    """Multiply-adds of ``matmul`` for operand shapes ``sa`` and ``sb`` (with broadcasting)."""
    if len(sa) == 0 or len(sb) == 0:
        return 0
    a = (1,) + sa if len(sa) == 1 else sa
    b = sb + (1,) if len(sb) == 1 else sb
    batch = np.broadcast_shapes(a[:-2], b[:-2])
    return int(np.prod(batch, dtype=np.int64)) * a[-2] * a[-1] * b[-1]


def _dot_macs(sa: tuple, sb: tuple) -> int:
    """Multiply-adds of ``np.dot`` for operand shapes ``sa`` and ``sb``."""
    if len(sa) == 0 or len(sb) == 0:
        return 0
    if len(sa) <= 2 and len(sb) <= 2:
        return _matmul_macs(sa, sb)
    return int(np.prod(sa, dtype=np.int64)) * int(np.prod(sb, dtype=np.int64)) // sb[-2 if len(sb) > 1 else -1]


class _Counter:
    """Running total of multiply-adds."""

    def __init__(self):
        """Start at zero."""
        self.total = 0


class CountingArray(np.ndarray):
    """An ndarray that adds the cost of each matrix product it takes part in to a counter."""

    _counter: _Counter | None = None

    def __array_finalize__(self, obj):
        """Carry the counter over to views and results."""
        self._counter = getattr(obj, "_counter", None)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """Count ``matmul`` and ``multiply.outer``, then compute on plain arrays."""
        counter = _find_counter(inputs)
        shapes = [np.shape(x) for x in inputs]
        if counter is not None:
            if ufunc is np.matmul and method == "__call__":
                counter.total += _matmul_macs(*shapes[:2])
            elif ufunc is np.multiply and method == "outer":
                counter.total += int(np.prod(shapes[0], dtype=np.int64) * np.prod(shapes[1], dtype=np.int64))
        if "out" in kwargs:
            kwargs["out"] = tuple(_unwrap(o) for o in kwargs["out"])
        result = getattr(ufunc, method)(*_unwrap(inputs), **kwargs)
        return _wrap(result, counter)

    def __array_function__(self, func, types, args, kwargs):
        """Count ``dot``, ``outer`` and ``inner``, then compute on plain arrays."""
        counter = _find_counter(args)
        if counter is not None and len(args) >= 2:
            sa, sb = np.shape(args[0]), np.shape(args[1])
            if func is np.dot:
                counter.total += _dot_macs(sa, sb)
            elif func is np.outer:
                counter.total += int(np.prod(sa, dtype=np.int64) * np.prod(sb, dtype=np.int64))
            elif func is np.inner and len(sa) <= 2 and len(sb) <= 2:
                counter.total += _matmul_macs(sa, sb[::-1] if len(sb) == 2 else sb)
        result = func(*_unwrap(args), **_unwrap(kwargs))
        return _wrap(result, counter)


def _find_counter(objs):
    """The counter of the first CountingArray found in a (nested) argument list."""
    for o in objs:
        if isinstance(o, CountingArray) and o._counter is not None:
            return o._counter
        if isinstance(o, (list, tuple)):
            c = _find_counter(o)
            if c is not None:
                return c
    return None


def _unwrap(obj):
    """Replace CountingArrays by plain ndarrays, recursively through lists, tuples and dicts."""
    if isinstance(obj, CountingArray):
        return obj.view(np.ndarray)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj, counter):
    """Turn ndarrays into CountingArrays tied to ``counter``, recursively."""
    if counter is None:
        return obj
    if type(obj) is np.ndarray:
        w = obj.view(CountingArray)
        w._counter = counter
        return w
    if isinstance(obj, (list, tuple)):
        return type(obj)(_wrap(o, counter) for o in obj)
    if isinstance(obj, dict):
        return {k: _wrap(v, counter) for k, v in obj.items()}
    return obj


def count_macs(fn, *args, **kwargs):
    """Run ``fn(*args, **kwargs)`` on counting copies of its arrays; return ``(result, multiply_adds)``."""
    counter = _Counter()
    result = fn(*_wrap(_unwrap(args), counter), **_wrap(_unwrap(kwargs), counter))
    return _unwrap(result), counter.total


count_macs.runs_with_answers = True
"""The grader runs it next to the code it measures (in the submission's kernel), not in the judge."""
