"""The autograder is itself tested: full marks for the reference, zero for the stub, and every
known-wrong implementation loses the points of the tests it should fail.

Notebooks run in this process (see :mod:`autograde.inprocess`); one run per assignment also goes
through real ``nbgrader autograde`` in ``test_makefile.py``.
"""

from __future__ import annotations

from collections import Counter

import pytest

from autograde.inprocess import run_cells
from autograde.nbtools import autograded_points, cell_by_id, read, replace_in_solution, stubbed, with_solutions
from tests.conftest import NOTEBOOKS, ROOT
from tests.wrong import catalogue, shortcuts


def _source(assignment, name):
    """The instructor version of a notebook."""
    return read(ROOT / "source" / assignment / f"{name}.ipynb")


def _cell_ids(assignment, name):
    """The grade ids of a notebook's cells."""
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in _source(assignment, name).cells}


def _catalogue(assignment, name):
    """The known-wrong implementations of the cells of one notebook of an assignment."""
    ids = _cell_ids(assignment, name)
    return [w for w in catalogue(assignment) if w.cell in ids]


CASES = [(a, n, w) for a, n in NOTEBOOKS for w in _catalogue(a, n)]
SHORTCUTS = [(a, n, v) for a, n in NOTEBOOKS for v, cells in shortcuts(a).items() if set(cells) <= _cell_ids(a, n)]


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_reference_gets_full_marks(assignment, name):
    nb = _source(assignment, name)
    earned = run_cells(nb, cwd=ROOT / "source" / assignment)
    assert earned == autograded_points(nb)
    assert sum(earned.values()) > 0


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_student_stub_gets_zero(assignment, name):
    nb = stubbed(_source(assignment, name))
    earned = run_cells(nb, cwd=ROOT / "source" / assignment)
    assert set(earned) == set(autograded_points(nb))
    assert sum(earned.values()) == 0, {k: v for k, v in earned.items() if v}


@pytest.mark.parametrize("assignment,name,wrong", CASES, ids=[f"{a}-{w}" for a, _, w in CASES])
def test_wrong_implementation_loses_points(assignment, name, wrong):
    source = _source(assignment, name)
    code = replace_in_solution(source, wrong.cell, wrong.old, wrong.new)
    nb = with_solutions(source, source, replace={wrong.cell: code})
    earned = run_cells(nb, cwd=ROOT / "source" / assignment)
    points = autograded_points(source)
    kept = {t: earned[t] for t in wrong.loses if earned[t] != 0}
    assert not kept, f"{wrong} should fail {wrong.loses} but earned {kept}"
    assert sum(earned.values()) < sum(points.values())


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_every_autograded_cell_has_three_wrong_implementations(assignment, name):
    source = _source(assignment, name)
    losses = Counter(t for w in _catalogue(assignment, name) for t in w.loses)
    short = {t: losses[t] for t in autograded_points(source) if losses[t] < 3}
    assert not short, f"autograded cells with fewer than 3 known-wrong implementations: {short}"
    for w in _catalogue(assignment, name):
        cell_by_id(source, w.cell)  # a solution cell of this notebook
        assert set(w.loses) <= set(autograded_points(source)), f"{w} loses a test of another notebook"


def test_every_catalogue_entry_names_a_cell_of_its_assignment():
    for assignment in {a for a, _ in NOTEBOOKS}:
        names = [n for a, n in NOTEBOOKS if a == assignment]
        ids = set().union(*(_cell_ids(assignment, n) for n in names))
        assert not [str(w) for w in catalogue(assignment) if w.cell not in ids]


@pytest.mark.parametrize("assignment,name,variant", SHORTCUTS)
def test_each_shortcut_would_score_where_the_reference_code_is_reachable(assignment, name, variant):
    """The corpus's shortcuts are real ones: run where the reference code and torch are importable (in this
    process), they earn more than the honest rest of the same answers; graded, they must not (test_adversarial)."""
    source = _source(assignment, name)
    release = read(ROOT / "release" / assignment / f"{name}.ipynb")
    cells = shortcuts(assignment)[variant]
    answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    cwd = ROOT / "source" / assignment
    delegated = sum(run_cells(with_solutions(release, source, replace=cells), cwd=cwd).values())
    honest = sum(run_cells(with_solutions(release, source, only=answers - set(cells)), cwd=cwd).values())
    assert delegated > honest
