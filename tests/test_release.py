"""autograde.release: regenerating an assignment whose cells changed after it was graded stops with a message."""

import subprocess
import sys

import nbformat

from autograde import ROOT
from autograde.course import gradebook
from autograde.release import generate_assignment


def test_a_changed_assignment_with_graded_submissions_gets_a_clear_message(scratch_course):
    a = "01_autodiff"
    generate_assignment(a, scratch_course)
    with gradebook(scratch_course) as gb:
        gb.update_or_create_student("ada")
        gb.add_submission(a, "ada")
    path = scratch_course / "source" / a / "autodiff.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    cell = nbformat.v4.new_markdown_cell("A new question.", metadata={"nbgrader": {
        "grade": False, "grade_id": "new_question", "locked": True, "schema_version": 3, "solution": False,
        "task": False}})
    nb.cells.append(cell)
    nbformat.write(nb, str(path))
    done = subprocess.run([sys.executable, "-m", "autograde.release"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "COURSE_ROOT": str(scratch_course)}, timeout=300)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"error: {a} has cells added or removed since submissions of it were graded" in done.stderr
    assert f"nbgrader db assignment remove {a} --force" in done.stderr
