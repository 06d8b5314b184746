"""Autograde every submission under ``autograde/submitted/`` and write ``autograde/grades.csv``: ``make autograde``.

Each submission is checked first (every notebook present, non-empty, valid JSON, a valid
notebook), then graded by ``nbgrader autograde`` in its own process, so one bad submission
cannot stop the others. A submission that cannot be graded is reported with the student and
the reason, and whatever the gradebook already holds for it is left untouched.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import assignments, course_root, notebook_names
from .course import api
from .release import generate_assignment

COLUMNS = ["student_id", "assignment", "score", "max_score", "needs_manual_grade", "status", "message"]


@dataclass
class Outcome:
    """What happened to one submission."""

    student: str
    assignment: str
    status: str = "graded"  # graded | error
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0


def check_notebook(path: Path) -> str | None:
    """Why ``path`` cannot be graded (empty, not JSON, not a notebook), or None when it can."""
    if path.stat().st_size == 0:
        return f"{path.name} is an empty file"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        return f"{path.name} is not a text file"
    except json.JSONDecodeError as exc:
        return f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises several kinds for malformed notebooks
        return f"{path.name} is not a valid Jupyter notebook ({str(exc).splitlines()[0][:120]})"
    return None


def precheck(folder: Path, expected: list[str]) -> tuple[list[str], list[str]]:
    """Problems of a submission folder: (fatal ones that prevent grading, notes that do not)."""
    fatal, notes = [], []
    present = {p.stem for p in folder.glob("*.ipynb")}
    missing = [n for n in expected if n not in present]
    extra = sorted(present - set(expected))
    for name in missing:
        hint = f"; found {', '.join(e + '.ipynb' for e in extra)} (notebooks must keep their release name)" if extra else ""
        notes.append(f"missing notebook {name}.ipynb, scored 0{hint}")
    for name in expected:
        if name in present:
            problem = check_notebook(folder / f"{name}.ipynb")
            if problem:
                fatal.append(problem)
    return fatal, notes


def _last_error(text: str) -> str:
    """The most telling line of nbgrader's error log."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln:
            return ln[:200]
    return lines[-1][:200] if lines else "nbgrader failed without a message"


def grade_submission(nbgrader, root: Path, student: str, assignment: str) -> Outcome:
    """Check and autograde one submission with the course's nbgrader API."""
    out = Outcome(student, assignment)
    folder = root / "autograde" / "submitted" / student / assignment
    fatal, notes = precheck(folder, notebook_names(assignment, root))
    out.messages += notes
    if fatal:
        out.status = "error"
        out.messages = fatal + out.messages + ["not graded; earlier grades kept"]
        return out
    start = time.perf_counter()
    result = nbgrader.autograde(assignment, student, force=True, create=True)
    if not result.get("success"):
        out.status = "error"
        out.messages.append(f"nbgrader autograde failed: {_last_error((result.get('error') or '') + (result.get('log') or ''))}")
    out.seconds = time.perf_counter() - start
    return out


def submissions(root: Path, only_assignment: str | None = None, only_student: str | None = None):
    """(student, assignment) pairs found under ``autograde/submitted``, plus folders that are not assignments."""
    base = root / "autograde" / "submitted"
    known = set(assignments(root))
    found, unknown = [], []
    for sdir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.exists() else []:
        if only_student and sdir.name != only_student:
            continue
        for adir in sorted(p for p in sdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if only_assignment and adir.name != only_assignment:
                continue
            (found if adir.name in known else unknown).append((sdir.name, adir.name))
    return found, unknown


def grade_rows(root: Path, outcomes: list[Outcome]) -> list[dict]:
    """One row per submission: the gradebook's scores and this run's status."""
    from nbgrader.api import Gradebook, MissingEntry

    db_url = "sqlite:///" + str(root / "autograde" / "gradebook.db")
    rows = []
    with Gradebook(db_url) as gb:
        for o in outcomes:
            row = {"student_id": o.student, "assignment": o.assignment, "score": "", "max_score": "",
                   "needs_manual_grade": "", "status": o.status, "message": "; ".join(o.messages)}
            try:
                sub = gb.find_submission(o.assignment, o.student)
                row.update(score=round(sub.score, 4), max_score=round(sub.max_score, 4),
                           needs_manual_grade=bool(sub.needs_manual_grade))
            except MissingEntry:
                pass
            rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write the grade table."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def print_table(rows: list[dict], outcomes: list[Outcome]) -> None:
    """Print the grade table and a one-line summary."""
    print(f"\n{'student':<20} {'assignment':<20} {'score':>8} {'max':>6}  {'time':>6}  status")
    for row, o in zip(rows, outcomes):
        score = f"{row['score']:g}" if row["score"] != "" else "-"
        maxs = f"{row['max_score']:g}" if row["max_score"] != "" else "-"
        t = f"{o.seconds:5.1f}s" if o.seconds else "     -"
        print(f"{o.student:<20} {o.assignment:<20} {score:>8} {maxs:>6}  {t}  {o.status}"
              + (f": {row['message']}" if row["message"] else ""))
    errors = sum(o.status == "error" for o in outcomes)
    print(f"\n{len(outcomes) - errors} graded, {errors} not graded")


def feedback(root: Path, only_assignment: str | None = None, only_student: str | None = None) -> int:
    """Write feedback HTML for every autograded submission into ``autograde/feedback/``."""
    nbgrader = api(root)
    base = root / "autograde" / "autograded"
    done = 0
    for sdir in sorted(p for p in base.iterdir() if p.is_dir()) if base.exists() else []:
        for adir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            if (only_student and sdir.name != only_student) or (only_assignment and adir.name != only_assignment):
                continue
            result = nbgrader.generate_feedback(adir.name, sdir.name, force=True)
            if not result.get("success"):
                print(f"error: feedback for {sdir.name}/{adir.name}: {_last_error(result.get('error'))}", file=sys.stderr)
            else:
                done += 1
    print(f"feedback written for {done} submission(s) under autograde/feedback/")
    return 0


def main(argv=None) -> int:
    """Autograde all submissions (optionally one assignment or student) and write ``grades.csv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", help="grade only this assignment")
    parser.add_argument("--student", help="grade only this student")
    parser.add_argument("--feedback", action="store_true", help="generate feedback for graded submissions instead")
    args = parser.parse_args(argv)
    root = course_root()
    if args.feedback:
        return feedback(root, args.assignment, args.student)
    for assignment in assignments(root):  # make sure the gradebook knows every assignment as it is now
        generate_assignment(assignment, root, release_dir=str(Path("autograde") / ".work" / "release"))
    found, unknown = submissions(root, args.assignment, args.student)
    for student, folder in unknown:
        print(f"warning: {student}/{folder} is not an assignment of this course "
              f"(expected one of {', '.join(assignments(root))}); skipped", file=sys.stderr)
    nbgrader = api(root)
    outcomes = []
    for student, assignment in found:
        outcome = grade_submission(nbgrader, root, student, assignment)
        if outcome.status == "error":
            print(f"error: {student}/{assignment}: {'; '.join(outcome.messages)}", file=sys.stderr)
        outcomes.append(outcome)
    rows = grade_rows(root, outcomes)
    write_csv(root / "autograde" / "grades.csv", rows)
    print_table(rows, outcomes)
    print(f"grade table written to {root / 'autograde' / 'grades.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
