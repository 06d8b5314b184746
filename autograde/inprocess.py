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

from .nbtools import autograded_points, grade_id, is_autograded_test, is_experiment


def run_cells(nb, cwd: Path | None = None, experiments: bool = False) -> dict[str, float]:
    """Execute the code cells of ``nb`` (``experiment`` cells only when asked); return each test cell's points."""
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
            if cell.cell_type != "code" or (is_experiment(cell) and not experiments):
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
