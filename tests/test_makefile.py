"""The Makefile on a scratch copy of the tracked files: `make release` and `make autograde` with real nbgrader.

The scratch course (the ``course`` fixture in conftest.py) holds the example submissions, what a real
class produces (a known-wrong answer per assignment, invalid JSON, an empty file, a renamed notebook,
another kernelspec, a deleted test cell, no notebook, a folder that is not an assignment) and the
adversarial corpus of tests/adversarial.py. Every one is graded or reported, never a crash.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess

from autograde import assignments, notebook_names
from autograde.course import folders
from autograde.nbtools import read
from tests.conftest import ROOT, autograded_total, grades, run_grader, submit


def test_release_in_a_fresh_copy_matches_the_repository(course):
    course = course.root
    assert not (course / "release" / "stale.txt").exists()
    for a in assignments(course):
        for n in notebook_names(a, course):
            fresh, stored = read(course / "release" / a / f"{n}.ipynb"), read(ROOT / "release" / a / f"{n}.ipynb")
            assert [c.source for c in fresh.cells] == [c.source for c in stored.cells]


def test_autograde_exits_non_zero_when_a_submission_cannot_be_graded(course):
    assert course.graded.returncode == 2  # make's status when a recipe fails (the grader's own is 1)
    assert re.search(r"error: \d+ submission\(s\) could not be graded", course.graded.stderr)
    assert re.search(r"grading: 100%.*\d+/\d+ .*\d+ flagged, \d+ not graded", course.graded.stderr)  # progress bar


def test_a_selection_that_matches_nothing_says_so_and_exits_2(scratch_course):
    (folders(scratch_course).submitted / "alice" / "01_autodiff").mkdir(parents=True)
    proc = run_grader(scratch_course, "--student", "bob")
    assert proc.returncode == 2 and "error: no submission of student bob under" in proc.stderr, proc.stderr
    proc = run_grader(scratch_course, "--student", "alice", "--assignment", "01_autodif")
    assert proc.returncode == 2 and "student alice and assignment 01_autodif" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not folders(scratch_course).grades_csv.exists()


def test_an_empty_class_is_nothing_to_grade(scratch_course):
    proc = run_grader(scratch_course)
    assert proc.returncode == 0 and "nothing to grade: no submissions under" in proc.stdout, proc.stderr


def test_examples_are_graded(course):
    g = course.first
    course, graded = course.root, course.graded
    for a in assignments(course):
        full = autograded_total(course, a)
        assert float(g["example-complete", a]["score"]) == full
        assert float(g["example-blank", a]["score"]) == 0
        assert 0 < float(g["example-partial", a]["score"]) < full
        assert float(g["example-complete", a]["max_score"]) >= full
        assert g["example-complete", a]["status"] == "graded"
    assert "example-complete" in graded.stdout and "graded" in graded.stdout


def test_the_complete_examples_run_without_a_single_error_in_the_grading_kernel(course):
    # a locked cell failing in the sandboxed kernel (an import the sandbox withholds) costs the tests nothing, as
    # they run in the judge, but leaves the student's own code without the names that cell defines
    for a in assignments(course.root):
        for name in notebook_names(a, course.root):
            nb = read(folders(course.root).autograded / "example-complete" / a / f"{name}.ipynb")
            errors = [(c.metadata.get("nbgrader", {}).get("grade_id"), o.get("ename"), o.get("evalue"))
                      for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                      if o.get("output_type") == "error"]
            assert not errors, (a, errors)


def test_wrong_answer_loses_points_under_nbgrader(course):
    g = course.first
    course = course.root
    for a in assignments(course):
        assert g["wrong-answer", a]["status"] == "graded"
        assert float(g["wrong-answer", a]["score"]) < autograded_total(course, a)


def test_bad_files_are_reported_with_student_and_reason(course):
    g = course.first
    course, graded = course.root, course.graded
    for a in assignments(course):
        assert g["broken-json", a]["status"] == "error" and "not valid JSON" in g["broken-json", a]["message"]
        assert g["empty-file", a]["status"] == "error" and "empty file" in g["empty-file", a]["message"]
        assert g["broken-json", a]["score"] == ""  # never graded, nothing invented
        assert "missing notebook" in g["no-notebook", a]["message"] and float(g["no-notebook", a]["score"]) == 0
    for student in ("broken-json", "empty-file"):
        assert f"error: {student}/" in graded.stderr
    assert "typo-folder/01_autodif is not an assignment" in graded.stderr


def test_kernelspec_renamed_notebook_and_deleted_test_cells_do_not_cost_points(course):
    g = course.first
    course = course.root
    for a in assignments(course):  # both submissions hold the assignment's first notebook only
        first_notebook = autograded_total(course, a, notebook_names(a, course)[:1])
        assert float(g["renamed", a]["score"]) == first_notebook
        assert "renamed: my_answers.ipynb graded as" in g["renamed", a]["flags"]
        assert float(g["deleted-test", a]["score"]) == first_notebook
    first = assignments(course)[0]  # the kernelspec attack is in the first assignment's corpus only
    assert float(g["other-kernel", first]["score"]) == autograded_total(course, first)


def test_a_broken_resubmission_keeps_the_earlier_grade(course):
    course = course.root
    a = assignments(course)[0]
    name = notebook_names(a, course)[0]
    complete = folders(course).submitted / "example-complete" / a / f"{name}.ipynb"
    submit(course, "resubmitter", a, name, read(complete))

    def regrade(status):
        proc = run_grader(course, "--student", "resubmitter")
        assert proc.returncode == status, proc.stderr
        return grades(course)

    before = regrade(0)
    assert float(before["resubmitter", a]["score"]) == autograded_total(course, a)
    submit(course, "resubmitter", a, name, raw="not json at all")
    after = regrade(1)  # a submission that cannot be graded fails the run
    row = after["resubmitter", a]
    assert row["status"] == "error" and "earlier grades kept" in row["message"]
    assert row["score"] == before["resubmitter", a]["score"]
    assert after["example-complete", a]["status"] == "not regraded"  # the table still lists everyone
    assert after["example-complete", a]["score"] == before["example-complete", a]["score"]


def test_make_stops_with_one_line_naming_missing_system_packages(tmp_path):
    tools = tmp_path / "bin"  # a PATH with make and a shell but no bwrap, no chromium and no apt-get
    tools.mkdir()
    for tool in ("sh", "make", "id"):
        (tools / tool).symlink_to(shutil.which(tool))
    run = {"cwd": ROOT, "capture_output": True, "text": True, "timeout": 60}
    proc = subprocess.run(["make", "system-test"], env={"PATH": str(tools)}, **run)
    assert proc.returncode != 0 and proc.stderr.strip().splitlines()[0] == (
        "error: missing system packages: bubblewrap chromium: install them "
        "(sudo apt-get install bubblewrap chromium) and run make again"), proc.stderr
    proc = subprocess.run(["make", "system-grade"], env={"PATH": str(tools)}, **run)
    assert proc.returncode != 0 and "missing system packages: bubblewrap:" in proc.stderr
    proc = subprocess.run(["make", "system-test", "AUTOGRADE_SANDBOX=none", "CHROMIUM=/opt/chrome"],
                          env={"PATH": str(tools)}, **run)
    assert proc.returncode == 0, proc.stderr


def test_roster_and_export_by_question_and_for_canvas_agree_with_the_gradebook(course):
    from autograde.course import gradebook
    from tests.conftest import make

    root = course.root
    (root / "roster.csv").write_text("id,first_name,last_name,email,lms_user_id\n"
                                     "example-complete,Ada,Lovelace,ada@example.org,4711\n")
    assert make(root, "roster").returncode == 2  # no CSV given: one line, no traceback
    assert make(root, "roster", f"CSV={root / 'roster.csv'}").returncode == 0
    done = make(root, "export")
    assert done.returncode == 0, done.stdout + done.stderr
    with open(folders(root).export / "grades_by_question.csv") as f:
        rows = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(f)}
    first = assignments(root)[0]
    assert "kernel died" in rows["resource-exit", first]["flags"]
    with gradebook(root) as gb:
        for (student, a), row in rows.items():
            sub = gb.find_submission(a, student)
            assert float(row["total"]) == sub.score and float(row["max_score"]) == sub.max_score  # no late penalty
            graded = {f"{a}/{nb.name}:{g.name}": g.score for nb in sub.notebooks for g in nb.grades
                      if not g.needs_manual_grade}
            assert {k: float(row[k]) for k in graded} == graded
            assert float(row["autograded"]) + float(row["manual"]) == sum(graded.values())
            assert float(row["extra_credit"]) == float(row["late_penalty"]) == 0
        assert len(rows) == sum(1 for a in gb.assignments for s in a.submissions)
        with open(folders(root).export / f"canvas_{first}.csv") as f:
            canvas = list(csv.reader(f))
        assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", first]
        assert canvas[1][0] == "Points Possible" and float(canvas[1][-1]) == gb.find_assignment(first).max_score
        ada = next(r for r in canvas if r[2] == "example-complete")
        assert ada[:4] == ["Lovelace, Ada", "4711", "example-complete", "ada@example.org"]
        assert ada[-1] == ""  # its written answers wait for a grade: nothing to import yet
        blank = gb.find_submission(first, "example-blank")
        assert next(r for r in canvas if r[2] == "example-blank")[-1] == ("" if blank.needs_manual_grade else "0")
        broken = next(r for r in canvas if r[2] == "broken-json")
        assert broken[-1] == ""  # never graded: blank, not 0
        assert len(canvas) == 2 + len(gb.students)
