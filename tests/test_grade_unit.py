"""Unit tests of the grader's checks, staging and error summaries on tiny synthetic files (no kernel)."""

from __future__ import annotations

import json

import nbformat

from autograde.grade import _last_error, check_notebook, stage
from autograde.hardening import FLAGS_KEY


def _write(path, nb=None, raw=None):
    """Write a notebook object or raw text to ``path``; return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(raw if raw is not None else nbformat.writes(nb))
    return path


def test_check_notebook_names_what_is_wrong(tmp_path):
    good = _write(tmp_path / "good.ipynb", nbformat.v4.new_notebook())
    assert check_notebook(good) is None
    assert check_notebook(_write(tmp_path / "empty.ipynb", raw="")) == "empty.ipynb is an empty file"
    assert "not valid JSON (line 1" in check_notebook(_write(tmp_path / "cut.ipynb", raw='{"cells": ['))
    assert "not a valid Jupyter notebook" in check_notebook(_write(tmp_path / "list.ipynb", raw=json.dumps([1, 2])))
    (tmp_path / "binary.ipynb").write_bytes(b"\xff\xfe\x00junk")
    assert check_notebook(tmp_path / "binary.ipynb") == "binary.ipynb is not a text file"


def test_stage_renames_a_single_renamed_notebook_and_writes_only_the_graders_flags(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata[FLAGS_KEY] = {"flags": ["forged by the student"]}
    folder = tmp_path / "submitted"
    _write(folder / "my_answers.ipynb", nb)
    _write(folder / ".ipynb_checkpoints" / "hw-checkpoint.ipynb", nb)
    fatal, notes, flags = stage(folder, tmp_path / "work", tmp_path / "release", ["hw"])
    assert (fatal, notes) == ([], []) and flags == ["renamed: my_answers.ipynb graded as hw.ipynb"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["hw.ipynb"]
    staged = nbformat.read(str(tmp_path / "work" / "hw.ipynb"), as_version=4)
    assert staged.metadata[FLAGS_KEY] == {"flags": flags}


def _graded_cells(*ids):
    """A notebook whose cells carry the nbgrader ids ``ids``, after an ordinary cell (no id)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("notes")]
    nb.cells += [nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": i}}) for i in ids]
    return nb


def test_stage_matches_renamed_notebooks_of_a_several_notebook_assignment_by_their_cells(tmp_path):
    _write(tmp_path / "release" / "part1.ipynb", _graded_cells("forward", "test_forward"))
    _write(tmp_path / "release" / "part2.ipynb", _graded_cells("ols", "test_ols", "summary"))
    folder = tmp_path / "submitted"
    _write(folder / "mine.ipynb", _graded_cells("ols", "test_ols", "summary"))  # part 2, renamed; part 1 not sent
    fatal, notes, flags = stage(folder, tmp_path / "w1", tmp_path / "release", ["part1", "part2"])
    assert fatal == [] and flags == ["renamed: mine.ipynb graded as part2.ipynb"]
    assert notes == ["missing notebook part1.ipynb, scored 0"]
    assert sorted(p.name for p in (tmp_path / "w1").iterdir()) == ["part2.ipynb"]
    # both renamed: each goes to the notebook whose cells it holds; a copy with no graded cell matches nothing
    _write(folder / "first.ipynb", _graded_cells("forward", "test_forward", "ols"))
    _write(folder / "scratch.ipynb", nbformat.v4.new_notebook())
    fatal, notes, flags = stage(folder, tmp_path / "w2", tmp_path / "release", ["part1", "part2"])
    assert fatal == [] and notes == [] and sorted(flags) == [
        "renamed: first.ipynb graded as part1.ipynb", "renamed: mine.ipynb graded as part2.ipynb"]
    # part 1 under its name, part 2 renamed next to a scratch notebook that shares no cell with it
    other = tmp_path / "other"
    _write(other / "part1.ipynb", _graded_cells("forward", "test_forward"))
    _write(other / "mine.ipynb", _graded_cells("ols", "test_ols", "summary"))
    _write(other / "scratch.ipynb", _graded_cells())  # ordinary cells only
    _, notes, flags = stage(other, tmp_path / "w4", tmp_path / "release", ["part1", "part2"])
    assert (notes, flags) == ([], ["renamed: mine.ipynb graded as part2.ipynb"])
    # two candidates for one notebook: neither is chosen, the student is told
    _write(folder / "again.ipynb", _graded_cells("ols", "test_ols", "summary"))
    _, notes, flags = stage(folder, tmp_path / "w3", tmp_path / "release", ["part1", "part2"])
    assert flags == ["renamed: first.ipynb graded as part1.ipynb"]
    assert notes == ["missing notebook part2.ipynb, scored 0; found again.ipynb, mine.ipynb, scratch.ipynb "
                     "(notebooks must keep their release name)"]


def test_stage_scores_a_missing_notebook_0_and_refuses_a_broken_one(tmp_path):
    _write(tmp_path / "release" / "hw.ipynb", nbformat.v4.new_notebook())
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "notes.txt").write_text("forgot it")
    fatal, notes, _ = stage(tmp_path / "nothing", tmp_path / "w1", tmp_path / "release", ["hw"])
    assert fatal == [] and notes == ["missing notebook hw.ipynb, scored 0"]
    assert (tmp_path / "w1" / "hw.ipynb").is_file()  # the blank release stands in, worth 0
    _write(tmp_path / "broken" / "hw.ipynb", raw="{")
    fatal, _, _ = stage(tmp_path / "broken", tmp_path / "w2", tmp_path / "release", ["hw"])
    assert len(fatal) == 1 and "hw.ipynb is not valid JSON" in fatal[0]


def test_last_error_picks_the_last_exception_of_a_log():
    log = "[INFO] starting\nTraceback (most recent call last):\n  File x\nValueError: first\n" \
          "SandboxUnavailable: bubblewrap (bwrap) is not installed\nnbgrader.NbGraderException: wrapper\n[INFO] done"
    assert _last_error(log) == "SandboxUnavailable: bubblewrap (bwrap) is not installed"
    assert _last_error("") == "nbgrader failed without a message"
    assert _last_error("just a line") == "just a line"


def _cannot_convert(root: str, assignment: str, students: list[str], others: list[str]) -> dict[str, str]:
    """A feedback run that fails for every submission."""
    return {s: f"{s}'s notebook cannot be converted" for s in students}


def test_failed_feedback_is_reported_and_never_hands_back_an_old_zip(scratch_course, monkeypatch, capsys):
    import autograde.grade as grade
    from autograde.course import folders

    where = folders(scratch_course)
    for student in ("ada", "bob"):
        (where.autograded / student / "01_autodiff").mkdir(parents=True)
        (where.handback / "01_autodiff").mkdir(parents=True, exist_ok=True)
        (where.handback / "01_autodiff" / f"{student}.zip").write_text("last week's feedback")
    monkeypatch.setattr(grade, "_feedback_batch", _cannot_convert)
    assert grade.feedback(scratch_course, jobs=2) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: feedback for {s}/01_autodiff: {s}'s notebook cannot be converted" for s in ("ada", "bob")]
    assert not list((where.handback / "01_autodiff").iterdir())
