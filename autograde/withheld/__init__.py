"""Stands in, inside the grading sandbox, for a package or module the course withholds from submissions.

The sandbox mounts this file over the course's reference implementations (``helpers/reference.py``) and
this folder over the packages an assignment's answers must do without (``torch`` where gradients are
computed by hand). Importing it succeeds, so the notebook's import cells still run; using anything
from it raises :class:`Withheld`, which says why.
"""


class Withheld(ImportError):
    """What is asked for is not available while grading."""


def __getattr__(name: str):
    """Refuse every attribute but the module's own (``from ... import`` raises ImportError)."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)
    raise Withheld(f"{__name__} is not available while this assignment is graded: "
                   "the answers are written without it")
