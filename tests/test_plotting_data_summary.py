"""helpers.plotting, helpers.data and helpers.summary."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers import data, plotting, summary, twolayer
from helpers.autodiff import z_graph


def _labelled(ax):
    """Title, axis labels and legend texts of an axes."""
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()] if legend else []
    return ax.get_title(), ax.get_xlabel(), ax.get_ylabel(), labels


def test_axes_requires_title_and_labels():
    with pytest.raises(ValueError, match="title"):
        plotting.axes("", "x", "y")
    ax = plotting.axes("T", "x", "y", logx=True, logy=True)
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    plt.close("all")


def test_training_curves_are_titled_labelled_and_legended():
    ax = plotting.training_curves({"M=10": [1.0, 0.1, 0.01], "M=50": [1.0, 0.01, 1e-4]}, title="Loss")
    assert _labelled(ax) == ("Loss", "epoch", "training loss", ["M=10", "M=50"])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [1, 2, 3])
    plt.close("all")


def test_sweep_draws_reference_curves_in_the_colour_of_their_series():
    ax = plotting.sweep([1, 2, 3], {"a": [1, 2, 4], "b": [3, 2, 1]}, reference={"b": [3.0, 2.5, 2.0]},
                        title="T", xlabel="x", ylabel="y", markers="o")
    assert _labelled(ax)[3] == ["a", "b", "dashed: theory"]
    lines = ax.get_lines()
    dashed = [line for line in lines if line.get_linestyle() == "--" and len(line.get_xdata())]
    assert len(dashed) == 1 and dashed[0].get_color() == lines[1].get_color() != lines[0].get_color()
    np.testing.assert_array_equal(dashed[0].get_ydata(), [3.0, 2.5, 2.0])
    with pytest.raises(ValueError, match="name no series"):
        plotting.sweep([1], {"a": [1]}, reference={"c": [1]}, title="T", xlabel="x", ylabel="y")
    plt.close("all")


def test_threshold_panels():
    ratio = np.ones((2, 3, 4))
    ratio[:, :, :2] = 1e-12  # interpolates below n = 32: drawn at the floor
    ols = np.full((2, 3, 4), 0.1)
    sweep = twolayer.Sweep(np.array([8, 16, 32, 64]), np.arange(3), np.array([1e-6, 1e-3]), ratio * ols, 2 * ols,
                           ols, 1.5 * ols)
    axs = plotting.threshold_panels(sweep, np.full((4, 2), 0.1), scale=1e-6, detail=" (d = 5)")
    title, xl, yl, legend = _labelled(axs[0])
    assert (title, xl, yl) == ("Training loss against the sample size (d = 5)", "training samples n", "½-MSE")
    assert legend == ["network, λ = 1e-06 (median of 3)", "network, λ = 0.001 (median of 3)",
                      "OLS on the same data (median)", "OLS, expected value", "threshold n* ≈ 32 (λ = 1e-06)"]
    assert _labelled(axs[1])[0] == "Test loss against the sample size (d = 5)"
    np.testing.assert_allclose(axs[0].get_lines()[0].get_ydata(), [1e-7, 1e-7, 0.1, 0.1])
    np.testing.assert_allclose(axs[1].get_lines()[0].get_ydata(), [0.2] * 4)
    assert axs[0].get_lines()[-1].get_xdata()[0] == 32  # the threshold line
    axs = plotting.threshold_panels(sweep, np.full((4, 2), 0.1), scale=1e-6, level=1e-13)
    assert _labelled(axs[0])[3][-1] == "threshold n* ≈ 8 (λ = 1e-06)" and axs[0].get_lines()[-1].get_xdata()[0] == 8
    plt.close("all")


def test_sweep_draws_the_runs_behind_a_series_as_dots_in_its_colour():
    ax = plotting.sweep([1, 2], {"a": [1, 2], "b": [3, 4]}, runs={"b": [[2.5, 3.5], [3.0, 5.0]]},
                        title="T", xlabel="x", ylabel="y")
    lines = ax.get_lines()
    dots = [line for line in lines if line.get_marker() == "." and line.get_linestyle() == "None"]
    assert len(dots) == 1 and dots[0].get_color() == lines[1].get_color()
    np.testing.assert_array_equal(dots[0].get_xdata(), [1, 1, 2, 2])
    np.testing.assert_array_equal(dots[0].get_ydata(), [2.5, 3.5, 3.0, 5.0])
    assert _labelled(ax)[3] == ["a", "b"]
    with pytest.raises(ValueError, match="runs \\['c'\\] name no series"):
        plotting.sweep([1], {"a": [1]}, runs={"c": [[1]]}, title="T", xlabel="x", ylabel="y")
    plt.close("all")


def test_train_test_curves_share_a_colour_per_label():
    ax = plotting.train_test_curves([1, 2, 3], {"m = 2": [3, 2, 1], "m = 5": [2, 1, 0.5]},
                                    {"m = 2": [3, 3, 3], "m = 5": [2, 2, 2]}, title="T", xlabel="step", ylabel="loss")
    assert _labelled(ax) == ("T", "step", "loss", ["m = 2", "m = 5", "dotted: test"])
    train, test = ax.get_lines()[2:4]
    assert train.get_color() == test.get_color() != ax.get_lines()[0].get_color()
    assert (train.get_linestyle(), test.get_linestyle()) == ("-", ":")
    np.testing.assert_array_equal(test.get_ydata(), [2, 2, 2])
    with pytest.raises(ValueError, match="same labels"):
        plotting.train_test_curves([1], {"a": [1]}, {"b": [1]}, title="T", xlabel="x", ylabel="y")
    plt.close("all")


def test_sweep_with_error_bars_and_marked_values():
    ax = plotting.sweep([1, 2, 3], {"train": [3, 2, 1], "test": [2, 3, 2]}, errors={"test": [0.1, 0.2, 0.1]},
                        title="Sweep", xlabel="M", ylabel="MSE", vlines={"threshold": 2.0})
    title, xl, yl, legend = _labelled(ax)
    assert (title, xl, yl) == ("Sweep", "M", "MSE")
    assert legend == ["train", "threshold", "test"] or sorted(legend) == ["test", "threshold", "train"]
    plt.close("all")


def test_curve_groups_group_means_and_ticks_per_swept_value():
    groups = {"lr 0.1": [([1, 2], [1.0, 0.1]), ([1, 2, 3], [1.0, 0.2, 0.02])], "lr 0.2": [([1], [0.5])]}
    ax = plotting.curve_groups(groups, title="Curves", xlabel="epoch", ylabel="MSE")
    assert _labelled(ax) == ("Curves", "epoch", "MSE", ["lr 0.1", "lr 0.2"]) and ax.get_yscale() == "log"
    assert [line.get_color() for line in ax.get_lines()] == ["C0", "C0", "C1"]
    ax = plotting.group_means([1, 2, 3, 5], [4, 3, 2, 0], [0.1, 0.2, 0.1, 0.2], title="P", xlabel="x", ylabel="y",
                              legend_title="lr")
    assert _labelled(ax) == ("P", "x", "y", ["0.1", "0.2"]) and ax.get_legend().get_title().get_text() == "lr"
    runs = [line for line in ax.get_lines() if line.get_marker() == "o"]
    np.testing.assert_array_equal(runs[1].get_xdata(), [2, 5])  # the second group's runs
    means = [c for c in ax.containers]
    np.testing.assert_allclose([c.lines[0].get_xdata()[0] for c in means], [2.0, 3.5])
    np.testing.assert_allclose([c.lines[0].get_ydata()[0] for c in means], [3.0, 1.5])
    ax = plotting.sweep([0.05, 0.1, 0.2], {"a": [1, 2, 3]}, title="S", xlabel="lr", ylabel="v", logx=True, xticks=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.05", "0.1", "0.2"]
    plt.close("all")


def test_plot_graph_shows_every_node_with_values_and_adjoints():
    g, z = z_graph(2.0, 3.0)
    ax = plotting.plot_graph(g, title="Graph", adjoints={"a": -0.0575, "v1": -0.0144})
    texts = " ".join(t.get_text() for t in ax.texts)
    for label in ("$v_1 = a^2$", "$z = v_5 / v_4$", "= 54.5982", r"$\bar{v}_{1}$ = -0.0144", r"$\bar{a}$"):
        assert label in texts
    assert ax.get_title() == "Graph" and ax.get_legend() is not None
    plt.close("all")


def test_data_generators_are_seeded():
    a1, b1 = data.points_ab(50, seed=3)
    a2, b2 = data.points_ab(50, seed=3)
    np.testing.assert_array_equal(a1, a2)
    assert (b1 > 0).all() and not np.array_equal(a1, data.points_ab(50, seed=4)[0])
    X, Y = data.regression_batch(7, 3, 2, seed=0)
    assert X.shape == (7, 3) and Y.shape == (7, 2) and X.dtype == np.float64


def test_summary_line_rounds_and_parses(capsys):
    summary.print_summary({"z": 0.017006869207623284, "n": np.int64(10800), "m": {2: np.float64(1 / 3)},
                           "xs": np.array([1.0, 2.0])})
    out = capsys.readouterr().out
    assert out.startswith("SUMMARY ") and out.count("\n") == 1
    figures = summary.parse_summary(out)
    assert figures == {"m": {"2": 0.3333333333}, "n": 10800, "xs": [1.0, 2.0], "z": 0.01700686921}
    assert json.loads(out[len("SUMMARY "):]) == figures
    with pytest.raises(ValueError):
        summary.parse_summary("no line here")


def test_table_aligns_columns_and_rejects_ragged_rows():
    text = summary.table(["lr", "test MSE"], [[0.05, 0.65912], [0.4, 0.6]], [".2f", ".3f"])
    assert text.splitlines() == ["  lr  test MSE", "0.05     0.659", "0.40     0.600"]
    with pytest.raises(ValueError, match="one entry per header"):
        summary.table(["a", "b"], [[1]])


def test_mean_se_is_the_mean_and_its_standard_error():
    assert summary.mean_se([1.0, 2.0, 3.0, 6.0]) == pytest.approx((3.0, np.sqrt(14 / 3) / 2))
    assert summary.mean_se([5.0]) == (5.0, 0.0)


def test_bound_prints_roundoff_as_a_bound_and_larger_figures_themselves():
    assert summary.bound(5.8e-16) == summary.bound(-2.1e-15) == "< 1e-12"
    assert summary.bound(3e-9, limit=1e-8) == "< 1e-08"
    assert summary.bound(2.345e-12) == "2.3e-12"  # above the limit: the figure, which a test of "< 1e-12" rejects


def test_seed_band_draws_the_median_and_the_range_leaving_out_nan():
    ax = plotting.axes("t", "x", "y")
    values = np.array([[1.0, 2.0, 6.0], [4.0, np.nan, 2.0]])
    median = plotting.seed_band(ax, [1, 2], values, "test MSE")
    np.testing.assert_allclose(median, [2.0, 3.0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [2.0, 3.0])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 1.0 and band.max() == 6.0 and 2.0 in band and 4.0 in band
    assert [t.get_text() for t in ax.legend().get_texts()] == ["test MSE (median)", "test MSE (range of seeds)"]
    plt.close("all")


def test_paired_ci_is_the_t_interval_of_the_differences():
    d = np.array([-0.05, -0.02, -0.04, -0.03, -0.06])
    mean, low, high, p = summary.paired_ci(d)
    se = d.std(ddof=1) / np.sqrt(5)
    assert mean == pytest.approx(-0.04) and high - mean == pytest.approx(mean - low)
    assert (high - mean) / se == pytest.approx(2.7764451, rel=1e-6)  # t quantile, 4 degrees of freedom
    assert p == pytest.approx(0.00481, rel=0.01) and high < 0  # t = -5.66 on 4 degrees of freedom
    assert summary.paired_ci([0.1, -0.1, 0.2, -0.2])[3] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least two"):
        summary.paired_ci([0.1])


def test_paired_runs_draw_one_line_per_seed_and_the_mean():
    ax = plotting.axes("Paired", "setting", "value")
    values = np.array([[1.0, 2.0, 3.0], [0.5, 1.5, 2.0]])  # 2 settings x 3 seeds
    stats = plotting.paired_runs(ax, [0, 1], values, "test")
    np.testing.assert_allclose(stats[:, 0], [2.0, 4 / 3])
    plotting.finish(ax)
    assert sorted(_labelled(ax)[3]) == ["test (mean ± s.e.)", "test (one line per seed)"]
    assert sum(len(line.get_xdata()) == 2 for line in ax.get_lines()) >= 3  # the three seeds' lines
    plt.close("all")
