"""Known-wrong implementations of each assignment's answers, one module per assignment.

Each module ``a<assignment>.py`` defines ``WRONG``: a list of :class:`Wrong` edits of the reference
solution. Every autograded test cell must be zeroed by at least three of them. The first entry of each
list is the course fixture's ``wrong-answer`` submission, whose feedback must show a failed hidden test:
it passes the visible tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Wrong:
    """One plausible mistake: replace ``old`` by ``new`` in solution cell ``cell``; ``loses`` must score 0."""

    cell: str
    old: str
    new: str
    loses: tuple[str, ...]
    why: str

    def __str__(self) -> str:
        """Short id for test reports."""
        return f"{self.cell}: {self.why}"


def catalogue(assignment: str) -> list[Wrong]:
    """The wrong implementations listed for ``assignment``."""
    return importlib.import_module(f"{__name__}.a{assignment}").WRONG


def shortcuts(assignment: str) -> dict[str, dict[str, str]]:
    """Answers that delegate to the course's reference code or to torch.autograd, by variant: ``{variant: {cell:
    code}}`` (none for an assignment whose graded cells no shipped code answers)."""
    return getattr(importlib.import_module(f"{__name__}.a{assignment}"), "SHORTCUTS", {})
