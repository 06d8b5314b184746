"""Regenerate ``release/`` (the student versions) from ``source/`` with nbgrader: ``make release``."""

from __future__ import annotations

import shutil
from pathlib import Path

from . import assignments, course_root
from .course import api, run


def generate_assignment(assignment: str, root: Path, release_dir: str = "release") -> None:
    """Run nbgrader's generate_assignment (forced) into ``release_dir``; this also updates the gradebook.

    When the source has gained or lost cells since submissions of it were graded, nbgrader refuses: this stops
    with a message saying how to go on."""
    nbgrader = api(root, CourseDirectory__release_directory=release_dir)
    try:
        run(nbgrader.generate_assignment(assignment, force=True, create=True), f"generate_assignment {assignment}")
    except RuntimeError as exc:
        if "there are submissions associated" not in str(exc):
            raise
        raise SystemExit(f"error: {assignment} has cells added or removed since submissions of it were graded, and "
                         f"nbgrader keeps a graded assignment's cells; to use the new version, remove the old one from "
                         f"the gradebook (nbgrader db assignment remove {assignment} --force, which drops its grades) "
                         f"or start from an empty gradebook") from None


def main() -> None:
    """Delete ``release/`` and rebuild it from every assignment under ``source/``."""
    root = course_root()
    shutil.rmtree(root / "release", ignore_errors=True)
    for assignment in assignments(root):
        generate_assignment(assignment, root)
        print(f"released {assignment} -> release/{assignment}/")


if __name__ == "__main__":
    main()
