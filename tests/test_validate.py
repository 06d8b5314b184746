"""`make validate`: nbgrader's verdict, with an exit status that says it (nbgrader validate always exits 0)."""

import subprocess
import sys

from autograde.course import folders
from tests.conftest import ROOT


def validate(*paths) -> subprocess.CompletedProcess:
    """Run the course's validate command."""
    return subprocess.run([sys.executable, "-m", "autograde.validate", *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_complete_notebook_validates():
    path = folders(ROOT).submitted / "example-complete" / "01_autodiff" / "autodiff.ipynb"
    out = validate(path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success! Your notebook passes all the tests." in out.stdout


def test_incomplete_notebook_fails_validation():
    path = folders(ROOT).submitted / "example-partial" / "01_autodiff" / "autodiff.ipynb"
    out = validate(path)
    assert out.returncode == 1
    assert "VALIDATION FAILED" in out.stdout


def test_missing_file_fails_validation(tmp_path):
    out = validate(tmp_path / "nope.ipynb")
    assert out.returncode == 1 and "is not a file" in out.stderr
