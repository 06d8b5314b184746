"""Unit tests of the hardened preprocessors' pieces on tiny synthetic cells (no kernel)."""

from __future__ import annotations

import nbformat
from nbgrader.utils import determine_grade

from autograde.hardening import error_output, keep_stderr_as_text


def _test_cell(*outputs):
    """A locked autograded test cell worth 2 points, with the given outputs."""
    cell = nbformat.v4.new_code_cell("check(answer())")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t"}
    cell.outputs = list(outputs)
    return cell


def test_a_test_cell_that_only_warned_earns_its_points_and_keeps_the_text():
    warned = _test_cell(nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: overflow in exp\n"),
                        nbformat.v4.new_output("stream", name="stdout", text="debug line\n"))
    assert determine_grade(warned) == (0, 2)  # nbgrader alone: any stderr costs the cell
    keep_stderr_as_text(warned)
    assert determine_grade(warned) == (2, 2)
    assert [o.text for o in warned.outputs] == ["RuntimeWarning: overflow in exp\n", "debug line\n"]


def test_a_failed_check_still_scores_zero_after_its_stderr_is_kept():
    failed = _test_cell(nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
                        error_output("AssertionError", "wrong value"))
    keep_stderr_as_text(failed)
    assert determine_grade(failed) == (0, 2)
