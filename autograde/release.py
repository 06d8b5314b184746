"""Regenerate ``release/`` (the student versions) from ``source/`` with nbgrader: ``make release``."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import assignments, course_root
from .course import api, run


def generate_assignment(assignment: str, root: Path, release_dir: str = "release") -> None:
    """Run nbgrader's generate_assignment (forced) into ``release_dir``; this also updates the gradebook."""
    nbgrader = api(root, CourseDirectory__release_directory=release_dir)
    run(nbgrader.generate_assignment(assignment, force=True, create=True), f"generate_assignment {assignment}")


def main() -> None:
    """Delete ``release/`` and rebuild it from every assignment under ``source/``."""
    root = course_root()
    shutil.rmtree(root / "release", ignore_errors=True)
    for assignment in assignments(root):
        generate_assignment(assignment, root)
        print(f"released {assignment} -> release/{assignment}/")


if __name__ == "__main__":
    main()
