"""`make roster` and `make collect` on generated LMS downloads (Canvas and Moodle naming) in a scratch copy."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from autograde.course import folders
from tests.conftest import make, tracked_copy

A, NB = "01_autodiff", "autodiff"


def _zip(path: Path, entries: list[tuple[str, str, tuple]]) -> Path:
    """A zip holding ``(name, text, (y, m, d, h, min, s))`` entries, each stamped with its time."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, text, when in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=when), text)
    return path


def _nb(marker: str) -> str:
    """A tiny notebook whose only cell holds ``marker``."""
    return '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": "%s"}], "metadata": {}, ' \
           '"nbformat": 4, "nbformat_minor": 5}' % marker


@pytest.fixture(scope="module")
def lms_course(tmp_path_factory):
    """A scratch copy of the tracked files with a roster of two students."""
    root = tracked_copy(tmp_path_factory.mktemp("lms"))
    (root / "roster.csv").write_text("id,first_name,last_name,email,lms_user_id\n"
                                     "alovelace,Ada,Lovelace,ada@example.org,4711\n"
                                     "aturing,Alan,Turing,alan@example.org,4712\n")
    done = make(root, "roster", f"CSV={root / 'roster.csv'}")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def _submitted(root: Path, student: str) -> Path:
    """The folder a student's submission of the assignment is filed in."""
    return folders(root).submitted / student / A


def test_canvas_download_is_filed_by_roster_latest_wins_strangers_reported(lms_course, tmp_path):
    download = _zip(tmp_path / "submissions.zip", [
        (f"lovelaceada_4711_100_{NB}.ipynb", _nb("FIRST"), (2026, 11, 1, 10, 0, 0)),
        (f"lovelaceada_LATE_4711_180_{NB}-1.ipynb", _nb("SECOND"), (2026, 11, 2, 9, 30, 0)),
        (f"turingalan_4712_120_{NB}.ipynb", _nb("ALAN"), (2026, 11, 1, 12, 0, 0)),
        (f"hoppergrace_9999_130_{NB}.ipynb", _nb("GRACE"), (2026, 11, 1, 13, 0, 0)),
        ("README.txt", "not a submission", (2026, 11, 1, 13, 0, 0)),
        (f"turingalan_4712_121_x/lovelaceada_4711_1_{NB}.ipynb", _nb("FORGED"), (2026, 11, 3, 0, 0, 0)),
    ])
    done = make(lms_course, "collect", f"ZIP={download}", f"A={A}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"filed 2 submission(s) of {A}" in done.stdout and "3 file(s) not filed" in done.stdout
    assert "hoppergrace_9999_130_autodiff.ipynb: LMS id 9999 (hoppergrace) is not on the roster" in done.stdout
    assert "README.txt: its name and place are neither" in done.stdout
    assert "lovelaceada_4711_1_autodiff.ipynb: its name and place are neither" in done.stdout  # no naming others
    ada = _submitted(lms_course, "alovelace")
    assert sorted(p.name for p in ada.iterdir()) == [f"{NB}.ipynb", "timestamp.txt"]
    assert "SECOND" in (ada / f"{NB}.ipynb").read_text()  # the later of two submissions wins
    assert (ada / "timestamp.txt").read_text().startswith("2026-11-02 09:30:00")
    assert "ALAN" in (_submitted(lms_course, "aturing") / f"{NB}.ipynb").read_text()
    assert not any(p.name in ("9999", "hoppergrace") for p in folders(lms_course).submitted.iterdir())


def test_moodle_download_is_filed_by_name_with_the_later_copy(lms_course, tmp_path):
    folder = "Alan Turing_880412_assignsubmission_file_"  # Moodle's participant id is not the roster's LMS id
    download = _zip(tmp_path / "moodle.zip", [
        (f"{folder}/{NB}.ipynb", _nb("OLD"), (2026, 11, 3, 9, 0, 0)),
        (f"{folder}/{NB} (1).IPYNB", _nb("NEW"), (2026, 11, 3, 9, 0, 0)),  # same time: the later copy wins
        (f"Ada Lovelace_880411_assignsubmission_file_{NB}.ipynb", _nb("FLAT"), (2026, 11, 3, 9, 0, 0)),
        ("Grace Hopper_9999_assignsubmission_file_/autodiff.ipynb", _nb("GRACE"), (2026, 11, 3, 9, 0, 0)),
        (f"{folder}/Ada Lovelace_880411_assignsubmission_file_/{NB}.ipynb", _nb("FORGED"), (2026, 11, 4, 0, 0, 0)),
    ])
    done = make(lms_course, "collect", f"ZIP={download}", f"A={A}")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"filed 2 submission(s) of {A}" in done.stdout and "LMS id 9999 (Grace Hopper)" in done.stdout
    assert "NEW" in (_submitted(lms_course, "aturing") / f"{NB}.ipynb").read_text()
    assert "FLAT" in (_submitted(lms_course, "alovelace") / f"{NB}.ipynb").read_text()


def test_collect_refuses_bad_arguments_with_one_line(lms_course, tmp_path):
    (tmp_path / "notes.zip").write_text("not a zip")
    for args, says in ((["ZIP=/nowhere.zip", f"A={A}"], "is not a zip file"),
                       ([f"ZIP={tmp_path / 'notes.zip'}", f"A={A}"], "is not a zip file"),
                       ([f"ZIP={tmp_path / 'notes.zip'}", "A=01_autodif"], "'01_autodif' is not an assignment")):
        done = make(lms_course, "collect", *args)
        assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr, done.stderr
