"""helpers.checks: right answers pass, wrong ones fail with a message naming what is wrong."""

import numpy as np
import pytest
import torch

from helpers import checks


def fails(fn, *args, match, **kwargs):
    """Assert that a check raises CheckFailed with a message matching ``match``."""
    with pytest.raises(checks.CheckFailed, match=match):
        fn(*args, **kwargs)


def test_scalar_accepts_real_numbers():
    for x in (1.5, np.float64(2.0), 3, np.float32(1.0), np.array(4.0)):
        assert checks.scalar(x) is None  # a check leaves no value: nbgrader would read it as partial credit
    assert checks._scalar(np.array(4.0)) == 4.0


@pytest.mark.parametrize("bad,match", [("1.0", "expected a real number.*str"), (None, "NoneType"),
                                       (True, "bool"), (float("nan"), "finite"), (np.inf, "finite"),
                                       (torch.tensor(1.0), "torch.Tensor"), ([1.0], "list")])
def test_scalar_rejects_other_things(bad, match):
    fails(checks.scalar, bad, "z", match=match)


def test_integer():
    assert checks.integer(np.int64(7)) is None and checks._integer(np.int64(7)) == 7
    fails(checks.integer, 7.0, "n", match="expected an integer, got float")
    fails(checks.integer, True, "n", match="bool")


def test_array_checks_type_shape_dtype_and_nan():
    a = np.zeros((2, 3))
    assert checks.array(a, shape=(2, 3)) is None
    fails(checks.array, [[0.0]], "W", match="numpy.ndarray, got list.*np.asarray")
    fails(checks.array, torch.zeros(2), "W", match="torch.Tensor")
    fails(checks.array, a, "W", shape=(3, 2), match=r"expected shape \(3, 2\), got shape \(2, 3\)")
    fails(checks.array, np.zeros(3, dtype=int), "W", match="floating-point.*int64")
    fails(checks.array, np.array([1.0, np.nan]), "W", match="NaN")
    fails(checks.array, np.array([1.0, np.inf]), "W", match="infinite")


def test_close_scalars_shows_expected_and_got():
    checks.close(1.0 + 1e-12, 1.0, rtol=1e-9)
    fails(checks.close, 1.1, 1.0, "z", match=r"z: expected 1, got 1.1 \(relative error 0.1")


def test_close_arrays_small_and_large():
    checks.close(np.ones(3), np.ones(3))
    fails(checks.close, np.array([1.0, 2.0]), np.array([1.0, 3.0]), "y", match=r"expected \[1\. 3\.\]")
    big = np.zeros((20, 20))
    wrong = big.copy()
    wrong[4, 7] = 1.0
    fails(checks.close, wrong, big, "G", match=r"1 of 400 entries.*index \(4, 7\)")
    fails(checks.close, np.ones(3), np.ones(4), "y", match="expected shape")


def test_params_close_names_the_layer():
    ref = [(np.ones((2, 3)), np.ones(2)), (np.ones((1, 2)), np.ones(1))]
    checks.params_close([(w.copy(), b.copy()) for w, b in ref], ref)
    bad = [(ref[0][0], ref[0][1]), (ref[1][0] * 2, ref[1][1])]
    fails(checks.params_close, bad, ref, match="dW2")
    fails(checks.params_close, ref[:1], ref, match="expected 2 layers")
    fails(checks.params_close, "x", ref, match="list of")


def test_equal_and_keys():
    checks.equal(np.int64(5), 5)
    fails(checks.equal, 4, 5, "n", match="expected 5, got 4")
    checks.keys({"a": 1}, ["a"])
    fails(checks.keys, {"a": 1, "c": 2}, ["a", "b"], match=r"missing \['b'\], unexpected \['c'\]")


def test_boolean_accepts_exact_bools_only():
    assert checks.boolean(True, True) is None and checks.boolean(np.bool_(False), False) is None
    fails(checks.boolean, False, True, "dead", match="dead: expected True, got False")
    fails(checks.boolean, np.bool_(True), False, "dead", match="expected False, got True")
    fails(checks.boolean, 1, True, "dead", match=r"expected True or False \(a bool\), got int")
    fails(checks.boolean, "True", True, "dead", match="got str")
    fails(checks.boolean, np.array([True]), True, "dead", match="numpy.ndarray")


def test_subclasses_that_could_lie_are_rejected():
    class Liar(float):
        def __float__(self):
            return 0.017006869207623284

        def __sub__(self, other):
            return 0.0

    class LyingArray(np.ndarray):
        def __sub__(self, other):
            return np.zeros(self.shape)

    fails(checks.scalar, Liar(1.0), "z", match="expected a real number")
    fails(checks.close, Liar(1.0), 0.017006869207623284, "z", match="expected a real number")
    fails(checks.close, np.ones(2).view(LyingArray), np.zeros(2), "y", match="numpy.ndarray")
    fails(checks.integer, type("I", (int,), {})(3), "n", match="expected an integer")
