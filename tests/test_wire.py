"""The judge's decoder: plain data crosses exactly, everything else is refused, calls copy back their effects."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from autograde.wire import WireError, decode, encode, update
from helpers.nn import TANH


def _cross(obj, ref=None, resolve=None):
    """``obj`` through JSON text, as between kernel and judge."""
    return decode(json.loads(json.dumps(encode(obj, ref))), resolve)


@pytest.mark.parametrize("value", [None, True, 0, -7, 2**80, 1.5, float("inf"), -float("inf"), 3 - 2j, "ü",
                                   [1, (2.0, "x")], {"a": [1], 2: (3,), (1, 2): None}, ()])
def test_plain_python_values_cross_exactly(value):
    got = _cross(value)
    assert got == value and type(got) is type(value)


def test_container_subclasses_cross_as_plain_containers():
    import collections

    got = _cross((np.linalg.eigh(np.eye(2)), collections.Counter("aab"), torch.Size([2, 3])))
    assert type(got[0]) is tuple and np.array_equal(got[0][0], [1.0, 1.0])
    assert got[1] == {"a": 2, "b": 1} and type(got[1]) is dict and got[2] == (2, 3) and type(got[2]) is tuple
    flat = _cross(torch.nn.Sequential(torch.nn.Flatten(0)))
    assert flat[0].start_dim == 0


def test_nan_crosses():
    assert np.isnan(_cross(float("nan")))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.int8, np.uint16, np.bool_, np.complex128])
def test_arrays_and_numpy_scalars_cross_bit_for_bit(dtype):
    a = (np.random.default_rng(0).standard_normal((3, 4)) * 100).astype(dtype)
    got = _cross(a)
    assert type(got) is np.ndarray and got.dtype == a.dtype and np.array_equal(got, a) and got.flags.writeable
    assert _cross(a[0, 0]) == a[0, 0] and type(_cross(a[0, 0])) is type(a[0, 0])
    assert _cross(np.zeros((0, 3), dtype)).shape == (0, 3)


def test_a_random_generator_crosses_in_its_state():
    g = np.random.default_rng(5)
    g.random(3)
    h = _cross(g)
    assert np.array_equal(h.random(4), g.random(4))


def test_tensors_parameters_and_standard_modules_cross():
    t = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    got = _cross(t)
    assert torch.equal(got, t) and got.requires_grad and got.dtype == torch.float64
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2, bias=False))
    copy = _cross(net)
    assert [type(m) for m in copy] == [type(m) for m in net]
    x = torch.randn(5, 3)
    assert torch.equal(copy(x), net(x))
    assert _cross(TANH) is TANH


class _LyingFloat(float):
    """A float that equals anything."""

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


class _Net(torch.nn.Module):
    """A model with its own forward, which the judge cannot rebuild."""

    def forward(self, x):
        return x


@pytest.mark.parametrize("value", [_LyingFloat(1.0), np.zeros(2).view(type("Sub", (np.ndarray,), {})),
                                   np.array([object()]), object(), _Net(), len, lambda x: x,
                                   torch.nn.Sequential(_Net())])
def test_everything_else_is_refused(value):
    with pytest.raises(WireError):
        encode(value)


@pytest.mark.parametrize("data", [{"unknown": 1}, {"ndarray": {"dtype": "<f8", "shape": [3], "data": "AAAA"}},
                                  {"ndarray": {"dtype": "|O", "shape": [1], "data": ""}},
                                  {"ndarray": {"dtype": "<f8", "shape": [10**9], "data": ""}},
                                  {"module": {"class": "Conv2d", "args": {}}}, {"ref": 0}, [1, 2], {"a": 1, "b": 2},
                                  {"generator": {"dict": [["bit_generator", "Evil"]]}},
                                  {"activation": "nonsense"}])
def test_malformed_or_unknown_data_is_refused(data):
    with pytest.raises(WireError):
        decode(data)  # no resolver: a reference is refused too


def test_a_layer_that_claims_huge_sizes_is_refused_before_anything_is_allocated():
    small = encode(torch.nn.Linear(2, 3))["module"]
    small["args"].update(in_features=10**6, out_features=10**6)
    with pytest.raises(WireError, match="does not match"):
        decode({"module": small})


def test_functions_cross_as_references_both_ways():
    def f(x):
        return x + 1

    table = []
    got = _cross({"f": f}, ref=lambda fn: table.append(fn) or len(table) - 1, resolve=lambda n: ("handle", n))
    assert got == {"f": ("handle", 0)} and table == [f]


def test_update_copies_a_trained_model_into_the_judges_and_refuses_other_layers():
    net = torch.nn.Sequential(torch.nn.Linear(2, 1))
    trained = _cross(net)
    with torch.no_grad():
        trained[0].weight.add_(1.0)
    weight = net[0].weight
    update(net, trained)
    assert net[0].weight is weight and torch.equal(weight, trained[0].weight)
    with pytest.raises(WireError):
        update(net, _cross(torch.nn.Sequential(torch.nn.Linear(2, 3))))
    with pytest.raises(WireError):
        update(net, np.zeros(3))
