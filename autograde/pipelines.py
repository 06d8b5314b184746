"""nbgrader's preprocessor pipelines with the course's substitutions, built from nbgrader's own defaults.

A preprocessor nbgrader adds to a pipeline in a later release is kept; a preprocessor the course
replaces that nbgrader no longer has makes :func:`substitute` fail loudly instead of silently
grading without the replacement. ``nbgrader_config.py`` assigns these lists; ``make bench`` times
:func:`plain` against them.
"""

from __future__ import annotations

from nbgrader.converters import Autograde, GenerateFeedback
from nbgrader.preprocessors import ClearOutput, DeduplicateIds, Execute, GetGrades

from .hardening import (
    DeduplicateGradeCells,
    HardenedExecute,
    HideHiddenTests,
    KeepExperimentOutputs,
    RestoreCellMetadata,
)

PIPELINES = {("Autograde", "sanitize_preprocessors"): (Autograde, {
                 ClearOutput: [KeepExperimentOutputs],
                 DeduplicateIds: [DeduplicateGradeCells, RestoreCellMetadata]}),
             ("Autograde", "autograde_preprocessors"): (Autograde, {Execute: [HardenedExecute]}),
             ("GenerateFeedback", "preprocessors"): (GenerateFeedback, {GetGrades: [GetGrades, HideHiddenTests]})}
"""``(app, trait) -> (nbgrader class, {nbgrader's preprocessor: what replaces it})``."""


def default(cls, trait: str) -> list[type]:
    """nbgrader's default list of preprocessor classes for ``cls.trait``."""
    return list(cls.class_traits()[trait].default())


def substitute(pipeline: list[type], replacements: dict[type, list[type]]) -> list[type]:
    """``pipeline`` with each key of ``replacements`` replaced in place by its list; ValueError when a key is absent."""
    absent = [cls.__name__ for cls in replacements if cls not in pipeline]
    if absent:
        raise ValueError(f"nbgrader's pipeline no longer has {', '.join(absent)}: update autograde/pipelines.py")
    return [new for cls in pipeline for new in replacements.get(cls, [cls])]


def course() -> dict[tuple[str, str], list[type]]:
    """The course's pipelines: ``{(app, trait): [preprocessor classes]}``."""
    return {key: substitute(default(cls, key[1]), swaps) for key, (cls, swaps) in PIPELINES.items()}


def plain() -> dict[tuple[str, str], list[type]]:
    """nbgrader's own pipelines for the same traits (what grading would be without the course's hardening)."""
    return {key: default(cls, key[1]) for key, (cls, _) in PIPELINES.items()}


def configure(c) -> None:
    """Assign the course's pipelines to an nbgrader config object."""
    for (app, trait), classes in course().items():
        setattr(getattr(c, app), trait, classes)
