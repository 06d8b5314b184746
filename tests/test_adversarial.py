"""Autograding that cannot be fooled and loses nothing: the adversarial corpus through real `make autograde`.

The corpus (tests/adversarial.py) is generated from every assignment's release and solutions; the
``course`` fixture grades it with ``make autograde JOBS=2``. Each submission must get the score its
honest content earns, with the expected flags, and nothing may leak to it or from it.
"""

from __future__ import annotations

import html
import re
import zipfile

import pytest

from autograde import assignments, notebook_names
from autograde.course import folders
from autograde.nbtools import HIDDEN_REGION, SOLUTION_REGION, read
from tests.conftest import CELL_TIMEOUT, NOTEBOOKS, ROOT, grades, make, run_grader


def _cases(course):
    """(student, assignment, expectation) of every corpus entry."""
    return sorted((s, a, e) for (s, a), e in course.expect.items())


def test_every_submission_gets_the_expected_score(course):
    g = course.first
    wrong = {}
    for student, a, e in _cases(course):
        row = g[student, a]
        if e.score is None:
            ok = row["status"] == "error" and row["score"] == "" and e.message in row["message"]
        else:
            ok = row["status"] == "graded" and float(row["score"]) == pytest.approx(e.score)
        if not ok:
            wrong[student, a] = (e.score, row["score"], row["status"], row["message"][:120])
    assert not wrong, wrong


def test_flags_name_what_was_detected(course):
    g = course.first
    for student, a, e in _cases(course):
        flags = g[student, a]["flags"]
        for text in e.flags:
            assert text in flags, (student, a, flags)
        if e.no_flags:
            assert flags == "", (student, a, flags)


def test_no_file_outside_the_working_copy_is_read_or_written(course):
    for student, a, e in _cases(course):
        if not (e.contains or e.lacks):
            continue
        path = folders(course.root).autograded / student / a / f"{notebook_names(a, course.root)[0]}.ipynb"
        text = path.read_text()
        for needle in e.contains:
            assert needle in text, (student, a, needle)
        for needle in e.lacks:
            assert needle not in text, (student, a, needle)
    assert not (folders(course.root).workspace / "pwned.txt").exists()


def test_no_link_special_file_or_set_id_bit_is_left_where_the_grader_writes(course):
    import stat

    planted = [p for p in folders(course.root).autograded.rglob("*")
               if p.is_symlink() or not (p.is_file() or p.is_dir())
               or p.lstat().st_mode & (stat.S_ISUID | stat.S_ISGID)]
    assert planted == []
    assert any((folders(course.root).autograded / "plant-links").rglob("py"))  # the copy stays, harmless


def test_summary_reports_graded_flagged_and_failed(course):
    out = course.graded.stdout
    summary = re.search(r"(\d+) graded, (\d+) flagged, (\d+) not graded", out)
    assert summary, out[-2000:]
    assert int(summary.group(2)) >= 10 and int(summary.group(3)) >= 4
    assert "flagged  resource-exit/" in out and "failed   broken-json/" in out
    print(f"corpus graded in {course.seconds:.0f} s with JOBS=2")


def test_feedback_shows_no_hidden_test(course):
    done = make(course.root, "feedback", "JOBS=2")
    assert done.returncode == 0, done.stderr
    hidden = {}  # per assignment, the lines only its hidden tests have: not in its release, not in a reference answer
    for a, n in NOTEBOOKS:
        text = "\n".join(c.source for c in read(ROOT / "source" / a / f"{n}.ipynb").cells)
        public = "\n".join(c.source for c in read(ROOT / "release" / a / f"{n}.ipynb").cells)
        public += "\n".join(m[1] for m in SOLUTION_REGION.findall(text))
        for region, _ in HIDDEN_REGION.findall(text):
            hidden.setdefault(a, set()).update(
                ln.strip() for ln in region.splitlines() if len(ln.strip()) > 15 and ln.strip() not in public)
    assert len(hidden) == len({a for a, _ in NOTEBOOKS}) and all(len(lines) > 3 for lines in hidden.values())
    pages = list(folders(course.root).feedback.glob("*/*/*.html"))
    assert len(pages) >= 20
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [ln for ln in hidden[page.parent.name] if ln in text]
        assert not leaked, (page, leaked[:3])
    wrong = (folders(course.root).feedback / "wrong-answer" / assignments(course.root)[0]).glob("*.html")
    assert any("HiddenTestFailed" in p.read_text() for p in wrong)
    for page in pages:  # each page is handed back in its student's zip for the assignment, and nothing else is
        student, assignment = page.parent.parent.name, page.parent.name
        with zipfile.ZipFile(folders(course.root).handback / assignment / f"{student}.zip") as zf:
            assert zf.read(f"{assignment}/{page.name}") == page.read_bytes()
            assert all(n.startswith(f"{assignment}/") and n.endswith(".html") for n in zf.namelist())


REGRADED = ["example-complete", "example-blank", "broken-json", "kernel-kill-and-fake", "kernel-thread", "liar",
            "resource-exit", "resource-loop", "resource-memory", "resource-output", "duplicated-cell", "plant-links",
            "stripped-metadata", "renamed", "noisy", "detect-env", "shortcut-reference"]
"""The first assignment's students graded again: the examples, a file that cannot be graded, and the attacks whose
grading depends on timing, the kernel's death or what the grader repairs."""


def test_grading_twice_gives_the_same_grades(course):
    """Regrading gives the same score, status and flags (two jobs), and leaves the others' grades as they were."""
    a = assignments(course.root)[0]
    first = {k: v for k, v in course.first.items() if k[1] == a and k[0] in REGRADED}
    students = [arg for s in REGRADED for arg in ("--student", s)]
    again = run_grader(course.root, "--assignment", a, *students, "--jobs", "2", AUTOGRADE_CELL_TIMEOUT=CELL_TIMEOUT)
    assert again.returncode == 1, again.stderr  # broken-json cannot be graded
    second = grades(course.root)
    keys = ("score", "status", "flags")
    assert len(first) == len(REGRADED) and set(first) <= set(second)
    assert {s for (s, b), row in second.items() if b == a and row["status"] != "not regraded"} == set(REGRADED)
    differ = {k: (first[k], second[k]) for k in first if any(first[k][f] != second[k][f] for f in keys)}
    assert not differ, differ


def test_a_notebook_over_its_time_limit_loses_only_the_cells_not_run(course):
    from autograde.nbtools import autograded_points, grade_id, is_solution, strip_markers, with_solutions
    from tests.conftest import submit

    a = assignments(course.root)[0]
    name = notebook_names(a, course.root)[0]
    source = read(course.root / "source" / a / f"{name}.ipynb")
    answers = [grade_id(c) for c in source.cells if is_solution(c) and c.cell_type == "code"]
    first = next(c for c in source.cells if grade_id(c) == answers[0])
    slow = with_solutions(read(course.root / "release" / a / f"{name}.ipynb"), source,
                          replace={answers[0]: "import time\ntime.sleep(12)\n" + strip_markers(first.source)})
    submit(course.root, "slow", a, name, slow)
    out = run_grader(course.root, "--student", "slow", AUTOGRADE_NOTEBOOK_TIMEOUT="8")
    assert out.returncode == 0, out.stderr
    row = grades(course.root)["slow", a]
    after = False
    lost = 0.0
    points = autograded_points(source)
    for cell in source.cells:  # every test after the slow answer is not run
        after = after or grade_id(cell) == answers[0]
        if after and grade_id(cell) in points:
            lost += points[grade_id(cell)]
    assert lost > 0 and float(row["score"]) == sum(points.values()) - lost
    assert "time limit" in row["flags"]
