"""The course's nbgrader API, configured from the root's ``nbgrader_config.py``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _venv_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH: nbgrader runs ``alembic`` by name."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])


def load_config(root: Path, **overrides):
    """The traitlets config of ``root/nbgrader_config.py``, with ``Section__trait=value`` overrides."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    for key, value in overrides.items():
        section, trait = key.split("__")
        setattr(config[section], trait, value)
    return config


def api(root: Path, **overrides):
    """An ``NbGraderAPI`` for the course at ``root`` (overrides as in :func:`load_config`)."""
    _venv_on_path()
    import warnings

    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)  # nbgrader's own session bookkeeping, harmless
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = load_config(root, **overrides)
    return NbGraderAPI(CourseDirectory(config=config), config=config)


def gradebook(root: Path):
    """The course's nbgrader ``Gradebook`` at its config's ``db_url`` (with its lock timeout), to use in ``with``."""
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    return Gradebook(CourseDirectory(config=load_config(root)).db_url)


def run(result: dict, what: str) -> dict:
    """Raise with nbgrader's log when an API call reports failure; return the result otherwise."""
    if not result.get("success"):
        raise RuntimeError(f"{what} failed:\n{result.get('error') or ''}\n{result.get('log') or ''}")
    return result
