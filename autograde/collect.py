"""File an LMS download into ``autograde/submitted/``: ``make collect ZIP=<download.zip> A=<assignment>``.

Runs nbgrader's ``zip_collect`` with the course's two plugins (configured in ``nbgrader_config.py``):

- :class:`KeepTimesExtractor` unpacks the download keeping each file's time as the LMS stamped it in the
  zip (the submission time: it goes into the submission's ``timestamp.txt``, and of two submissions of
  one student the later wins);
- :class:`LmsCollector` reads the student from the file name, in the naming of Canvas
  (``<name>_[LATE_]<user id>_<submission id>_<file>.ipynb``) or of Moodle
  (``<Full Name>_<participant id>_assignsubmission_file_/<file>.ipynb``); a second file of the same name
  (``<file>-1.ipynb``, ``<file> (1).ipynb``) is the same notebook submitted again. The LMS id becomes the
  student id of the roster entry whose ``lms_user_id`` it is (``make roster``), or the student id itself when
  the gradebook has no roster yet. A file that matches neither naming, or whose LMS id is not on the roster,
  belongs to nobody: it is reported and not filed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.plugins import ExtractorPlugin, FileNameCollectorPlugin

from . import assignments, course_root

DOWNLOADED = Path("autograde") / "downloaded"
"""nbgrader's ``downloaded`` folder: ``<assignment>/archive/`` holds the zip, ``<assignment>/extracted/`` its files."""

COPY = r"(?:-\d+| \(\d+\))?"  # the suffix an LMS or a browser adds to a second file of the same name
CANVAS = re.compile(rf"^(?P<name>[^_/]+)_(?:LATE_)?(?P<lms_id>\d+)_\d+_(?P<file>[^/]+?){COPY}\.ipynb$")
MOODLE = re.compile(rf"(?:^|/)(?P<name>[^_/]+)_(?P<lms_id>\d+)_assignsubmission_file_/(?P<file>[^/]+?){COPY}\.ipynb$")


class KeepTimesExtractor(ExtractorPlugin):
    """Unpack every zip of the archive folder, each file keeping the time stored for it in the zip."""

    def extract(self, archive_path: str, extracted_path: str) -> None:
        """Extract each ``*.zip`` under ``archive_path`` into ``extracted_path/<zip name>/``."""
        for archive in sorted(Path(archive_path).rglob("*.zip")):
            dest = Path(extracted_path) / archive.stem
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    out = Path(zf.extract(info, dest))  # zipfile drops absolute paths and '..'
                    stamp = datetime(*info.date_time, tzinfo=timezone.utc).timestamp()
                    os.utime(out, (stamp, stamp))


class LmsCollector(FileNameCollectorPlugin):
    """Student, notebook and submission time of one extracted file, from Canvas's or Moodle's naming."""

    def __init__(self, **kw):
        """Read the roster (LMS id to student id) from the gradebook; start empty lists of filed and skipped files."""
        super().__init__(**kw)
        self.filed: set[str] = set()
        self.skipped: list[str] = []
        self.roster: dict[str, str] = {}
        coursedir = getattr(self.parent, "coursedir", None)
        if coursedir is not None:
            from nbgrader.api import Gradebook

            with Gradebook(coursedir.db_url) as gb:
                self.roster = {s.lms_user_id: s.id for s in gb.students if s.lms_user_id}

    def collect(self, submitted_file: str) -> dict | None:
        """``{student_id, file_id, timestamp}`` for a submitted notebook, None (and a report) for any other file."""
        path = Path(submitted_file)
        match = CANVAS.match(path.name) or MOODLE.search(path.as_posix())
        if match is None:
            self._skip(path, "its name is neither Canvas's nor Moodle's naming of a notebook")
            return None
        lms_id = match["lms_id"]
        student = self.roster.get(lms_id, None if self.roster else lms_id)
        if student is None:
            self._skip(path, f"LMS id {lms_id} ({match['name']}) is not on the roster")
            return None
        stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat()
        self.filed.add(student)
        return {"student_id": student, "file_id": f"{match['file']}.ipynb", "timestamp": stamp}

    def _skip(self, path: Path, why: str) -> None:
        """Report a file that belongs to nobody."""
        self.skipped.append(f"{path.name}: {why}")
        self.log.warning("Not filed: %s: %s", path, why)


def collect(root: Path, archive: Path, assignment: str) -> LmsCollector:
    """File the notebooks of one LMS download for ``assignment``; return the collector (``filed``, ``skipped``)."""
    from nbgrader.apps import ZipCollectApp

    from .course import load_config

    folder = root / DOWNLOADED / assignment
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "archive").mkdir(parents=True)
    shutil.copy(archive, folder / "archive" / archive.name)
    app = ZipCollectApp(config=load_config(root))
    app.initialize([assignment, "--force", "--log-level=WARN", f"--CourseDirectory.root={root}"])
    app.start()
    return app.collector_plugin_inst


def main(argv=None) -> int:
    """Check the arguments, file the download, and report what was filed and what was not."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip", type=Path, help="the LMS's download of all submissions (a .zip)")
    parser.add_argument("assignment", help="the assignment the download belongs to")
    args = parser.parse_args(argv)
    root = course_root()
    if args.assignment not in assignments(root):
        print(f"error: {args.assignment!r} is not an assignment of this course "
              f"(one of {', '.join(assignments(root))})", file=sys.stderr)
        return 2
    if not args.zip.is_file() or not zipfile.is_zipfile(args.zip):
        print(f"error: {args.zip} is not a zip file (make collect ZIP=<download.zip> A=<assignment>)", file=sys.stderr)
        return 2
    collector = collect(root, args.zip.resolve(), args.assignment)
    print(f"filed {len(collector.filed)} submission(s) of {args.assignment} under {root / 'autograde' / 'submitted'}; "
          f"{len(collector.skipped)} file(s) not filed")
    for line in collector.skipped:
        print(f"  not filed  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
