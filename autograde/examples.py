"""Regenerate the example submissions under ``autograde/submitted/``: ``make examples``.

Three fake students per assignment, built from the release and the reference solutions:
``example-complete`` (every answer), ``example-partial`` (the first half of the code answers)
and ``example-blank`` (the release notebook untouched). Real students' folders are never touched.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from . import assignments, course_root, notebook_names
from .course import folders
from .nbtools import grade_id, is_solution, read, with_solutions

EXAMPLES = ("example-complete", "example-partial", "example-blank")


def example_notebook(kind: str, release_nb, source_nb):
    """The notebook a student of the given kind would submit."""
    if kind == "example-complete":
        return with_solutions(release_nb, source_nb)
    if kind == "example-partial":
        code_answers = [grade_id(c) for c in source_nb.cells if is_solution(c) and c.cell_type == "code"]
        return with_solutions(release_nb, source_nb, only=set(code_answers[: len(code_answers) // 2]))
    return release_nb


def build(root: Path, dest: Path) -> None:
    """Write every example submission of every assignment under ``dest``."""
    for kind in EXAMPLES:
        shutil.rmtree(dest / kind, ignore_errors=True)
    for assignment in assignments(root):
        for name in notebook_names(assignment, root):
            source_nb = read(root / "source" / assignment / f"{name}.ipynb")
            release_nb = read(root / "release" / assignment / f"{name}.ipynb")
            for kind in EXAMPLES:
                out = dest / kind / assignment / f"{name}.ipynb"
                out.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(example_notebook(kind, release_nb, source_nb), str(out))


def main() -> None:
    """Rebuild the example submissions from ``release/`` and ``source/``."""
    root = course_root()
    build(root, folders(root).submitted)
    print(f"wrote {', '.join(EXAMPLES)} under autograde/submitted/")


if __name__ == "__main__":
    main()
