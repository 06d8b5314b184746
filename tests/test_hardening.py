"""Unit tests of the hardened preprocessors' pieces on tiny synthetic cells (no kernel)."""

from __future__ import annotations

import nbformat

from autograde.hardening import error_output


def _test_cell(*outputs):
    """A locked autograded test cell worth 2 points, with the given outputs."""
    cell = nbformat.v4.new_code_cell("check(answer())")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 2, "grade_id": "t"}
    cell.outputs = list(outputs)
    return cell


def _nb(*cells):
    """A notebook of the given cells."""
    return nbformat.v4.new_notebook(cells=list(cells))


def _graded(cell, gid: str, **meta):
    """``cell`` with nbgrader metadata (grade id ``gid``)."""
    cell.metadata["nbgrader"] = {"grade_id": gid, "grade": False, "solution": False, "locked": False, **meta}
    return cell


def test_duplicated_grade_cells_keep_the_first_and_are_flagged():
    from autograde.hardening import FLAGS_KEY, DeduplicateGradeCells

    first = _graded(nbformat.v4.new_code_cell("assert f() == 1"), "t", grade=True, locked=True, points=1)
    copy = _graded(nbformat.v4.new_code_cell("pass"), "t", grade=True, locked=True, points=1)
    empty = nbformat.v4.new_code_cell("x = 1")
    empty.metadata["nbgrader"] = {}
    nb, _ = DeduplicateGradeCells().preprocess(_nb(first, copy, empty), {})
    assert nb.cells[0].metadata["nbgrader"]["grade_id"] == "t"
    assert "nbgrader" not in nb.cells[1].metadata and "nbgrader" not in nb.cells[2].metadata
    assert nb.metadata[FLAGS_KEY]["flags"] == ["duplicated cell t ignored"]


def test_stripped_metadata_comes_back_from_the_source_by_id_or_locked_text(tmp_path):
    from traitlets.config import Config

    from autograde.hardening import FLAGS_KEY, RestoreCellMetadata

    answer = _graded(nbformat.v4.new_code_cell("def f():\n    return 1"), "answer", solution=True, grade=True, points=2)
    test = _graded(nbformat.v4.new_code_cell("assert f() == 1"), "test", grade=True, locked=True, points=1)
    (tmp_path / "source" / "a1").mkdir(parents=True)
    nbformat.write(_nb(answer, test), str(tmp_path / "source" / "a1" / "nb.ipynb"))
    submitted = _nb(nbformat.v4.new_code_cell("def f():\n    return 2"), nbformat.v4.new_code_cell("assert f() == 1"),
                    nbformat.v4.new_code_cell("extra = 3"))
    submitted.cells[0].id = answer.id  # the same cell, its metadata stripped; the test cell has a new id
    config = Config()
    config.CourseDirectory.root = str(tmp_path)
    resources = {"nbgrader": {"assignment": "a1", "notebook": "nb"}}
    nb, _ = RestoreCellMetadata(config=config).preprocess(submitted, resources)
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == ["answer", "test", None]
    assert nb.metadata[FLAGS_KEY]["flags"] == ["restored nbgrader metadata of 2 cells"]


def test_feedback_hides_hidden_tests_and_summarises_their_failures():
    from autograde.hardening import HideHiddenTests

    source = "check(1)\n### BEGIN HIDDEN TESTS\nassert secret_case() == 42\n### END HIDDEN TESTS\n"
    visible_fail = error_output("AssertionError", "f(1) should be 1")
    visible_fail.traceback = ["Traceback (most recent call last):\n", '  File "<cell t>", line 1, in <module>\n',
                              "AssertionError: f(1) should be 1"]  # as the judge writes it
    hidden_fail = error_output("AssertionError", "")
    hidden_fail.traceback = ["Traceback (most recent call last):\n", '  File "<cell t>", line 3, in <module>\n',
                             '  File "/x/helpers/checks.py", line 1, in close\n', "AssertionError"]
    cells = [_test_cell(visible_fail), _test_cell(hidden_fail)]
    for cell in cells:
        cell.source = source
    nb, _ = HideHiddenTests().preprocess(_nb(*cells), {})
    for cell in nb.cells:
        assert "secret_case" not in cell.source and "hidden tests run here" in cell.source
        assert "secret_case" not in str(cell.outputs)
    assert nb.cells[0].outputs[0].evalue == "f(1) should be 1" and nb.cells[0].outputs[0].traceback == [
        "AssertionError: f(1) should be 1"]
    assert nb.cells[1].outputs[0].ename == "HiddenTestFailed" and "'t'" in nb.cells[1].outputs[0].evalue


def test_experiment_outputs_are_kept_and_others_cleared():
    from autograde.hardening import KeepExperimentOutputs

    shown = nbformat.v4.new_output("stream", name="stdout", text="figure\n")
    experiment = nbformat.v4.new_code_cell("plot()", metadata={"tags": ["experiment"]}, outputs=[shown])
    other = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", name="stdout", text="1\n")])
    nb, _ = KeepExperimentOutputs().preprocess(_nb(experiment, other), {})
    assert nb.cells[0].outputs == [shown] and nb.cells[1].outputs == []


def test_links_special_files_and_set_id_bits_left_by_a_kernel_are_removed(tmp_path):
    import os
    import stat

    from autograde.hardening import secure_working_copy

    (tmp_path / "sub").mkdir()
    os.symlink("/etc/passwd", tmp_path / "notebook.ipynb")
    os.symlink("/etc", tmp_path / "sub" / "folder")
    (tmp_path / "py").write_text("")
    os.chmod(tmp_path / "py", 0o6755)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "answer.txt").write_text("kept")
    removed = secure_working_copy(str(tmp_path))
    assert sorted(removed) == ["fifo", "notebook.ipynb", "set-ID bit of py", "sub/folder"]
    assert sorted(os.listdir(tmp_path)) == ["answer.txt", "py", "sub"] and os.listdir(tmp_path / "sub") == []
    assert stat.S_IMODE(os.stat(tmp_path / "py").st_mode) == 0o755
