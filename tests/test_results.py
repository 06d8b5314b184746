"""The executed solution notebooks reproduce the published and derived figures (their SUMMARY lines)."""

import math

import pytest

from autograde.nbtools import read
from conftest import ROOT
from helpers.summary import parse_summary


def summary(assignment: str, name: str) -> dict:
    """The SUMMARY figures printed by the last cell of an executed notebook."""
    last = read(ROOT / "notebooks" / assignment / f"{name}.ipynb").cells[-1]
    return parse_summary("".join(o.get("text", "") for o in last.outputs if o.output_type == "stream"))


def test_autodiff_figures():
    s = summary("01_autodiff", "autodiff")
    assert s["z"] == pytest.approx(0.017006869207623284, rel=1e-9)
    assert s["dz_da"] == pytest.approx(-0.05749660608642549, rel=1e-9)
    assert s["dz_db"] == pytest.approx(0.0035804758800201167, rel=1e-9)
    assert (s["forward_ops"], s["backward_ops"]) == (10_800, 21_200)


def test_initialization_figures():
    s = summary("02_initialization", "initialization")
    assert s["preact_var_theory"] == 0.5 and s["relu_second_moment_theory"] == 0.25
    assert s["preact_var_mc"] == pytest.approx(0.5, rel=0.03)
    assert s["relu_second_moment_mc"] == pytest.approx(0.25, rel=0.03)
    assert s["sigma2_star"] == pytest.approx(0.02)
    assert 0.5 < s["depth_ratio_at_star"] < 2.0  # flat over 30 layers, against 1e-9 and 1e5 off it
    tanh, relu = s["roughness_tanh"], s["roughness_relu"]
    assert all(b > a for a, b in zip(tanh, tanh[1:])) and tanh[-1] / tanh[0] > 1e3
    assert max(relu) - min(relu) <= 1e-6 * max(relu)
    assert math.isfinite(relu[0])
