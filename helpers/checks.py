"""Comparisons used by the notebooks' tests, with messages that tell a student what is wrong.

Every check raises :class:`CheckFailed` (an ``AssertionError``) whose message names the
quantity, what was expected and what was received, and returns None: nbgrader reads a number
left as a test cell's value as partial credit, so checks never leave one. Values must have exact
built-in or numpy types: an object of a subclass could lie in ``__eq__`` or ``__float__``. While
grading, the checks run in the judge (``autograde/judge.py``), out of the submission's reach.
"""

from __future__ import annotations

import math

import numpy as np

SMALL = 12  # arrays with at most this many entries are printed in full in messages


class CheckFailed(AssertionError):
    """A check that failed, with a message written for the student."""


def _fail(message: str) -> None:
    """Raise :class:`CheckFailed` with ``message``."""
    raise CheckFailed(message)


def _type_name(x) -> str:
    """Return a readable name for the type of ``x``."""
    t = type(x)
    module = t.__module__
    return t.__name__ if module == "builtins" else f"{module}.{t.__name__}"


_INT_TYPES = frozenset({int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64})
_REAL_TYPES = _INT_TYPES | {float, np.float16, np.float32, np.float64}
_BOOL_TYPES = frozenset({bool, np.bool_})


def _is_real_number(x) -> bool:
    """True for Python or numpy real numbers of exactly these types (no bool, no subclass that could lie)."""
    return type(x) in _REAL_TYPES


def _fmt(x) -> str:
    """Format a number or a small array for a message."""
    if isinstance(x, np.ndarray):
        if x.size <= SMALL:
            return np.array2string(x, precision=10)
        return f"array of shape {x.shape}"
    return f"{x:.12g}" if isinstance(x, (float, np.floating)) else repr(x)


def _scalar(x, name: str = "value") -> float:
    """Check that ``x`` is one finite real number and return it as a Python float."""
    if type(x) is np.ndarray and x.shape == () and x.dtype.kind in "fiu":
        x = x[()]
    if not _is_real_number(x):
        _fail(f"{name}: expected a real number (float), got {_type_name(x)}: {x!r:.80}")
    value = float(x)
    if not math.isfinite(value):
        _fail(f"{name}: expected a finite number, got {value}")
    return value


def _integer(x, name: str = "value") -> int:
    """Check that ``x`` is an integer (Python or numpy, not bool) and return it as an int."""
    if type(x) not in _INT_TYPES:
        _fail(f"{name}: expected an integer, got {_type_name(x)}: {x!r:.80}")
    return int(x)


def _array(x, name: str = "array", shape: tuple | None = None, kind: str = "f") -> np.ndarray:
    """Check that ``x`` is a finite numpy array of the given shape and dtype kind, and return it."""
    if type(x) is not np.ndarray:
        hint = " (convert with np.asarray)" if isinstance(x, (list, tuple)) else ""
        _fail(f"{name}: expected a numpy.ndarray, got {_type_name(x)}{hint}")
    if shape is not None and x.shape != tuple(shape):
        _fail(f"{name}: expected shape {tuple(shape)}, got shape {x.shape}")
    if kind and x.dtype.kind not in kind:
        _fail(f"{name}: expected a floating-point array, got dtype {x.dtype}")
    if x.dtype.kind in "fc":
        bad = ~np.isfinite(x)
        if bad.any():
            what = "NaN" if np.isnan(x).any() else "infinite"
            _fail(f"{name}: contains {what} values at {int(bad.sum())} of {x.size} entries")
    return x


def close(got, expected, name: str = "value", rtol: float = 1e-9, atol: float = 0.0) -> None:
    """Check ``|got - expected| <= atol + rtol * |expected|`` entrywise, for numbers or arrays."""
    if isinstance(expected, np.ndarray):
        exp = np.asarray(expected, dtype=np.float64)
        g = _array(got, name, shape=exp.shape).astype(np.float64)
        err = np.abs(g - exp)
        tol = atol + rtol * np.abs(exp)
        over = err > tol
        if over.any():
            if exp.size <= SMALL:
                _fail(f"{name}: values differ beyond tolerance (rtol={rtol:g}, atol={atol:g})\n"
                      f"  expected {_fmt(exp)}\n  got      {_fmt(g)}")
            i = np.unravel_index(np.argmax(err - tol), exp.shape)
            _fail(f"{name}: {int(over.sum())} of {exp.size} entries differ beyond tolerance "
                  f"(rtol={rtol:g}, atol={atol:g}); worst at index {tuple(int(k) for k in i)}: "
                  f"expected {exp[i]:.12g}, got {g[i]:.12g}")
        return
    exp = float(expected)
    g = _scalar(got, name)
    if not abs(g - exp) <= atol + rtol * abs(exp):
        rel = abs(g - exp) / abs(exp) if exp else float("inf")
        _fail(f"{name}: expected {exp:.12g}, got {g:.12g} "
              f"(relative error {rel:.2g}, tolerance {rtol:g})")


def equal(got, expected, name: str = "value") -> None:
    """Check that an integer answer equals the expected integer."""
    g = _integer(got, name)
    if g != int(expected):
        _fail(f"{name}: expected {int(expected)}, got {g}")


def params_close(got, expected, name: str = "gradients", rtol: float = 1e-10, atol: float = 1e-12) -> None:
    """Check a list of (W, b) pairs against the expected list, pair by pair, with shapes named."""
    if not isinstance(got, (list, tuple)):
        _fail(f"{name}: expected a list of (dW, db) pairs, got {_type_name(got)}")
    if len(got) != len(expected):
        _fail(f"{name}: expected {len(expected)} layers of (dW, db), got {len(got)}")
    for k, (pair, (w_exp, b_exp)) in enumerate(zip(got, expected), start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            _fail(f"{name}[{k - 1}]: expected a pair (dW{k}, db{k}), got {_type_name(pair)}")
        close(pair[0], w_exp, f"{name}: dW{k}", rtol=rtol, atol=atol)
        close(pair[1], b_exp, f"{name}: db{k}", rtol=rtol, atol=atol)


def boolean(got, expected: bool, name: str = "value") -> None:
    """Check that a yes/no answer is a bool (Python or numpy) equal to ``expected``."""
    if type(got) not in _BOOL_TYPES:
        _fail(f"{name}: expected True or False (a bool), got {_type_name(got)}: {got!r:.80}")
    if (got is True or got is np.bool_(True)) != _bool_value(expected):
        _fail(f"{name}: expected {_bool_value(expected)}, got {not _bool_value(expected)}")


def _bool_value(x) -> bool:
    """The truth value of a trusted expected answer."""
    return True if x else False


def keys(got, expected_keys, name: str = "result") -> None:
    """Check that ``got`` is a dict with exactly the expected keys."""
    if not isinstance(got, dict):
        _fail(f"{name}: expected a dict, got {_type_name(got)}")
    missing = sorted(set(expected_keys) - set(got))
    extra = sorted(set(got) - set(expected_keys))
    if missing or extra:
        _fail(f"{name}: expected keys {sorted(expected_keys)}; missing {missing}, unexpected {extra}")


def scalar(x, name: str = "value") -> None:
    """Check that ``x`` is one finite real number (float, int or a numpy scalar; not bool)."""
    _scalar(x, name)


def integer(x, name: str = "value") -> None:
    """Check that ``x`` is an integer (Python or numpy, not bool)."""
    _integer(x, name)


def numbers(x, name: str = "values", length: int | None = None) -> None:
    """Check that ``x`` is a list or tuple of finite real numbers (of ``length`` entries when given)."""
    if type(x) not in (list, tuple):
        _fail(f"{name}: expected a list of numbers, got {_type_name(x)}")
    if length is not None and len(x) != length:
        _fail(f"{name}: expected {length} numbers, got {len(x)}")
    for i, v in enumerate(x):
        _scalar(v, f"{name}[{i}]")


def array(x, name: str = "array", shape: tuple | None = None, kind: str = "f") -> None:
    """Check that ``x`` is a finite numpy array of the given shape and dtype kind."""
    _array(x, name, shape, kind)
