"""The instructor's path in a real browser: nbgrader's formgrader in JupyterLab on the graded class.

A manual grade and a comment entered for a written answer reach the gradebook, `make export` and the
student's feedback.
"""

from __future__ import annotations

import csv
import html
import re
import shutil

import pytest

from autograde import assignments, notebook_names
from autograde.course import folders
from autograde.nbtools import is_solution, nbgrader_meta, read
from tests.browser import Lab, chromium
from tests.conftest import ROOT, make, run_grader

STUDENT = "formgrader-student"
ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"


def _written_answer(source) -> tuple[str, float]:
    """Grade id and points of the first answer graded by hand (a markdown answer cell with points)."""
    cell = next(c for c in source.cells
                if c.cell_type == "markdown" and is_solution(c) and nbgrader_meta(c).get("grade"))
    return nbgrader_meta(cell)["grade_id"], float(nbgrader_meta(cell)["points"])


def test_a_manual_grade_and_comment_entered_in_the_formgrader_reach_export_and_feedback(course, tmp_path):
    from playwright.sync_api import sync_playwright

    from autograde.course import gradebook

    root = course.root
    a = assignments(root)[0]
    name = notebook_names(a, root)[0]
    shutil.copytree(folders(root).submitted / "example-complete" / a,
                    folders(root).submitted / STUDENT / a)
    graded = run_grader(root, "--student", STUDENT)
    assert graded.returncode == 0, graded.stderr
    cell, points = _written_answer(read(root / "source" / a / f"{name}.ipynb"))
    score, comment = points - 1, "Right idea; label the intermediate values."
    with gradebook(root) as gb:
        notebook_id = gb.find_submission_notebook(name, a, STUDENT).id
    try:
        chromium()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    lab = Lab(tmp_path, root=root)
    lab.start()
    try:
        lab.wait_ready()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=["--disable-dev-shm-usage"])
            try:
                page = browser.new_context(extra_http_headers={"Authorization": f"token {lab.token}"}).new_page()
                page.set_default_timeout(120_000)  # a loaded machine (the other test worker) is slow, not wrong
                # the form saves a field once its scripts have loaded the submission: wait for that first
                page.goto(f"{lab.url}/formgrader/submissions/{notebook_id}/", wait_until="networkidle")
                for field, value, api in ((f"input.score#{cell}", f"{score:g}", "grade"),
                                          (f"textarea#{cell}-comment", comment, "comment")):
                    page.locator(field).fill(value)
                    with page.expect_response(lambda r, api=api: f"/formgrader/api/{api}/" in r.url
                                              and r.request.method == "PUT") as saved:
                        page.keyboard.press("Tab")  # leaving the field saves it
                    assert saved.value.ok, (api, saved.value.status)
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(ARTIFACTS / "formgrader.png"), full_page=False)
            finally:
                browser.close()
    finally:
        lab.stop()
    with gradebook(root) as gb:
        grade = gb.find_grade(cell, name, a, STUDENT)
        assert grade.manual_score == score and gb.find_comment(cell, name, a, STUDENT).manual_comment == comment
    assert make(root, "export").returncode == 0
    with open(folders(root).export / "grades_by_question.csv") as f:
        row = next(r for r in csv.DictReader(f) if (r["student_id"], r["assignment"]) == (STUDENT, a))
    assert float(row[f"{a}/{name}:{cell}"]) == score and float(row["manual"]) == score
    done = run_grader(root, "--feedback", "--student", STUDENT)
    assert done.returncode == 0, done.stderr
    page = html.unescape(re.sub(r"<[^>]+>", " ", (folders(root).feedback / STUDENT / a /
                                                    f"{name}.html").read_text()))
    assert comment in page
