"""File an LMS download into ``autograde/submitted/``: ``make collect ZIP=<download.zip> A=<assignment>``.

Runs nbgrader's ``zip_collect`` with the course's two plugins (configured in ``nbgrader_config.py``):

- :class:`KeepTimesExtractor` unpacks the download keeping each file's time as the LMS stamped it in the
  zip (the submission time: it goes into the submission's ``timestamp.txt``, and of two submissions of
  one student the later wins);
- :class:`LmsCollector` reads the student from the file name, in the naming of Canvas
  (``<name>_[LATE_]<user id>_<submission id>_<file>.ipynb`` at the top of the zip) or of Moodle
  (``<Full Name>_<participant id>_assignsubmission_file_/<file>.ipynb``, or the same without the folder);
  nothing deeper is read, so a student cannot name another through folders of their own. A second file of
  the same name (``<file>-1.ipynb``, ``<file> (1).ipynb``) is the same notebook submitted again. The student is
  the roster entry (``make roster``) whose ``lms_user_id`` is the LMS id, else whose first and last name are
  Moodle's full name (Moodle's participant ids are per assignment); without a roster, the LMS id itself. A
  file that matches no naming, or nobody on the roster, belongs to nobody: it is reported and not filed.
  Zip times are the LMS's local times, read as UTC: they order the files of one student, nothing more.
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
from .course import folders

"""nbgrader's ``downloaded`` folder: ``<assignment>/archive/`` holds the zip, ``<assignment>/extracted/`` its files."""

COPY = r"(?:-(?P<copy>\d+)| \((?P<copy_b>\d+)\))?"  # the suffix an LMS or a browser gives a second file of one name
CANVAS = re.compile(rf"(?P<name>[^_/]+)_(?:LATE_)?(?P<lms_id>\d+)_\d+_(?P<file>.+?){COPY}\.ipynb", re.I)
MOODLE_FOLDER = re.compile(r"(?P<name>[^_/]+)_(?P<lms_id>\d+)_assignsubmission_file_")
MOODLE_FILE = re.compile(rf"(?P<file>.+?){COPY}\.ipynb", re.I)
MOODLE_FLAT = re.compile(rf"(?P<name>[^_/]+)_(?P<lms_id>\d+)_assignsubmission_file_(?P<file>.+?){COPY}\.ipynb", re.I)
ZIP_EPOCH = datetime(1980, 1, 1, tzinfo=timezone.utc)
"""The time given to a zip entry whose stored date is invalid."""


def _zip_time(info: zipfile.ZipInfo) -> float:
    """The time stored for a zip entry (the LMS's local time, read as UTC), or 1980-01-01 when it is invalid."""
    try:
        return datetime(*info.date_time, tzinfo=timezone.utc).timestamp()
    except ValueError:
        return ZIP_EPOCH.timestamp()


def _person(name: str) -> str:
    """A name as the roster and an LMS's folder both spell it: lower case, single spaces."""
    return " ".join(name.lower().split())


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
                    if info.filename.lower().endswith(".ipynb"):  # nbgrader files a notebook under its extension
                        info.filename = info.filename[:-len(".ipynb")] + ".ipynb"
                    out = Path(zf.extract(info, dest))  # zipfile drops absolute paths and '..'
                    stamp = _zip_time(info)
                    os.utime(out, (stamp, stamp))


class LmsCollector(FileNameCollectorPlugin):
    """Student, notebook and submission time of one extracted file, from Canvas's or Moodle's naming."""

    def __init__(self, **kw):
        """Read the roster (by LMS id and by name) from the gradebook; start empty lists of filed and skipped files."""
        super().__init__(**kw)
        self.filed: set[str] = set()
        self.skipped: list[str] = []
        self.by_lms_id: dict[str, str] = {}
        self.by_name: dict[str, str] = {}
        app = self.parent
        if app is not None:
            from nbgrader.api import Gradebook

            with Gradebook(app.coursedir.db_url) as gb:
                self.by_lms_id = {s.lms_user_id: s.id for s in gb.students if s.lms_user_id}
                self.by_name = {_person(f"{s.first_name} {s.last_name}"): s.id for s in gb.students
                                if s.first_name and s.last_name}
            self.extracted = Path(app.coursedir.root) / app.collect_directory_structure.format(
                downloaded=app.downloaded_directory, assignment_id=app.coursedir.assignment_id,
                collect_step=app.extracted_directory)

    def _match(self, path: Path) -> tuple[re.Match, re.Match] | None:
        """(who, which file) of a path inside one extracted zip: Canvas's and Moodle's flat names at the top of the
        zip, Moodle's per-student folders one level down; nothing deeper, so no student can name another."""
        rest = path.relative_to(self.extracted).parts[1:]  # below the zip's own folder
        if len(rest) == 1:
            m = CANVAS.fullmatch(rest[0]) or MOODLE_FLAT.fullmatch(rest[0])
            return (m, m) if m else None
        if len(rest) == 2:
            who, which = MOODLE_FOLDER.fullmatch(rest[0]), MOODLE_FILE.fullmatch(rest[1])
            return (who, which) if who and which else None
        return None

    def collect(self, submitted_file: str) -> dict | None:
        """``{student_id, file_id, timestamp}`` for a submitted notebook, None (and a report) for any other file."""
        path = Path(submitted_file)
        match = self._match(path)
        if match is None:
            self._skip(path, "its name and place are neither Canvas's nor Moodle's for a notebook")
            return None
        who, which = match
        lms_id, name = who["lms_id"], who["name"]
        roster = self.by_lms_id or self.by_name
        student = self.by_lms_id.get(lms_id) or self.by_name.get(_person(name)) or (None if roster else lms_id)
        if student is None:
            self._skip(path, f"LMS id {lms_id} ({name}) is not on the roster")
            return None
        copy = int(which["copy"] or which["copy_b"] or 0)  # of two files of one time, the later copy wins
        stamp = datetime.fromtimestamp(path.stat().st_mtime + copy * 1e-6, timezone.utc).isoformat()
        self.filed.add(student)
        return {"student_id": student, "file_id": f"{which['file']}.ipynb", "timestamp": stamp}

    def _skip(self, path: Path, why: str) -> None:
        """Report a file that belongs to nobody."""
        self.skipped.append(f"{path.relative_to(self.extracted).as_posix()}: {why}")
        self.log.warning("Not filed: %s: %s", path, why)


def collect(root: Path, archive: Path, assignment: str) -> LmsCollector:
    """File the notebooks of one LMS download for ``assignment``; return the collector (``filed``, ``skipped``)."""
    from nbgrader.apps import ZipCollectApp

    from .course import load_config

    folder = folders(root).downloaded / assignment
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
