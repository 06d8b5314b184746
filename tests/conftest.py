"""Shared fixtures: the repository's paths, its notebooks, and scratch course folders."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograde import assignments, notebook_names  # noqa: E402

NOTEBOOKS = [(a, n) for a in assignments(ROOT) for n in notebook_names(a, ROOT)]
"""Every (assignment, notebook name) pair of the course."""


def pytest_configure(config):
    """Draw figures off screen."""
    import matplotlib

    matplotlib.use("Agg")


@pytest.fixture
def scratch_course(tmp_path):
    """A course folder holding a copy of source/ and nbgrader_config.py, with an empty gradebook."""
    shutil.copytree(ROOT / "source", tmp_path / "source")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    (tmp_path / "autograde").mkdir()
    return tmp_path
