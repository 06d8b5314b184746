"""autograde.pipelines: nbgrader's own pipelines with the course's preprocessors substituted."""

import pytest
from nbgrader.converters import Autograde
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearOutput,
    Execute,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from autograde import pipelines
from autograde.course import api
from autograde.hardening import DeduplicateGradeCells, HardenedExecute, KeepExperimentOutputs, RestoreCellMetadata
from tests.conftest import ROOT


def test_the_course_pipelines_are_nbgraders_with_the_course_preprocessors_in_place():
    course = pipelines.course()
    assert course["Autograde", "sanitize_preprocessors"] == [
        KeepExperimentOutputs, DeduplicateGradeCells, RestoreCellMetadata, OverwriteKernelspec, OverwriteCells,
        CheckCellMetadata]
    graded = course["Autograde", "autograde_preprocessors"]
    assert graded[0] is HardenedExecute and Execute not in graded
    assert graded[1:] == pipelines.default(Autograde, "autograde_preprocessors")[1:]
    assert {IgnorePattern, LimitOutput, SaveAutoGrades, AssignLatePenalties} <= set(graded)


def test_a_preprocessor_nbgrader_adds_upstream_is_kept_and_one_it_drops_fails_loudly():
    class Upstream:
        pass

    assert pipelines.substitute([ClearOutput, Upstream], {ClearOutput: [KeepExperimentOutputs]}) == [
        KeepExperimentOutputs, Upstream]
    with pytest.raises(ValueError, match="no longer has Execute"):
        pipelines.substitute([ClearOutput], {Execute: [HardenedExecute]})


def test_nbgrader_config_uses_the_course_pipelines():
    config = api(ROOT).config
    for (app, trait), classes in pipelines.course().items():
        assert list(getattr(getattr(config, app), trait)) == classes, (app, trait)
