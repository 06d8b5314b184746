"""The Makefile on a scratch copy of the tracked files: `make release` and `make autograde` with real nbgrader.

Besides the example submissions, the scratch course gets submissions a real class produces: a known-wrong
answer per assignment, invalid JSON, an empty file, a renamed notebook, another kernelspec, a deleted
test cell, and a folder that is not an assignment. Every one is graded or reported, never a crash.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde import assignments, notebook_names
from autograde.nbtools import autograded_points, is_autograded_test, read, replace_in_solution, with_solutions
from conftest import ROOT
from wrong import catalogue

VENV = Path(sys.prefix)  # the virtual environment running the tests


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
    return subprocess.run(["make", f"VENV={VENV}", "-o", f"{VENV}/.installed", *targets], cwd=course,
                          capture_output=True, text=True, timeout=1200)


def submit(course: Path, student: str, assignment: str, name: str, nb=None, raw: str | None = None) -> None:
    """Place a submitted notebook (a notebook object or raw file text) for ``student``."""
    path = course / "autograde" / "submitted" / student / assignment / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        path.write_text(raw)
    else:
        nbformat.write(nb, str(path))


def grades(course: Path) -> dict[tuple[str, str], dict]:
    """grades.csv as a dict keyed by (student_id, assignment)."""
    with open(course / "autograde" / "grades.csv") as f:
        return {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A scratch course after `make release` and `make autograde`, with the outputs of both."""
    course = tracked_copy(tmp_path_factory.mktemp("clone"))
    for stale in (course / "release").glob("*/*.ipynb"):  # a folder named like the target must not stop make
        stale.unlink()
    (course / "release" / "stale.txt").write_text("left over from an old release")
    released = make(course, "release")
    assert released.returncode == 0, released.stdout + released.stderr
    for a in assignments(course):
        first = notebook_names(a, course)[0]
        source = read(course / "source" / a / f"{first}.ipynb")
        release = read(course / "release" / a / f"{first}.ipynb")
        complete = with_solutions(release, source)
        w = catalogue(a)[0]
        submit(course, "wrong-answer", a, first, with_solutions(release, source, replace={
            w.cell: replace_in_solution(source, w.cell, w.old, w.new)}))
        submit(course, "broken-json", a, first, raw='{"cells": [')
        submit(course, "empty-file", a, first, raw="")
        submit(course, "renamed", a, "my_answers", complete)
        (course / "autograde" / "submitted" / "no-notebook" / a).mkdir(parents=True)
        (course / "autograde" / "submitted" / "no-notebook" / a / "notes.txt").write_text("forgot the notebook")
        other = nbformat.from_dict(json.loads(nbformat.writes(complete)))
        other.metadata["kernelspec"] = {"name": "no-such-kernel", "display_name": "Nope", "language": "python"}
        submit(course, "other-kernel", a, first, other)
        deleted = nbformat.from_dict(json.loads(nbformat.writes(complete)))
        first_test = next(i for i, c in enumerate(deleted.cells) if is_autograded_test(c))
        del deleted.cells[first_test]
        submit(course, "deleted-test", a, first, deleted)
    submit(course, "typo-folder", "01_autodif", "autodiff", raw="{}")
    graded = make(course, "autograde")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    return course, released, graded


def _max_auto(course: Path, a: str) -> float:
    """Autograded points of an assignment."""
    return sum(sum(autograded_points(read(course / "source" / a / f"{n}.ipynb")).values())
               for n in notebook_names(a, course))


def test_release_in_a_fresh_copy_matches_the_repository(course):
    course, released, _ = course
    assert not (course / "release" / "stale.txt").exists()
    for a in assignments(course):
        for n in notebook_names(a, course):
            fresh, stored = read(course / "release" / a / f"{n}.ipynb"), read(ROOT / "release" / a / f"{n}.ipynb")
            assert [c.source for c in fresh.cells] == [c.source for c in stored.cells]


def test_examples_are_graded(course):
    course, _, graded = course
    g = grades(course)
    for a in assignments(course):
        full = _max_auto(course, a)
        assert float(g["example-complete", a]["score"]) == full
        assert float(g["example-blank", a]["score"]) == 0
        assert 0 < float(g["example-partial", a]["score"]) < full
        assert float(g["example-complete", a]["max_score"]) >= full
        assert g["example-complete", a]["status"] == "graded"
    assert "example-complete" in graded.stdout and "graded" in graded.stdout


def test_wrong_answer_loses_points_under_nbgrader(course):
    course, _, _ = course
    g = grades(course)
    for a in assignments(course):
        assert g["wrong-answer", a]["status"] == "graded"
        assert float(g["wrong-answer", a]["score"]) < _max_auto(course, a)


def test_bad_files_are_reported_with_student_and_reason(course):
    course, _, graded = course
    g = grades(course)
    for a in assignments(course):
        assert g["broken-json", a]["status"] == "error" and "not valid JSON" in g["broken-json", a]["message"]
        assert g["empty-file", a]["status"] == "error" and "empty file" in g["empty-file", a]["message"]
        assert g["broken-json", a]["score"] == ""  # never graded, nothing invented
        assert "missing notebook" in g["no-notebook", a]["message"] and float(g["no-notebook", a]["score"]) == 0
    for student in ("broken-json", "empty-file"):
        assert f"error: {student}/" in graded.stderr
    assert "typo-folder/01_autodif is not an assignment" in graded.stderr


def test_kernelspec_renamed_notebook_and_deleted_test_cells_do_not_cost_points(course):
    course, _, _ = course
    g = grades(course)
    for a in assignments(course):
        assert float(g["renamed", a]["score"]) == _max_auto(course, a)
        assert "renamed: my_answers.ipynb graded as" in g["renamed", a]["flags"]
        assert float(g["other-kernel", a]["score"]) == _max_auto(course, a)
        assert float(g["deleted-test", a]["score"]) == _max_auto(course, a)


def test_a_broken_resubmission_keeps_the_earlier_grade(course):
    course, _, _ = course
    a = assignments(course)[0]
    before = grades(course)["example-complete", a]["score"]
    submit(course, "example-complete", a, notebook_names(a, course)[0], raw="not json at all")
    proc = subprocess.run([sys.executable, "-m", "autograde.grade", "--student", "example-complete"], cwd=course,
                          capture_output=True, text=True, env={**os.environ, "COURSE_ROOT": str(course)})
    assert proc.returncode == 0, proc.stderr
    row = grades(course)["example-complete", a]
    assert row["status"] == "error" and "earlier grades kept" in row["message"]
    assert row["score"] == before != ""
