"""A small plotting layer: every figure gets a title, labelled axes and a legend in one call.

All functions draw on a new figure unless an ``ax`` is given, and return the axes so that a
notebook can add to them. Pass ``logx``/``logy`` for log scales. matplotlib is imported at the
first figure, so importing this module costs nothing where no figure is drawn (grading).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .summary import mean_se


def _pyplot():
    """matplotlib.pyplot, imported on first use."""
    import matplotlib.pyplot

    return matplotlib.pyplot


def axes(title: str, xlabel: str, ylabel: str, *, logx: bool = False, logy: bool = False,
         ax=None, figsize=(6.4, 4.0)):
    """Return axes with the title, axis labels and scales set (a new figure when ``ax`` is None)."""
    if not title or not xlabel or not ylabel:
        raise ValueError("every plot needs a title and both axis labels")
    if ax is None:
        _, ax = _pyplot().subplots(figsize=figsize)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)
    return ax


def finish(ax, legend_title: str | None = None):
    """Add the legend (when anything is labelled) and tighten the layout."""
    handles, labels = ax.get_legend_handles_labels()
    if labels:
        ax.legend(title=legend_title, fontsize="small")
    ax.figure.tight_layout()
    return ax


def training_curves(curves: Mapping[str, np.ndarray], *, title: str, xlabel: str = "epoch",
                    ylabel: str = "training loss", logx: bool = True, logy: bool = True,
                    legend_title: str | None = None, ax=None):
    """Plot one loss curve per label against its 1-based step index."""
    ax = axes(title, xlabel, ylabel, logx=logx, logy=logy, ax=ax)
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, label=str(label))
    return finish(ax, legend_title)


def sweep(x, series: Mapping[str, np.ndarray], *, title: str, xlabel: str, ylabel: str,
          logx: bool = False, logy: bool = False, errors: Mapping[str, np.ndarray] | None = None,
          markers: str = "o-", vlines: Mapping[str, float] | None = None,
          reference: Mapping[str, np.ndarray] | None = None, reference_label: str = "dashed: theory",
          runs: Mapping[str, np.ndarray] | None = None, legend_title: str | None = None, xticks: bool = False,
          ax=None):
    """Plot several quantities against one swept parameter, with optional error bars, marked x values,
    ``reference`` curves (e.g. a prediction) dashed in the colour of the series of the same name, and
    ``runs``: the individual values behind a series, shape ``(len(x), runs)``, as faint dots in its colour
    (``xticks=True``: one labelled tick per swept value, e.g. a few learning rates on a log axis)."""
    ax = axes(title, xlabel, ylabel, logx=logx, logy=logy, ax=ax)
    x = np.asarray(x, dtype=float)
    if xticks:
        ax.set_xticks(x, [f"{v:g}" for v in x])
        ax.xaxis.set_minor_locator(_pyplot().NullLocator())
    reference, runs = dict(reference or {}), dict(runs or {})
    for name, extra in (("reference curves", reference), ("runs", runs)):
        if set(extra) - set(series):
            raise ValueError(f"{name} {sorted(set(extra) - set(series))} name no series")
    for i, (label, y) in enumerate(series.items()):
        err = None if errors is None else errors.get(label)
        if err is None:
            ax.plot(x, np.asarray(y, dtype=float), markers, label=str(label), markersize=3, color=f"C{i}")
        else:
            ax.errorbar(x, y, yerr=err, fmt=markers, label=str(label), markersize=3, capsize=2, color=f"C{i}")
        if label in reference:
            ax.plot(x, np.asarray(reference[label], dtype=float), "--", color=f"C{i}", linewidth=1)
        if label in runs:
            values = np.asarray(runs[label], dtype=float)
            ax.plot(np.repeat(x, values.shape[1]), values.ravel(), ".", color=f"C{i}", alpha=0.4)
    if reference:
        ax.plot([], [], "--", color="0.4", linewidth=1, label=reference_label)
    for i, (label, x0) in enumerate((vlines or {}).items()):
        ax.axvline(x0, color=f"C{len(series) + i}", linestyle="--", label=label)
    return finish(ax, legend_title)


def seed_band(ax, x, values, label: str, **style):
    """Median over seeds (the columns of ``values``; NaN entries left out) as a line, their range as a band."""
    values = np.asarray(values, dtype=float)
    median = np.nanmedian(values, axis=1)
    line, = ax.plot(x, median, "o-", markersize=3, label=f"{label} (median)", **style)
    ax.fill_between(x, np.nanmin(values, axis=1), np.nanmax(values, axis=1), color=line.get_color(), alpha=0.25,
                    label=f"{label} (range of seeds)")
    return median


def paired_runs(ax, x, values, label: str, **style):
    """Each seed's values (the columns of ``values``, one row per setting in ``x``) as a faint line, and their
    mean ± standard error: comparisons between settings are paired by seed."""
    values = np.asarray(values, dtype=float)
    stats = np.array([mean_se(row) for row in values])
    bar = ax.errorbar(x, stats[:, 0], yerr=stats[:, 1], fmt="o-", capsize=3, markersize=5,
                      label=f"{label} (mean ± s.e.)",
                      **style)
    ax.plot(x, values, "-", color=bar[0].get_color(), alpha=0.25, linewidth=1)
    ax.plot([], [], "-", color=bar[0].get_color(), alpha=0.25, label=f"{label} (one line per seed)")
    return stats


def train_test_curves(x, train: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray], *, title: str,
                      xlabel: str, ylabel: str, logx: bool = True, logy: bool = True, ax=None):
    """Training curves (solid) and test curves (dotted, same colour) against ``x``, one legend entry per label."""
    ax = axes(title, xlabel, ylabel, logx=logx, logy=logy, ax=ax)
    if set(train) != set(test):
        raise ValueError("train and test need the same labels")
    for i, label in enumerate(train):
        ax.plot(x, np.asarray(train[label], dtype=float), color=f"C{i}", label=str(label))
        ax.plot(x, np.asarray(test[label], dtype=float), ":", color=f"C{i}")
    ax.plot([], [], ":", color="0.4", label="dotted: test")
    return finish(ax)


def curve_groups(groups: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]], *, title: str, xlabel: str,
                 ylabel: str, logx: bool = False, logy: bool = True, legend_title: str | None = None, ax=None):
    """Plot groups of ``(x, y)`` curves (e.g. one per seed): one colour and one legend entry per group."""
    ax = axes(title, xlabel, ylabel, logx=logx, logy=logy, ax=ax)
    for i, (label, curves) in enumerate(groups.items()):
        for j, (x, y) in enumerate(curves):
            ax.plot(x, y, color=f"C{i}", alpha=0.8, linewidth=1.0, label=str(label) if j == 0 else None)
    return finish(ax, legend_title)


def group_means(x, y, groups, *, title: str, xlabel: str, ylabel: str, logx: bool = False, logy: bool = False,
                legend_title: str | None = None, ax=None):
    """Each group's mean ± standard error in both x and y (one colour and legend entry per distinct value of
    ``groups``, e.g. the runs of one setting over seeds), over its individual points drawn faintly."""
    ax = axes(title, xlabel, ylabel, logx=logx, logy=logy, ax=ax)
    x, y, groups = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(groups)
    for i, g in enumerate(dict.fromkeys(groups.tolist())):
        sel = groups == g
        (mx, sx), (my, sy) = mean_se(x[sel]), mean_se(y[sel])
        ax.plot(x[sel], y[sel], "o", color=f"C{i}", markersize=4, alpha=0.35)
        ax.errorbar(mx, my, xerr=sx, yerr=sy, fmt="s", color=f"C{i}", markersize=7, capsize=3, label=str(g))
    return finish(ax, legend_title)


def _bar(name: str) -> str:
    """LaTeX for the adjoint of a node name such as ``v1`` (rendered as v̄ with subscript 1)."""
    stem = name.rstrip("0123456789")
    sub = name[len(stem):]
    return f"$\\bar{{{stem}}}_{{{sub}}}$" if sub else f"$\\bar{{{stem}}}$"


def plot_graph(graph, *, title: str, show_values: bool = True, adjoints: Mapping[str, float] | None = None,
               ax=None):
    """Draw a :class:`helpers.autodiff.Graph`: inputs on the left, the output on the right.

    Each node shows its label, its forward value and, when ``adjoints`` is given, its adjoint.
    """
    from .autodiff import layered_layout

    layout = layered_layout(graph)
    pos = layout.pos
    depth = graph.depths()
    if ax is None:
        xs, ys = zip(*(p for line in layout.edges.values() for p in line), *pos.values())
        size = (max(xs) - min(xs) + 3.0, 1.2 * (max(ys) - min(ys)) + 2.0)
        _, ax = _pyplot().subplots(figsize=size)
    for line in layout.edges.values():
        xs, ys = zip(*line)
        ax.plot(xs, ys, color="0.6", lw=1, zorder=1)
        (x0, y0), (x1, y1) = line[-2], line[-1]
        ax.annotate("", xy=(x0 + 0.62 * (x1 - x0), y0 + 0.62 * (y1 - y0)),
                    xytext=(x0 + 0.5 * (x1 - x0), y0 + 0.5 * (y1 - y0)),
                    arrowprops=dict(arrowstyle="-|>", color="0.35", lw=1), zorder=2)
    kinds = {"input": "C0", "constant": "0.6", "intermediate": "C1", "output": "C3"}
    last = graph.nodes[-1].name
    for n in graph.nodes:
        kind = "constant" if n.constant else "input" if n.op is None else "output" if n.name == last else "intermediate"
        text = n.label
        if show_values and not n.constant:
            text += f"\n= {float(n.value):.6g}"
        if adjoints is not None and n.name in adjoints:
            text += f"\n{_bar(n.name)} = {float(adjoints[n.name]):.4g}"
        ax.text(*pos[n.name], text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.4", fc="white", ec=kinds[kind], lw=1.5))
    for kind, color in kinds.items():
        ax.plot([], [], "s", color=color, label=kind, markerfacecolor="white", markeredgewidth=1.5)
    xs, ys = zip(*(p for line in layout.edges.values() for p in line), *pos.values())
    ax.set_xlim(min(xs) - 1.0, max(xs) + 1.0)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ticks = sorted({(pos[n][0], depth[n]) for n in pos})
    ax.set_xticks([x for x, _ in ticks], [str(d) for _, d in ticks])
    ax.set_yticks([])
    ax.set_title(title)
    ax.set_xlabel("depth in the graph (longest path from the inputs)")
    ax.set_ylabel("nodes at that depth")
    ax.legend(loc="lower right", fontsize="small", title="node kind")
    ax.figure.tight_layout()
    return ax


def _legend(ax, legend: bool):
    """Add the legend when asked: small panels of a grid can share one. The caller tightens the figure's layout once."""
    if legend:
        ax.legend(fontsize="small")
    return ax


def neurons_plane(W, a, X, *, title: str, legend: bool = True, ax=None):
    """Directions w_j / ‖w_j‖ of a 2-D two-layer network's neurons, each normalised on its own, coloured by sign(a_j).

    The directions of the inputs (rows of ``X``) are drawn as dashed rays. Meant for grids of panels: the
    figure's layout is left to the caller (``fig.tight_layout()`` once).
    """
    W, a = np.asarray(W, dtype=float), np.asarray(a, dtype=float)
    ax = axes(title, "w1 / ‖w‖", "w2 / ‖w‖", ax=ax)
    U = W / np.where(np.linalg.norm(W, axis=1) > 0, np.linalg.norm(W, axis=1), 1.0)[:, None]
    for sign, label in ((1, "a_j > 0"), (-1, "a_j < 0")):
        keep = np.sign(a) == sign
        ax.scatter(U[keep, 0], U[keep, 1], s=12, color="C3" if sign > 0 else "C0", label=label)
    for k, x in enumerate(np.asarray(X, dtype=float), start=1):
        u = x / np.linalg.norm(x)
        ax.plot([0, 1.1 * u[0]], [0, 1.1 * u[1]], "--", color="0.3" if k == 1 else "0.65", lw=1,
                label=f"direction of x{k}")
    ax.set_xlim(-1.2, 1.2)
    ax.set_ylim(-1.2, 1.2)
    ax.set_aspect("equal")
    return _legend(ax, legend)


def neurons_kinks(W, a, X, *, title: str, window=(-3.0, 3.0), legend: bool = True, ax=None):
    """Neurons as points (−w2/w1, s_j‖w_j‖ / max‖w‖): where each kink sits on the input axis, and its signed norm.

    Inputs are rows (x, 1) of ``X``, drawn as dotted vertical lines at x; the kink of neuron j is where
    ⟨w_j, (x, 1)⟩ = 0. Kinks outside ``window`` are not drawn.
    """
    W, a = np.asarray(W, dtype=float), np.asarray(a, dtype=float)
    ax = axes(title, "kink −w2/w1 on the input axis", "s_j‖w_j‖ / max‖w‖", ax=ax)
    norms = np.linalg.norm(W, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kink = -W[:, 1] / W[:, 0]
    signed = np.sign(a) * norms / (norms.max() or 1.0)
    inside = (kink >= window[0]) & (kink <= window[1])
    for sign, label in ((1, "a_j > 0"), (-1, "a_j < 0")):
        keep = inside & (np.sign(a) == sign)
        ax.scatter(kink[keep], signed[keep], s=12, color="C3" if sign > 0 else "C0", label=label)
    for k, x in enumerate(np.asarray(X, dtype=float), start=1):
        ax.axvline(x[0], color="0.3" if k == 1 else "0.65", ls=":", lw=1, label=f"input x{k}")
    ax.set_xlim(*window)
    ax.set_ylim(-1.1, 1.1)
    return _legend(ax, legend)


def threshold_panels(result, expected_ols, *, scale: float, level: float = 0.5, detail: str = "", floor: float = 1e-7):
    """Training and test loss of the networks in ``result`` (a :class:`helpers.twolayer.Sweep`) against n, one
    colour per scale (median and every seed), with OLS on the same data, OLS's expected losses ``expected_ols``
    (shape ``(len(ns), 2)``: train, test) and the threshold of ``scale`` at ``level``
    (:meth:`~helpers.twolayer.Sweep.thresholds`); ``detail`` is appended to the titles; losses below ``floor`` are
    drawn at it."""
    fig, axs = _pyplot().subplots(1, 2, figsize=(13, 4.5))
    ns, n_seeds, threshold_n = result.ns, len(result.seeds), result.thresholds(level)[scale]
    for ax, key, col, name in [(axs[0], "train", 0, "Training loss"), (axs[1], "test", 1, "Test loss")]:
        runs = {f"network, λ = {s:g} (median of {n_seeds})": np.maximum(v, floor).T
                for s, v in zip(result.scales, getattr(result, key))}  # (ns, seeds) per scale
        sweep(ns, {label: np.median(v, axis=1) for label, v in runs.items()}, runs=runs, ax=ax,
              title=f"{name} against the sample size{detail}", xlabel="training samples n",
              ylabel="½-MSE", logx=True, logy=True)
        ax.plot(ns, np.median(getattr(result, "ols_" + key)[0], axis=0), "k^--", label="OLS on the same data (median)")
        ax.plot(ns, np.asarray(expected_ols)[:, col], "k:", label="OLS, expected value")
        if threshold_n is not None:
            ax.axvline(threshold_n, color=f"C{len(result.scales)}", ls="--",
                       label=f"threshold n* ≈ {threshold_n} (λ = {scale:g})")
        finish(ax)
    axs[0].set_ylim(floor / 2, None)
    axs[0].text(0.02, 0.02, f"losses below {floor:g} drawn at {floor:g}", transform=axs[0].transAxes, fontsize="small")
    return axs
