"""Instructor tooling: releasing, executing and autograding the course notebooks with nbgrader.

Run from the repository root, e.g. ``python -m autograde.grade``; the Makefile wraps every entry point.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The course root: the folder holding ``nbgrader_config.py``."""


def course_root() -> Path:
    """The course root in use: ``$COURSE_ROOT`` when set (scratch copies in tests), else the repository."""
    return Path(os.environ.get("COURSE_ROOT", ROOT)).resolve()


def cores() -> int:
    """The cores this process may run on: its CPU affinity (a cluster job's share), not the whole machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform (macOS, Windows)
        return os.cpu_count() or 1


def assignments(root: Path | None = None) -> list[str]:
    """Names of the assignments under ``source/``, in order."""
    src = (root or course_root()) / "source"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))


def notebook_names(assignment: str, root: Path | None = None) -> list[str]:
    """Names (without ``.ipynb``) of the notebooks of an assignment, from its source folder."""
    src = (root or course_root()) / "source" / assignment
    return sorted(p.stem for p in src.glob("*.ipynb"))

