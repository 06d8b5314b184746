"""The course's nbgrader API, configured from the root's ``nbgrader_config.py``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


def _venv_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH: nbgrader runs ``alembic`` by name."""
    bindir = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != bindir:
        os.environ["PATH"] = os.pathsep.join([bindir, os.environ.get("PATH", "")])


@dataclass(frozen=True)
class Folders:
    """The course's folders: nbgrader's, from its ``CourseDirectory`` in ``nbgrader_config.py``, and those of the
    grading workspace (the folder holding ``submitted``) that only this course's tools use."""

    root: Path
    source: Path
    release: Path
    submitted: Path
    autograded: Path
    feedback: Path
    downloaded: Path  # LMS downloads, as ``nbgrader zip_collect`` finds them

    @property
    def workspace(self) -> Path:
        """The grading workspace: submissions, graded copies, feedback, the gradebook and what is made from them."""
        return self.submitted.parent

    @property
    def grades_csv(self) -> Path:
        """The grade table ``make autograde`` writes."""
        return self.workspace / "grades.csv"

    @property
    def work(self) -> Path:
        """Working copies: staged submissions and the release the gradebook is built from."""
        return self.workspace / ".work"

    @property
    def export(self) -> Path:
        """Where ``nbgrader export`` writes the course's CSV files."""
        return self.workspace / "export"

    @property
    def handback(self) -> Path:
        """One zip of feedback per student and assignment."""
        return self.workspace / "handback"

    def relative(self, path: Path) -> str:
        """``path`` relative to the course root, as nbgrader's directory settings are written."""
        return str(path.relative_to(self.root))


@lru_cache(maxsize=None)
def folders(root: Path | None = None) -> Folders:
    """The :class:`Folders` of the course at ``root`` (default: :func:`autograde.course_root`)."""
    from nbgrader.coursedir import CourseDirectory

    from . import course_root

    root = Path(root or course_root()).resolve()
    config = load_config(root)
    cd = CourseDirectory(config=config)
    return Folders(root, *(root / getattr(cd, f"{name}_directory") for name in
                           ("source", "release", "submitted", "autograded", "feedback")),
                   downloaded=root / config.ZipCollectApp.downloaded_directory)


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
