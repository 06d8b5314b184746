"""Shared fixtures: the repository's paths, its notebooks, and scratch course folders."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from xdist.scheduler import LoadScopeScheduling

from autograde import ROOT, assignments, notebook_names
from autograde.course import folders

# Waiting OpenMP threads (torch's) sleep instead of spinning, in the workers and everything they start: with more busy
# processes than cores, spinning threads starve the others (two test_batched.py runs side by side: 300 s, not 24 s).
# Not for a notebook alone, whose small multi-threaded torch operations it slows (03: 77 s instead of 61 s).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

NOTEBOOKS = [(a, n) for a in assignments(ROOT) for n in notebook_names(a, ROOT)]
"""Every (assignment, notebook name) pair of the course."""


def pytest_configure(config):
    """Draw figures off screen."""
    import matplotlib

    matplotlib.use("Agg")


SLOW_FIXTURES = {"course", "cluster", "student"}
"""Fixtures that grade the corpus, start a Dask cluster or drive browsers: their tests are marked ``slow``."""
SLOW_FILES = {"test_collect.py", "test_validate.py", "test_release.py", "test_makefile.py", "test_browser.py"}
"""Files whose every test runs make, a browser's server or nbgrader on whole notebooks (intake, validation,
release of a changed course)."""


COURSE_FILES = {"test_adversarial.py", "test_cluster.py", "test_formgrader.py", "test_makefile.py"}
"""Files with tests on the graded scratch course: one parallel worker runs them all, so the course is graded once."""


def work_unit(nodeid: str) -> str:
    """The unit a parallel worker runs whole: a test file, a notebook (its cells share one kernel), or the course."""
    path = nodeid.split("::", 1)[0]
    return "course" if Path(path).name in COURSE_FILES else path


class CourseScheduling(LoadScopeScheduling):
    """pytest-xdist's scope scheduling with the course's work units, in collection order (--no-loadscope-reorder)."""

    def _split_scope(self, nodeid: str) -> str:
        """The work unit of a test."""
        return work_unit(nodeid)


def pytest_xdist_make_scheduler(config, log):
    """Send each work unit to one worker (pytest -n)."""
    return CourseScheduling(config, log)


def pytest_collection_modifyitems(config, items):
    """Mark ``slow`` every test that grades through make, drives a browser, starts a cluster, runs a notebook or
    runs nbgrader on whole notebooks; refuse a course test outside COURSE_FILES (it would grade the course twice);
    run the course's tests first, then the notebooks, then the rest (the longest work units first)."""
    items.sort(key=lambda item: (work_unit(item.nodeid) != "course", item.path.suffix != ".ipynb"))  # stable
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & fixtures or item.path.suffix == ".ipynb" or item.path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if "course" in fixtures and item.path.name not in COURSE_FILES:
            raise pytest.UsageError(f"{item.nodeid} uses the course fixture: add {item.path.name} to COURSE_FILES "
                                    "in tests/conftest.py")


@pytest.fixture
def scratch_course(tmp_path):
    """A course folder holding a copy of source/ and nbgrader_config.py, with an empty gradebook."""
    shutil.copytree(ROOT / "source", tmp_path / "source")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    folders(tmp_path).workspace.mkdir()
    return tmp_path


VENV = Path(sys.prefix)  # the virtual environment running the tests
CELL_TIMEOUT = "20"  # seconds per cell while grading the corpus (an infinite loop is in it; importing torch is not)


def tracked_copy(dest: Path) -> Path:
    """Copy the files git tracks (plus new, not ignored ones) into ``dest``, as a fresh clone has them."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split("\0")
    for rel in filter(None, files):
        if (ROOT / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    return dest


def make(course: Path, *targets: str) -> subprocess.CompletedProcess:
    """Run make in ``course`` with the test's virtual environment (never reinstalled)."""
    env = {**os.environ, "AUTOGRADE_CELL_TIMEOUT": CELL_TIMEOUT}
    return subprocess.run(["make", f"VENV={VENV}", "-o", f"{VENV}/.installed", *targets], cwd=course,
                          capture_output=True, text=True, timeout=1800, env=env)


def run_grader(course: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m autograde.grade args`` on the course at ``course`` (extra environment variables as keywords)."""
    return subprocess.run([sys.executable, "-m", "autograde.grade", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "COURSE_ROOT": str(course), **env}, timeout=1800)


def submit(course: Path, student: str, assignment: str, name: str, nb=None, raw: str | None = None) -> None:
    """Place a submitted notebook (a notebook object or raw file text) for ``student``."""
    path = folders(course).submitted / student / assignment / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_text(raw)
    else:
        nbformat.write(nb, str(path))


def autograded_total(course: Path, assignment: str, names=None) -> float:
    """Autograded points of an assignment's notebooks ``names`` (default: all of them) in ``course``."""
    from autograde.nbtools import autograded_points, read

    return sum(sum(autograded_points(read(course / "source" / assignment / f"{n}.ipynb")).values())
               for n in (names or notebook_names(assignment, course)))


def grades(course: Path) -> dict[tuple[str, str], dict]:
    """grades.csv as a dict keyed by (student_id, assignment)."""
    with open(folders(course).grades_csv) as f:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def course(tmp_path_factory):
    """A scratch copy of the tracked files after `make release` and `make autograde JOBS=2`.

    Besides the examples it holds the submissions of a real class and the adversarial corpus.
    """
    from autograde.nbtools import is_autograded_test, read, replace_in_solution, with_solutions
    from tests.adversarial import add_corpus
    from tests.wrong import catalogue

    root = tracked_copy(tmp_path_factory.mktemp("clone"))
    for stale in (root / "release").glob("*/*.ipynb"):  # a folder named like the target must not stop make
        stale.unlink()
    (root / "release" / "stale.txt").write_text("left over from an old release")
    released = make(root, "release")
    assert released.returncode == 0, released.stdout + released.stderr
    for a in assignments(root):
        first = notebook_names(a, root)[0]
        source = read(root / "source" / a / f"{first}.ipynb")
        release = read(root / "release" / a / f"{first}.ipynb")
        w = catalogue(a)[0]
        submit(root, "wrong-answer", a, first, with_solutions(release, source, replace={
            w.cell: replace_in_solution(source, w.cell, w.old, w.new)}))
        deleted = with_solutions(release, source)
        del deleted.cells[next(i for i, c in enumerate(deleted.cells) if is_autograded_test(c))]
        submit(root, "deleted-test", a, first, deleted)
        (folders(root).submitted / "no-notebook" / a).mkdir(parents=True)
        (folders(root).submitted / "no-notebook" / a / "notes.txt").write_text("forgot the notebook")
    submit(root, "typo-folder", "01_autodif", "autodiff", raw="{}")
    expect = add_corpus(root, ROOT)
    start = time.perf_counter()
    graded = make(root, "autograde", "JOBS=2")
    seconds = time.perf_counter() - start
    # the class holds files that cannot be graded: the grader exits 1, and make with 2
    assert graded.returncode == 2 and "could not be graded" in graded.stderr, graded.stdout + graded.stderr
    return SimpleNamespace(root=root, released=released, graded=graded, expect=expect, seconds=seconds,
                           first=grades(root))  # the grade table of this run (later tests regrade some students)
