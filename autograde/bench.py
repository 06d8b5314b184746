"""Time each assignment: solution notebook execution and one submission's autograde (median of 3): ``make bench``.

Autograding runs on a scratch copy of the course (source, config and the ``example-complete``
submission), so the instructor's gradebook is not touched.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from . import assignments, course_root
from .course import api, run
from .execute import execute

REPEATS = 3


def median_seconds(fn, repeats: int = REPEATS) -> tuple[float, list[float]]:
    """Median and all wall times of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def notebook_seconds(root: Path, assignment: str) -> tuple[float, list[float]]:
    """Execution time of the assignment's solution notebooks, all of them per repeat."""
    sources = sorted((root / "source" / assignment).glob("*.ipynb"))
    return median_seconds(lambda: [execute(src) for src in sources])


def autograde_seconds(root: Path, assignment: str, student: str = "example-complete") -> tuple[float, list[float]]:
    """Time of ``nbgrader autograde`` of one submission, in a scratch course."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        shutil.copytree(root / "source", scratch / "source")
        shutil.copy(root / "nbgrader_config.py", scratch)
        shutil.copytree(root / "autograde" / "submitted" / student / assignment,
                        scratch / "autograde" / "submitted" / student / assignment)
        nbgrader = api(scratch)
        run(nbgrader.generate_assignment(assignment, force=True, create=True), "generate_assignment")
        return median_seconds(lambda: run(nbgrader.autograde(assignment, student, force=True, create=True),
                                          "autograde"))


def main() -> None:
    """Print one line per assignment and a closing table."""
    root = course_root()
    rows = []
    for assignment in assignments(root):
        nb_med, nb_all = notebook_seconds(root, assignment)
        ag_med, ag_all = autograde_seconds(root, assignment)
        rows.append((assignment, nb_med, ag_med))
        print(f"{assignment}: notebook {nb_med:.1f} s (runs {', '.join(f'{t:.1f}' for t in nb_all)}), "
              f"autograde one submission {ag_med:.1f} s (runs {', '.join(f'{t:.1f}' for t in ag_all)})")
    print(f"\n{'assignment':<22}{'notebook s':>12}{'autograde s':>13}   (median of {REPEATS})")
    for assignment, nb_med, ag_med in rows:
        print(f"{assignment:<22}{nb_med:>12.1f}{ag_med:>13.1f}")


if __name__ == "__main__":
    main()
