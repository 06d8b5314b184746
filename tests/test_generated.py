"""release/, notebooks/ and the example submissions are exactly what their make targets produce from source/."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from autograde import assignments, notebook_names
from autograde.course import folders
from autograde.examples import EXAMPLES, example_notebook
from autograde.nbtools import HIDDEN_REGION, SOLUTION_REGION, is_solution, read
from autograde.release import generate_assignment
from tests.conftest import NOTEBOOKS, ROOT


def _cells(nb):
    """What must agree between a notebook and its regeneration: type, source and metadata of every cell."""
    return [(c.cell_type, c.source, c.get("metadata", {})) for c in nb.cells]


def _text(nb) -> str:
    """All cell sources of a notebook, joined."""
    return "\n".join(c.source for c in nb.cells)


def _private_lines(source_nb) -> set[str]:
    """Lines of solutions, model answers and hidden tests that occur nowhere else in the source notebook."""
    private, public = set(), []
    for cell in source_nb.cells:
        regions = SOLUTION_REGION.findall(cell.source)
        chunks = [r[1] for r in regions] + [r[0] for r in HIDDEN_REGION.findall(cell.source)]
        if is_solution(cell) and not regions:  # a whole-cell answer, e.g. a written model answer
            chunks.append(cell.source)
        private.update(ln.strip() for chunk in chunks for ln in chunk.splitlines())
        public.append(HIDDEN_REGION.sub("", SOLUTION_REGION.sub("", cell.source)) if not
                      (is_solution(cell) and not regions) else "")
    public_lines = {ln.strip() for text in public for ln in text.splitlines()}
    return {ln for ln in private - public_lines if len(ln) >= 12 and not ln.startswith("#")}


def test_every_assignment_is_released():
    assert sorted(p.name for p in (ROOT / "release").iterdir()) == assignments(ROOT)
    for a in assignments(ROOT):
        assert sorted(p.stem for p in (ROOT / "release" / a).glob("*.ipynb")) == notebook_names(a, ROOT)


def test_release_matches_regeneration(scratch_course):
    for a in assignments(ROOT):
        generate_assignment(a, scratch_course)
    for a, n in NOTEBOOKS:
        fresh = read(scratch_course / "release" / a / f"{n}.ipynb")
        stored = read(ROOT / "release" / a / f"{n}.ipynb")
        assert _cells(stored) == _cells(fresh), f"release/{a}/{n}.ipynb is stale: run `make release`"
        assert stored.metadata == fresh.metadata


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_release_leaks_no_solution_or_hidden_test(assignment, name):
    released = _text(read(ROOT / "release" / assignment / f"{name}.ipynb"))
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in released
    private = _private_lines(read(ROOT / "source" / assignment / f"{name}.ipynb"))
    assert len(private) >= 10  # the check has something to look for
    leaked = sorted(ln for ln in private if ln in released)
    assert not leaked, f"solution or hidden-test lines in the release: {leaked[:5]}"


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_source_notebooks_store_no_outputs(assignment, name):
    nb = read(ROOT / "source" / assignment / f"{name}.ipynb")
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"cells {dirty} of source/{assignment}/{name}.ipynb hold outputs: clear them"


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_executed_notebooks_match_source(assignment, name):
    path = ROOT / "notebooks" / assignment / f"{name}.ipynb"
    assert path.exists(), f"{path} is missing: run `make notebooks`"
    executed, source = read(path), read(ROOT / "source" / assignment / f"{name}.ipynb")
    assert [(c.cell_type, c.source) for c in executed.cells] == [(c.cell_type, c.source) for c in source.cells], \
        f"notebooks/{assignment}/{name}.ipynb is stale: run `make notebooks`"
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert all(c.execution_count for c in executed.cells if c.cell_type == "code")


ROUNDOFF_DIGITS = re.compile(r"(?<![<≤] )(?<![\w.])\d+(?:\.\d+)?[eE]-(?:1[3-9]|[2-9]\d|\d{3,})\b")
"""A number of magnitude 1e-13 or below not printed as a bound: round-off digits that differ from CPU to CPU."""


def roundoff_digits(nb) -> list[str]:
    """``cell N: …text…`` for every round-off-level number in the text outputs of an executed notebook."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            text = out.get("text", "") + out.get("data", {}).get("text/plain", "")
            found += [f"cell {i}: …{text[max(0, m.start() - 60):m.end()]}" for m in ROUNDOFF_DIGITS.finditer(text)]
    return found


def test_roundoff_scan_finds_digits_and_spares_bounds():
    out = {"output_type": "stream", "name": "stdout", "text": "difference 5.0e-16, loss < 1e-12, step 1e-3\n"}
    nb = SimpleNamespace(cells=[{"outputs": [out]}, {"outputs": [{"data": {"text/plain": "[2.1E-15]"}}]}])
    assert roundoff_digits(nb) == ["cell 0: …difference 5.0e-16", "cell 1: …[2.1E-15"]


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_executed_notebooks_print_no_roundoff_digits(assignment, name):
    found = roundoff_digits(read(ROOT / "notebooks" / assignment / f"{name}.ipynb"))
    assert not found, (f"notebooks/{assignment}/{name}.ipynb prints round-off-level digits, which nbval compares "
                       f"on another CPU; print a bound instead (helpers.summary.bound):\n" + "\n".join(found))


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_solution_ends_with_summary_line(assignment, name):
    from helpers.summary import parse_summary

    last = read(ROOT / "notebooks" / assignment / f"{name}.ipynb").cells[-1]
    text = "".join(o.get("text", "") for o in last.outputs if o.output_type == "stream")
    assert parse_summary(text)


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_example_submissions_match_regeneration(assignment, name):
    source = read(ROOT / "source" / assignment / f"{name}.ipynb")
    release = read(ROOT / "release" / assignment / f"{name}.ipynb")
    for kind in EXAMPLES:
        stored = read(folders(ROOT).submitted / kind / assignment / f"{name}.ipynb")
        assert _cells(stored) == _cells(example_notebook(kind, release, source)), \
            f"autograde/submitted/{kind} is stale: run `make examples`"


@pytest.mark.parametrize("assignment,name", NOTEBOOKS)
def test_experiment_cells_are_graded_by_hand_or_not_at_all(assignment, name):
    from autograde.nbtools import is_autograded_test, is_experiment, nbgrader_meta

    nb = read(ROOT / "source" / assignment / f"{name}.ipynb")
    experiments = [c for c in nb.cells if is_experiment(c)]
    assert not any(is_autograded_test(c) for c in experiments)  # the autograder never runs them
    for c in experiments:  # the course's figures carry no points; an experiment the student writes has a rubric
        assert bool(nbgrader_meta(c).get("grade")) == is_solution(c)
        assert not is_solution(c) or "Rubric" in c.source.split("### END SOLUTION")[0]
