"""Grade a notebook inside this Python process: fast enough to try many wrong implementations.

Code cells run in order in one namespace; a test cell earns its points when it raises nothing,
as under ``nbgrader autograde``. Only for notebooks the course itself writes (tests of the
hidden tests); student submissions are graded by nbgrader in a separate kernel.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from .nbtools import autograded_points, grade_id, is_autograded_test


def run_cells(nb, cwd: Path | None = None, skip: set[str] = frozenset()) -> dict[str, float]:
    """Execute the code cells of ``nb``; return the points earned by each autograded test cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = autograded_points(nb)
    earned: dict[str, float] = {}
    namespace: dict = {"__name__": "__main__"}
    old_cwd = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        for cell in nb.cells:
            if cell.cell_type != "code" or grade_id(cell) in skip:
                continue
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
                ok = True
            except Exception:
                ok = False
            if is_autograded_test(cell):
                earned[grade_id(cell)] = points[grade_id(cell)] if ok else 0.0
    finally:
        os.chdir(old_cwd)
        plt.close("all")
    return earned
