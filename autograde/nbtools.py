"""Reading and rewriting nbgrader notebooks: cell roles, solutions, student versions."""

from __future__ import annotations

import copy
import re

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import ClearSolutions

SOLUTION_REGION = re.compile(r"^([ \t]*)### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*(\n|$)",
                             re.M | re.S)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS[^\n]*(\n|$)",
                           re.M | re.S)
"""A hidden-test region of a test cell; group 1 is its code."""


def read(path) -> nbformat.NotebookNode:
    """Read a notebook file as nbformat v4."""
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata (empty for ordinary cells)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def is_solution(cell) -> bool:
    """True for a cell the student writes in."""
    return bool(nbgrader_utils.is_solution(cell))


def is_locked(cell) -> bool:
    """True for a cell the student cannot change: nbgrader puts its source back before grading."""
    return bool(nbgrader_utils.is_locked(cell))


def is_autograded_test(cell) -> bool:
    """True for a code cell that carries points and is graded by running it."""
    return cell.cell_type == "code" and bool(nbgrader_utils.is_grade(cell)) and not is_solution(cell)


def is_experiment(cell) -> bool:
    """True for a cell tagged ``experiment``: it earns no points and no test depends on it."""
    return "experiment" in cell.get("metadata", {}).get("tags", [])


def grade_id(cell) -> str | None:
    """The nbgrader grade id of a cell, if any."""
    return nbgrader_meta(cell).get("grade_id")


def cell_by_id(nb, gid: str):
    """The cell with nbgrader grade id ``gid``."""
    for cell in nb.cells:
        if grade_id(cell) == gid:
            return cell
    raise KeyError(f"no cell with grade_id {gid!r}")


def autograded_points(nb) -> dict[str, float]:
    """Points of each autograded test cell, by grade id, in notebook order."""
    return {grade_id(c): float(nbgrader_meta(c).get("points", 0)) for c in nb.cells if is_autograded_test(c)}


def strip_markers(source: str) -> str:
    """The reference solution as a student would type it: solution markers removed."""
    return SOLUTION_REGION.sub(lambda m: m.group(2), source)


def _preprocess(nb, preprocessor):
    """Run one nbgrader preprocessor on a copy of ``nb``."""
    resources = ResourcesDict(nbgrader={"notebook": "nb", "assignment": "a"})
    out, _ = preprocessor.preprocess(copy.deepcopy(nb), resources)
    return out


def stubbed(source_nb):
    """The source notebook with solutions replaced by nbgrader's stubs, hidden tests kept.

    This is what nbgrader executes when it autogrades an untouched release notebook.
    """
    from . import course_root
    from .course import load_config

    return _preprocess(source_nb, ClearSolutions(config=load_config(course_root())))  # the course's own stubs


def with_solutions(student_nb, source_nb, only: set[str] | None = None, replace: dict[str, str] | None = None):
    """Fill a student notebook's solution cells with the reference (or ``replace``d) code.

    ``only`` limits the filled cells to those grade ids; ``replace`` maps grade ids to the code
    a student would have written instead of the reference.
    """
    nb = copy.deepcopy(student_nb)
    replace = replace or {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if not is_solution(cell) or (only is not None and gid not in only):
            continue
        if gid in replace:
            cell.source = replace[gid]
        else:
            cell.source = strip_markers(cell_by_id(source_nb, gid).source)
    return nb


def replace_in_solution(source_nb, gid: str, old: str, new: str) -> str:
    """The reference code of solution cell ``gid`` with ``old`` replaced by ``new`` (which must occur)."""
    code = strip_markers(cell_by_id(source_nb, gid).source)
    if old not in code:
        raise ValueError(f"{old!r} does not occur in the solution of {gid!r}")
    return code.replace(old, new)
