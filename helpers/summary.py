"""The ``SUMMARY {json}`` line that closes every solution notebook with its headline figures, and plain tables."""

from __future__ import annotations

import json
import math

import numpy as np

DIGITS = 10  # significant digits kept, so the line does not depend on floating-point noise
ROUNDOFF = 1e-12
"""Below this a float64 figure is round-off: its digits differ from one CPU to the next, so it is printed as a bound."""


def _round(x):
    """Round floats to DIGITS significant digits, recursively through lists and dicts."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return x if x == 0 or not math.isfinite(x) else float(f"{x:.{DIGITS}g}")
    if isinstance(x, np.ndarray):
        return _round(x.tolist())
    if isinstance(x, dict):
        return {str(k): _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x


def summary_line(figures: dict) -> str:
    """The one-line ``SUMMARY {json}`` text for a dict of headline figures."""
    return "SUMMARY " + json.dumps(_round(figures), sort_keys=True)


def print_summary(figures: dict) -> None:
    """Print the ``SUMMARY`` line."""
    print(summary_line(figures))


def parse_summary(text: str) -> dict:
    """Read the figures back from output text holding a ``SUMMARY`` line."""
    for line in text.splitlines():
        if line.startswith("SUMMARY "):
            return json.loads(line[len("SUMMARY "):])
    raise ValueError("no SUMMARY line found")


def bound(x: float, limit: float = ROUNDOFF) -> str:
    """``"< 1e-12"`` for a figure under ``limit`` in absolute value, else the figure to two significant digits."""
    return f"< {limit:g}" if abs(float(x)) < limit else f"{float(x):.2g}"


def mean_se(values) -> tuple[float, float]:
    """Mean of ``values`` and its standard error (sample standard deviation / √n; 0 for one value)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


def paired_ci(differences, level: float = 0.95) -> tuple[float, float, float, float]:
    """Mean of paired ``differences``, its two-sided t confidence interval ``(low, high)`` and the t-test's p-value."""
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or len(d) < 2:
        raise ValueError("paired_ci needs a 1-D sequence of at least two differences")
    mean, se = mean_se(d)
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1)) * se
    p = float(stats.ttest_1samp(d, 0.0).pvalue) if se > 0 else float(mean == 0)
    return mean, mean - half, mean + half, p


def table(headers, rows, formats=None) -> str:
    """A plain-text table with right-aligned columns; ``formats`` holds one format spec per column (e.g. ``".3g"``)."""
    formats = formats or [""] * len(headers)
    if len(formats) != len(headers) or any(len(r) != len(headers) for r in rows):
        raise ValueError("every row and the formats need one entry per header")
    cells = [[str(h) for h in headers]] + [[format(v, f) for v, f in zip(r, formats)] for r in rows]
    widths = [max(len(row[j]) for row in cells) for j in range(len(headers))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells)
