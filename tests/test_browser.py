"""The student's path in a real browser: JupyterLab with nbgrader's extensions, Run All, Validate.

Headless Chromium (Debian's ``chromium``) drives JupyterLab started from this virtual environment in a
temporary root holding what a student has, a copy of ``release/``, plus copies written by the test.
For every release notebook the untouched notebook runs until its first stub. For the first notebook a
copy whose solution cells hold the reference solutions runs with Run All and passes Validate, and a copy
with one answer left as the stub fails Validate. One JupyterLab server works at a time, as on a student's
laptop. The other solutions are executed by nbval (``notebooks/``) and their answers checked by grading the
complete examples; Validate's button is the same for every notebook.
Screenshots and times go to ``tests/artifacts/browser/``.
The in-process tests and nbval are the fast equivalents; this test proves the user interface.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from autograde.nbtools import grade_id, is_autograded_test, is_solution, read, with_solutions
from tests.browser import BIN, Job, Lab, chromium, jupyter, run_jobs, student_env
from tests.conftest import NOTEBOOKS, ROOT

ARTIFACTS = ROOT / "tests" / "artifacts" / "browser"
PARTIAL = NOTEBOOKS[0]
"""The notebook whose filled copy runs with Run All and passes Validate, and whose last answer is left unfilled for
Validate to reject."""


def unfilled_cell(nb) -> str:
    """The grade id of the answer the partial copy leaves as the stub: the notebook's last code answer."""
    return [grade_id(c) for c in nb.cells if is_solution(c) and c.cell_type == "code"][-1]


def write_student_files(root) -> None:
    """Copy release/ into ``root``; write the first notebook's filled (``filled/``) and partial copies."""
    shutil.copytree(ROOT / "release", root / "release")
    for assignment, name in NOTEBOOKS:
        if not (root / "release" / assignment / f"{name}.ipynb").is_file():
            pytest.fail(f"release/{assignment}/{name}.ipynb is missing: run `make release`")
    assignment, name = PARTIAL
    release = read(root / "release" / assignment / f"{name}.ipynb")
    source = read(ROOT / "source" / assignment / f"{name}.ipynb")
    answers = {grade_id(c) for c in release.cells if is_solution(c)}
    copies = {"filled": with_solutions(release, source),
              "partial": with_solutions(release, source, only=answers - {unfilled_cell(release)})}
    for kind, nb in copies.items():
        shutil.copytree(root / "release" / assignment, root / kind / assignment, dirs_exist_ok=True)
        nbformat.write(nb, str(root / kind / assignment / f"{name}.ipynb"))


def jobs() -> list[Job]:
    """Every notebook's browser jobs."""
    filled = Job(("filled", *PARTIAL), "filled/{}/{}.ipynb".format(*PARTIAL), run_all=True, validate=True)
    partial = Job(("partial", *PARTIAL), "partial/{}/{}.ipynb".format(*PARTIAL), run_all=False, validate=True)
    untouched = [Job(("untouched", a, n), f"release/{a}/{n}.ipynb", run_all=True, validate=False)
                 for a, n in NOTEBOOKS]
    return [filled, partial, *untouched]


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """Every job done in the browser, the servers shut down; results by (kind, assignment, name)."""
    try:
        chromium()
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), ARTIFACTS / "times.txt"]:
        old.unlink(missing_ok=True)
    todo = jobs()
    labs = [Lab(tmp_path_factory.mktemp("lab"))]
    start = time.perf_counter()
    try:
        for lab in labs:
            write_student_files(lab.root)
            lab.start()
        for lab in labs:
            lab.wait_ready()
        results = run_jobs(todo, labs, ARTIFACTS)
    finally:
        for lab in labs:
            lab.stop()
    seconds = time.perf_counter() - start
    running = [lab.url for lab in labs if lab.proc is not None and lab.proc.poll() is None]
    assert not running, f"JupyterLab still running after shutdown: {running}"
    times = [f"{'/'.join(k[1:])} {k[0]}: {r.seconds:.1f} s {r.steps}" + (f", {r.interrupted} cell(s) interrupted"
                                                                         if r.interrupted else "")
             for k, r in results.items()]
    (ARTIFACTS / "times.txt").write_text("\n".join([*times, f"total: {seconds:.1f} s", ""]))
    return SimpleNamespace(results=results, seconds=seconds)


def result(student, kind, assignment, name):
    """The job's result; the test fails with the job's error and screenshot if the browser path broke."""
    r = student.results[(kind, assignment, name)]
    if r.error:
        pytest.fail(f"{kind} {assignment}/{name}: {r.error}\nscreenshot: {r.screenshot}")
    return r


def run_all_problems(nb) -> list[str]:
    """What went wrong in a filled notebook saved after Run All: every code cell must have run without error."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    problems = [f"{where(c, i)} failed: {errors(c)}" for i, c in enumerate(code) if errors(c)]
    not_run = [where(c, i) for i, c in enumerate(code) if c.execution_count is None]
    if not_run:
        problems.append(f"{len(not_run)} code cell(s) did not run, from {not_run[0]} on")
    return problems


def stub_run_problems(nb) -> list[str]:
    """What went wrong in an untouched notebook saved after Run All.

    Run All must stop at the first cell that fails, with the stub's NotImplementedError, in an answer
    or in a test calling one; every cell before it ran without error and none after it ran.
    """
    code = [c for c in nb.cells if c.cell_type == "code"]
    failing = [i for i, c in enumerate(code) if errors(c)]
    if not failing:
        return ["no cell failed: the stubs should raise NotImplementedError"]
    stop, first_answer = failing[0], next(i for i, c in enumerate(code) if is_solution(c))
    problems = [f"{where(c, i)} should run without error; got {errors(c) or 'not run'}"
                for i, c in enumerate(code[:stop]) if c.execution_count is None or errors(c)]
    cell = code[stop]
    if stop < first_answer or not (is_solution(cell) or is_autograded_test(cell)):
        problems.append(f"{where(cell, stop)} failed, but it is neither an answer nor a test of one")
    if [e.split(":")[0] for e in errors(cell)] != ["NotImplementedError"]:
        problems.append(f"{where(cell, stop)} should fail with the stub's NotImplementedError; got {errors(cell)}")
    problems += [f"{where(c, stop + 1 + i)} ran after the first error: Run All should have stopped"
                 for i, c in enumerate(code[stop + 1:]) if c.execution_count is not None]
    return problems


def errors(cell) -> list[str]:
    """The errors a code cell shows, as 'Name: value'."""
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def where(cell, i: int) -> str:
    """A cell named for messages: its grade id, or its position and first line."""
    return grade_id(cell) or f"code cell {i + 1} ({(cell.source.splitlines() or [''])[0]})"


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_untouched_notebook_runs_until_its_first_stub(student, assignment, name):
    r = result(student, "untouched", assignment, name)
    problems = stub_run_problems(r.saved)
    assert not problems, "\n".join(problems)


def test_filled_notebook_runs_without_error(student):
    r = result(student, "filled", *PARTIAL)
    problems = run_all_problems(r.saved)
    assert not problems, "\n".join(problems)


def test_validate_accepts_the_filled_notebook(student):
    r = result(student, "filled", *PARTIAL)
    assert r.verdict == "validation-success", f"{r.dialog}\nscreenshot: {r.screenshot}"
    assert "Success! Your notebook passes all the tests." in r.dialog
    assert r.interrupted == 0, "Validate interrupted a cell at nbgrader's per-cell timeout"


def test_validate_reports_the_unfilled_answer(student):
    r = result(student, "partial", *PARTIAL)
    release = read(ROOT / "release" / PARTIAL[0] / f"{PARTIAL[1]}.ipynb")
    ids = [grade_id(c) for c in release.cells]
    tests_after = [c.source.strip() for c in release.cells[ids.index(unfilled_cell(release)):] if is_autograded_test(c)]
    assert r.verdict == "validation-failed", f"{r.dialog}\nscreenshot: {r.screenshot}"
    assert r.failed_sources and r.failed_sources[0] == tests_after[0], r.dialog
    assert set(r.failed_sources) <= set(tests_after), "a cell that does not depend on the unfilled answer failed"
    assert "NotImplementedError" in r.dialog


def test_screenshots_are_saved(student):
    shots = {r.screenshot for r in student.results.values()}
    assert all(s is not None and s.is_file() and s.stat().st_size > 0 for s in shots), shots
    assert len(shots) == len(student.results)


def test_nbgrader_extensions_are_enabled(tmp_path):
    import nbgrader

    env = student_env(tmp_path)
    server, lab = jupyter(env, "server", "extension", "list"), jupyter(env, "labextension", "list")
    for ext in ("nbgrader.server_extensions.validate_assignment", "nbgrader.server_extensions.assignment_list"):
        assert f"{ext} enabled" in server, server
        assert re.search(rf"^\s+{re.escape(ext)}\s+(\S+\s+)?OK$", server, re.M), server
    assert re.search(rf"@jupyter/nbgrader v{re.escape(nbgrader.__version__)}\s+enabled\s+OK", lab), lab


def test_validate_sees_no_course_config(tmp_path):
    """The Validate handler reads nbgrader_config.py from the server's folder and Jupyter's config path."""
    lab = Lab(tmp_path)
    write_student_files(lab.root)
    out = subprocess.run([str(BIN / "jupyter"), "--paths", "--json"], env=student_env(lab.home),
                         capture_output=True, text=True, check=True).stdout
    found = [p for p in [lab.root, *map(Path, json.loads(out)["config"])] if (p / "nbgrader_config.py").exists()]
    assert not found, f"a student's Validate would read {found}"
    assert (ROOT / "nbgrader_config.py").is_file()  # the course's config exists, only not where students look
