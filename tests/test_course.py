"""autograde.course: every folder the course's tools use comes from nbgrader_config.py."""

import shutil

from autograde import ROOT
from autograde.course import folders, load_config


def test_folders_follow_the_workspace_named_in_the_config(tmp_path):
    text = (ROOT / "nbgrader_config.py").read_text()
    assert 'WORKSPACE = "autograde"' in text
    (tmp_path / "nbgrader_config.py").write_text(text.replace('WORKSPACE = "autograde"', 'WORKSPACE = "grading"'))
    f = folders(tmp_path)
    assert f.submitted == tmp_path / "grading" / "submitted" and f.autograded == tmp_path / "grading" / "autograded"
    assert f.workspace == tmp_path / "grading" and f.grades_csv == tmp_path / "grading" / "grades.csv"
    assert f.downloaded == tmp_path / "grading" / "downloaded" and f.source == tmp_path / "source"
    assert f.relative(f.work / "release") == "grading/.work/release"
    assert "grading" in load_config(tmp_path).CourseDirectory.db_url


def test_the_repository_workspace_is_autograde(tmp_path):
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    assert folders(tmp_path).feedback == tmp_path / "autograde" / "feedback"
    assert folders().root == ROOT
