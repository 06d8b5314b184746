"""The executed solution notebooks reproduce the published and derived figures (their SUMMARY lines)."""

import math

import pytest

from autograde.nbtools import read
from helpers.summary import parse_summary
from tests.conftest import ROOT


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
    assert s["relu_second_moment_theory"] == 0.25
    assert s["preact_var_mc"] == pytest.approx(0.5, rel=0.03)
    assert s["relu_second_moment_mc"] == pytest.approx(0.25, rel=0.03)
    assert s["sigma2_star"] == pytest.approx(0.02)
    assert 0.5 < s["depth_ratio_at_star"] < 2.0  # flat over 30 layers, against 1e-9 and 1e5 off it
    # He's 2/M trains a 30-layer ReLU network with plain SGD, Glorot's 1/M stays at the targets' variance
    assert s["deep_final_loss"]["1/M"] > 0.95 and s["deep_final_loss"]["2/M"] < 0.85 * s["deep_final_loss"]["1/M"]
    tanh, kinks = s["roughness_tanh"], s["kinks_relu"]
    assert all(b > a for a, b in zip(tanh, tanh[1:])) and tanh[-1] / tanh[0] > 1e3
    assert max(kinks) == min(kinks)  # scaling every parameter moves no kink
    assert s["expected_kinks"] == pytest.approx(100.0) and kinks[0] == pytest.approx(100.0, abs=2.0)


def test_double_descent_figures():
    s = summary("03_double_descent", "double_descent")
    assert s["R_t"] == 0.25 and s["seeds"] >= 3
    # the rank bound params - 2M: 22 and 33; the measured rank reaches 8N at or just past it
    assert (s["threshold_M"], s["threshold_M_N200"]) == (22, 33)
    assert 22 <= s["full_rank_M"] <= 26
    # the test-error peak sits between the rank threshold and the width from which Adam interpolates
    assert s["threshold_M"] <= s["peak_M"] <= s["interpolation_M"] + 4
    assert s["peak_test_mse"] > 2 * s["min_test_mse_before_peak"] and s["peak_test_mse"] > 1.5 * s["test_mse_widest"]
    assert s["sweet_spot_M"] < s["threshold_M"]
    assert s["test_mse_widest"] > s["min_test_mse_before_peak"]  # the second descent does not beat the first here
    # more data hurts past the N = 100 peak, around the N = 200 threshold, and nowhere below the first threshold
    assert s["more_data_hurts_M"] and all(s["peak_M"] < M <= 100 for M in s["more_data_hurts_M"])
    # the parameter norm does not peak at the threshold; the input sensitivity peaks with the test error
    assert s["norm_peak_M"] >= 100 and abs(s["sensitivity_peak_M"] - s["peak_M"]) <= 4
    # with 25 times less noise variance the peak nearly vanishes
    ratio = s["peak_over_first_min"]
    assert ratio["σ_ε = 0.5"] > 2.5 and ratio["σ_ε = 0.1"] < 1.6
    assert s["peak_test_mse_low_noise"] < 0.5 * s["peak_test_mse"]


def test_simplicity_bias_figures():
    s = summary("05_simplicity_bias", "no_overfitting")
    train, test = ({int(m): v for m, v in s[k].items()} for k in ("part1_train_mse", "part1_test_mse"))
    assert sorted(train) == [2, 5, 20, 100, 500]
    # Part 1: the Bayes errors are near σ²/2 = 8e-4; width 2 underfits; wide networks neither interpolate nor overfit
    assert 4e-4 < s["bayes_train_mse"] < 1.2e-3 and 2e-4 < s["bayes_test_mse"] < 1.5e-3
    assert train[2] > 2 * s["bayes_train_mse"]
    for m in (100, 500):
        assert 0.8 * s["bayes_train_mse"] < train[m] < 1.1 * s["bayes_train_mse"]
        assert test[m] < 1.2 * s["bayes_test_mse"]
    assert test[500] < 1.1 * test[20]  # no test-error growth with the width
    assert 0.35 < s["dead_init_fraction"] < 0.48  # about 40% of initialisations are dead
    # the excess risk on a dense grid: under a fifth of the noise level from m = 20 on, not growing with m;
    # the wide networks use about as many kinks as the teacher (3)
    excess, kinks = ({int(m): v for m, v in s[k].items()} for k in ("grid_excess_risk", "kinks"))
    assert all(excess[m] < 0.2 * 0.04 ** 2 / 2 for m in (20, 100, 500)) and excess[2] > 5 * excess[100]
    assert excess[500] < 1.2 * excess[20] and all(2 <= kinks[m] <= 5 for m in (20, 100, 500))
    # the controls (a decaying step, a ten times smaller step) do not interpolate either
    for key in ("control_train_mse", "lr_train_mse_0.01"):
        assert all(0.8 * s["bayes_train_mse"] < v < 1.1 * s["bayes_train_mse"] for v in s[key].values())


def _ratios(figures: dict) -> dict:
    """Training loss over OLS's per n, from the summary's figures (``"< 1e-06"`` read as 0)."""
    return {int(n): 0.0 if str(v).startswith("<") else float(v) for n, v in figures.items()}


def test_threshold_and_alignment_figures():
    s = summary("05_simplicity_bias", "threshold_alignment")
    # Part 2: interpolation below the threshold, near OLS above it, the neurons along ±β
    ratio = _ratios(s["train_over_ols"])
    assert s["d"] == 5 and 24 <= s["threshold_n"] <= 48
    assert all(v < 0.05 for n, v in ratio.items() if n <= 16)
    assert all(0.5 < v < 1.1 for n, v in ratio.items() if n >= s["threshold_n"])
    assert ratio[max(ratio)] > 0.9
    alignment = {int(n): v for n, v in s["alignment_by_n"].items()}
    assert all(alignment[n] > 0.8 for n in ratio if n >= s["threshold_n"]) and alignment[16] < 0.6
    # doubling the budget: a run above n* still moves (it keeps fitting the noise), so n* is a lower bound
    assert 0.01 < s["stationary_max_change"] <= 1
    # at least three scales; the threshold does not move between the small ones and grows with the large one
    by_scale = s["threshold_n_by_scale"]
    assert len(by_scale) >= 3 and by_scale["1e-06"] == s["threshold_n"]
    assert by_scale["1e-09"] == by_scale["1e-06"]
    # a smaller dimension, a smaller threshold
    by_d = {int(k): v for k, v in s["threshold_n_by_d"].items()}
    assert by_d[5] == s["threshold_n"] and by_d[3] is not None and by_d[3] < by_d[5]
    assert by_scale["0.001"] is None or by_scale["0.001"] >= 2 * s["threshold_n"]
    larger_scale = _ratios(s["train_over_ols_scale_1e-3"])
    assert larger_scale[96] < 0.5 * ratio[96]
    # Part 3: conserved balancedness and the minimum-norm limit on dataset 1.1.0
    assert s["balancedness_drift"] == "< 1e-12"
    assert s["sum_a2_positive"] == pytest.approx(1 / math.sqrt(5), rel=1e-5)
    assert s["sum_a2_negative"] == pytest.approx(1 / math.sqrt(1.25), rel=1e-5)
    assert s["theta_norm_sq"] == pytest.approx(2 / math.sqrt(5) + 2 / math.sqrt(1.25), rel=1e-5)
    # the ln(1/λ) law: at least four rich scales from 1e-10 to 1e-2; the take-off slopes match 1/(η c±) per sign
    assert len(s["lambdas"]) >= 4 and min(s["lambdas"]) <= 1e-10 and max(s["lambdas"]) >= 1e-2
    theory = {"positive": 1e3 * 2 / math.sqrt(5), "negative": 1e3 * 2 / math.sqrt(1.25)}
    for sign, (mean, se) in s["plateau_slope_measured"].items():
        assert s["plateau_slope_theory"][sign] == pytest.approx(theory[sign], rel=1e-4)
        assert mean == pytest.approx(theory[sign], rel=0.02) and se < 0.01 * mean
    # the lazy run ends far from the minimum norm 2.683
    assert s["lazy_theta_norm_sq"] > 20 * (2 / math.sqrt(5) + 2 / math.sqrt(1.25))


def test_implicit_sgd_figures():
    s = summary("04_implicit_sgd", "implicit_sgd")
    lrs = [f"{lr:g}" for lr in s["learning_rates"]]
    assert s["learning_rates"] == sorted(s["learning_rates"]) and len(lrs) >= 3 and s["seeds"] >= 8
    assert s["n_params"] == 8 * 50 + 50 + (s["depth"] - 1) * (50 * 50 + 50) + 50 * 8 + 8
    # the matched stop: every run stops just below the threshold, epochs fall roughly like 1/μ
    assert all(0.5 * s["stop_below"] < s["train_mse_at_stop"][k] < s["stop_below"] for k in lrs)
    epochs = [s["epochs_to_stop"][k] for k in lrs]
    assert all(b < a for a, b in zip(epochs, epochs[1:]))
    # larger learning rates: smaller gradient norm and variance, also relative to J, and a lower test error, the
    # paired difference to the smallest rate with a 95% interval excluding 0 (Smith et al. 2021)
    for key in ("grad_norm_sq", "grad_norm_sq_over_J", "grad_variance", "test_mse"):
        assert s[key][lrs[-1]] < s[key][lrs[0]], key
    mean, low, high = s["test_mse_ci"][lrs[-1]]
    assert low < mean < high < 0
    # full-batch GD at the same rates generalises as SGD does here; the explicit penalty at a smaller rate closes
    # most of the gap to the large rate
    for k, t in s["gd_test_mse"].items():
        assert abs(t - s["test_mse"][k]) < 0.02
    gap = s["small_lr_test_mse"] - s["large_lr_test_mse"]
    assert gap > 0 and s["explicit_reg_test_mse"] < s["small_lr_test_mse"] - gap / 2
    assert s["batch_sizes"] == [20, 40]
    # every run stays far above the noise floor R_t = 0.25; weight decay chosen on validation sets does better
    assert min(s["test_mse"].values()) > 0.4
    assert s["best_weight_decay"] > 0 and s["test_mse_weight_decay"] < min(s["test_mse"].values()) - 0.05
