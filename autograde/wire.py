"""Plain data across the boundary between a student's kernel and the judge.

The judge (:mod:`autograde.judge`) never receives an object from a submission, only JSON text that
:func:`decode` turns into new objects of a few types: ``None``, ``bool``, ``int``, ``float``,
``complex``, ``str``, lists, tuples and dicts of these, numpy arrays and scalars of numeric dtypes,
numpy random generators, torch tensors and modules built from the standard ``torch.nn`` layers in
:data:`MODULES`, and the course's activations. Everything else is refused with :class:`WireError`,
including subclasses of the allowed numbers and arrays (a float that claims to equal anything stays in the
kernel); subclasses of list, tuple and dict (a namedtuple, a ``Counter``) cross as plain containers of their items.
A function crosses as a reference (``{"ref": n}``) that the other side resolves.

The same file runs in the kernel (its text is sent there at start), so it imports only the standard
library and numpy; torch is imported only when a tensor or module is met.
"""

from __future__ import annotations

import base64
import sys

import numpy as np

MAX_ELEMENTS = 16_000_000
"""Largest number of array elements one message may carry (refused beyond)."""

MODULES = {"Sequential": (), "Linear": ("in_features", "out_features"), "ReLU": (), "Tanh": (), "Sigmoid": (),
           "Identity": (), "Softplus": ("beta", "threshold"), "LeakyReLU": ("negative_slope",),
           "Flatten": ("start_dim", "end_dim")}
"""The ``torch.nn`` layers that cross, with the constructor arguments that rebuild them."""

GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
"""numpy bit generators whose state crosses."""


class WireError(TypeError):
    """A value that cannot cross the boundary."""


def _type_name(obj) -> str:
    """``module.Class`` of an object, for messages."""
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _array(a: np.ndarray) -> dict:
    """An array's dtype, shape and bytes."""
    if a.dtype.kind not in "biufc" or a.dtype.byteorder == ">":
        raise WireError(f"arrays of dtype {a.dtype} cannot be graded")
    return {"dtype": a.dtype.str, "shape": list(a.shape),
            "data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()}


def _from_array(d: dict) -> np.ndarray:
    """The array :func:`_array` described (a new, writable one)."""
    dtype, shape = np.dtype(d["dtype"]), tuple(int(s) for s in d["shape"])
    if dtype.kind not in "biufc" or any(s < 0 for s in shape) or int(np.prod(shape)) > MAX_ELEMENTS:
        raise WireError(f"refused array of dtype {dtype} and shape {shape}")
    raw = base64.b64decode(d["data"], validate=True)
    if len(raw) != int(np.prod(shape)) * dtype.itemsize:
        raise WireError("array data of the wrong length")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _torch():
    """torch (imported when a tensor or module has to be rebuilt)."""
    return sys.modules.get("torch") or __import__("torch")


def _loaded_torch():
    """torch when it is loaded and usable here, else None (it is withheld from some kernels, replaced by a stub)."""
    torch = sys.modules.get("torch")
    try:
        return torch if torch is not None and torch.Tensor is not None else None
    except ImportError:
        return None


def encode(obj, ref=None):
    """``obj`` as JSON-ready data; ``ref(f)`` gives the reference sent for a function (none: functions refused)."""
    t = type(obj)
    if obj is None or t in (bool, str):
        return obj
    if t is int:
        return obj if abs(obj) < 2**53 else {"int": str(obj)}
    if t is float:
        return obj if obj == obj and abs(obj) != float("inf") else {"float": repr(obj)}
    if t is complex:
        return {"complex": [encode(obj.real), encode(obj.imag)]}
    if isinstance(obj, (list, tuple)):  # a namedtuple (np.linalg's results), torch.Size: plain containers
        return {"tuple" if isinstance(obj, tuple) else "list": [encode(x, ref) for x in obj]}
    if isinstance(obj, dict):  # defaultdict, OrderedDict, Counter: a plain dict of their items
        return {"dict": [[encode(k, ref), encode(v, ref)] for k, v in dict.items(obj)]}
    if t is np.ndarray:
        return {"ndarray": _array(obj)}
    if isinstance(obj, np.generic) and t.__module__ == "numpy" and obj.dtype.kind in "biufc":
        return {"npscalar": _array(np.asarray(obj))}
    if t is np.random.Generator and type(obj.bit_generator).__name__ in GENERATORS:
        return {"generator": _plain_state(obj.bit_generator.state)}
    if t.__module__ == "helpers.nn" and t.__name__ == "Activation":
        return {"activation": obj.name}
    torch = _loaded_torch()
    if torch is not None:
        if t in (torch.Tensor, torch.nn.Parameter):
            return {"tensor": _tensor(obj)}
        if isinstance(obj, torch.nn.Module):
            return {"module": _module(obj)}
    if ref is not None and callable(obj) and not isinstance(obj, type):
        return {"ref": ref(obj)}
    raise WireError(f"a {_type_name(obj)} cannot be graded (plain Python values, numpy arrays, torch tensors "
                    "and standard torch.nn layers can)")


def _plain_state(state):
    """A bit generator's state (nested dicts of ints and strings) checked to be plain."""
    if type(state) is dict:
        return {"dict": [[k, _plain_state(v)] for k, v in state.items() if type(k) is str]}
    if type(state) in (int, str, bool):
        return encode(state)
    raise WireError("unexpected random generator state")


def _tensor(x) -> dict:
    """A dense CPU tensor's values, dtype and whether it is a parameter or requires gradients."""
    torch = _torch()
    if x.layout != torch.strided or x.device.type != "cpu":
        raise WireError("only dense CPU tensors can be graded")
    return {"values": _array(x.detach().numpy()), "requires_grad": bool(x.requires_grad),
            "parameter": type(x) is torch.nn.Parameter}


def _module(m) -> dict:
    """A standard layer or Sequential: its class, constructor arguments, children and parameter values."""
    torch = _torch()
    name = type(m).__name__
    if name not in MODULES or type(m) is not getattr(torch.nn, name):
        raise WireError(f"a {_type_name(m)} cannot be graded: build the model from torch.nn.Sequential and the "
                        "standard layers (" + ", ".join(MODULES) + ")")
    d = {"class": name, "args": {k: encode(getattr(m, k)) for k in MODULES[name]}, "training": bool(m.training)}
    if name == "Sequential":
        d["children"] = [_module(c) for c in m]
    elif name == "Linear":
        d["args"]["bias"] = m.bias is not None
        d["params"] = {k: _tensor(p) for k, p in m.named_parameters(recurse=False)}
    return d


def decode(data, resolve=None):
    """A new object from what :func:`encode` produced; ``resolve(n)`` turns a reference back into a function."""
    if data is None or type(data) in (bool, str, int, float):
        return data
    if type(data) is not dict or len(data) != 1:
        raise WireError("malformed value")
    (tag, v), = data.items()
    if tag in ("list", "tuple") and type(v) is list:
        items = [decode(x, resolve) for x in v]
        return items if tag == "list" else tuple(items)
    if tag == "dict" and type(v) is list:
        return {decode(k, resolve): decode(x, resolve) for k, x in v}
    if tag == "int":
        return int(v)
    if tag == "float" and v in ("nan", "inf", "-inf"):
        return float(v)
    if tag == "complex":
        return complex(decode(v[0]), decode(v[1]))
    if tag == "ndarray":
        return _from_array(v)
    if tag == "npscalar":
        return _from_array(v)[()]
    if tag == "generator":
        state = decode(v)
        name = state.get("bit_generator") if type(state) is dict else None
        if name not in GENERATORS:
            raise WireError("refused random generator")
        bit = getattr(np.random, name)()
        bit.state = state
        return np.random.Generator(bit)
    if tag == "activation":
        from helpers.nn import ACTIVATIONS

        if v not in ACTIVATIONS:
            raise WireError(f"unknown activation {v!r}")
        return ACTIVATIONS[v]
    if tag == "tensor":
        return _from_tensor(v)
    if tag == "module":
        return _from_module(v)
    if tag == "ref" and resolve is not None and type(v) is int:
        return resolve(v)
    raise WireError(f"refused value of kind {tag!r}")


def _from_tensor(v: dict):
    """A new tensor with the described values and flags."""
    torch = _torch()
    t = torch.from_numpy(_from_array(v["values"]))
    if v.get("parameter"):
        return torch.nn.Parameter(t, requires_grad=bool(v.get("requires_grad")))
    return t.requires_grad_(True) if v.get("requires_grad") and t.is_floating_point() else t


def _from_module(v: dict):
    """A new standard layer or Sequential rebuilt from its description."""
    torch = _torch()
    name = v.get("class")
    if name not in MODULES or set(v.get("args", {})) - set(MODULES[name]) - {"bias"}:
        raise WireError(f"refused module {name!r}")
    args = {k: decode(x) for k, x in v["args"].items()}
    if name == "Sequential":
        m = torch.nn.Sequential(*[_from_module(c) for c in v.get("children", [])])
    elif name == "Linear":
        params = {k: _from_tensor(p) for k, p in v.get("params", {}).items()}
        if set(params) != ({"weight", "bias"} if args["bias"] else {"weight"}):
            raise WireError("a Linear layer with unexpected parameters")
        if tuple(params["weight"].shape) != (args["out_features"], args["in_features"]):
            raise WireError("a Linear layer whose weight does not match its sizes")  # checked before allocating
        m = torch.nn.Linear(args["in_features"], args["out_features"], bias=args["bias"],
                            dtype=params["weight"].dtype)
        for k, p in params.items():
            setattr(m, k, torch.nn.Parameter(p.detach(), requires_grad=p.requires_grad))
    else:
        m = getattr(torch.nn, name)(**args)
    return m.train(bool(v.get("training", True)))


def update(model, new) -> None:
    """Give ``model`` (a ``torch.nn`` module the judge passed to a call) the parameters ``new`` has after the call,
    in place; refuse a call that changed its layers."""
    torch = _torch()
    if not (isinstance(model, torch.nn.Module) and isinstance(new, torch.nn.Module)):
        raise WireError(f"the call replaced a model argument by a {_type_name(new)}")
    old, fresh = dict(model.named_parameters()), dict(new.named_parameters())
    if [(k, p.shape) for k, p in old.items()] != [(k, p.shape) for k, p in fresh.items()]:
        raise WireError("the call changed the layers of a model argument")
    with torch.no_grad():
        for k, p in old.items():
            p.copy_(fresh[k])
    model.train(new.training)
