"""Autograde every submission under ``autograde/submitted/`` and write ``autograde/grades.csv``: ``make autograde``.

Each submission is checked first (every notebook present, non-empty, valid JSON, a valid notebook)
and copied to a working copy under ``autograde/.work/submitted/`` holding only the student's files
(a notebook submitted under another name is graded under its release name there, and flagged).
nbgrader then grades the working copy with the course's hardened preprocessors (see
``nbgrader_config.py``), each submission in a worker process: ``JOBS=2`` grades two at a time.
A submission that cannot be graded is reported with the student and the reason, and whatever
the gradebook already holds for it is kept; the run then exits with status 1. A selection
(``--student``, ``--assignment``) that matches no submission exits with status 2.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from tqdm import tqdm

from . import assignments, course_root, notebook_names
from .course import api, folders, gradebook
from .hardening import FLAGS_KEY
from .nbtools import grade_id
from .release import generate_assignment

COLUMNS = ["student_id", "assignment", "score", "max_score", "needs_manual_grade", "status", "flags", "message"]


@dataclass
class Outcome:
    """What happened to one submission."""

    student: str
    assignment: str
    status: str = "graded"  # graded | error | not regraded (listed from the gradebook)
    messages: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
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


def _grade_ids(path: Path) -> set[str]:
    """The nbgrader cell ids of a notebook file (none when it cannot be read as one)."""
    try:
        return {grade_id(c) for c in json.loads(path.read_text(encoding="utf-8")).get("cells", [])} - {None}
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, TypeError):
        return set()


def renamed(work: Path, release: Path, missing: list[str], extra: list[str]) -> dict[str, str]:
    """Which submitted notebooks under other names stand for which missing ones: the only candidate when one is
    missing and one is extra; else each extra notebook whose cells are those of exactly one missing notebook."""
    if len(missing) == 1 and len(extra) == 1:
        return {extra[0]: missing[0]}
    ids = {name: _grade_ids(release / f"{name}.ipynb") for name in missing}
    matches = {}
    for found in extra:
        shared = {name: len(ids[name] & _grade_ids(work / f"{found}.ipynb")) for name in missing}
        best = [name for name, k in shared.items() if k and k == max(shared.values())]
        if len(best) == 1:
            matches.setdefault(best[0], []).append(found)
    return {found[0]: name for name, found in matches.items() if len(found) == 1}


def stage(folder: Path, work: Path, release: Path, expected: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Copy a submission to its working copy; return (fatal problems, notes, flags)."""
    fatal, notes, flags = [], [], []
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(folder, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    present = {p.stem for p in work.glob("*.ipynb")}
    missing = [n for n in expected if n not in present]
    extra = sorted(present - set(expected))
    for found, name in renamed(work, release, missing, extra).items():  # graded under its release name
        (work / f"{found}.ipynb").rename(work / f"{name}.ipynb")
        flags.append(f"renamed: {found}.ipynb graded as {name}.ipynb")
        present = (present - {found}) | {name}
        missing, extra = [n for n in missing if n != name], [e for e in extra if e != found]
    for name in missing:
        found = ", ".join(e + ".ipynb" for e in extra)
        hint = f"; found {found} (notebooks must keep their release name)" if extra else ""
        notes.append(f"missing notebook {name}.ipynb, scored 0{hint}")
    if missing and not set(expected) & present:  # nothing to grade: record the blank release, worth 0
        for name in missing:
            shutil.copy(release / f"{name}.ipynb", work / f"{name}.ipynb")
    for name in expected:
        if name in present:
            problem = check_notebook(work / f"{name}.ipynb")
            if problem:
                fatal.append(problem)
            else:  # flags are the grader's to write: start from the staging flags, not the student's
                path = work / f"{name}.ipynb"
                nb = nbformat.read(str(path), as_version=4)
                nb.metadata[FLAGS_KEY] = {"flags": list(flags)}
                nbformat.write(nb, str(path))
    return fatal, notes, flags


def _last_error(text: str) -> str:
    """The most telling line of nbgrader's error log: the last exception raised."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ("Error:" in ln or "Unavailable:" in ln or "Exception:" in ln) and "NbGraderException" not in ln:
            return ln[:240]
    return lines[-1][:240] if lines else "nbgrader failed without a message"


def read_flags(root: Path, student: str, assignment: str) -> list[str]:
    """Flags the hardened preprocessors stored in the autograded notebooks."""
    flags = []
    for path in sorted((folders(root).autograded / student / assignment).glob("*.ipynb")):
        meta = nbformat.read(str(path), as_version=4).metadata.get(FLAGS_KEY, {})
        several = len(notebook_names(assignment, root)) > 1
        flags += [f"{path.stem}: {f}" if several else f for f in meta.get("flags", [])]
    return flags


def grade_submission(root: Path, student: str, assignment: str, jobs: int = 1) -> Outcome:
    """Check, stage and autograde one submission with the course's nbgrader API."""
    out = Outcome(student, assignment)
    folder = folders(root).submitted / student / assignment
    staged = folders(root).work / "submitted"
    work = staged / student / assignment
    release = folders(root).work / "release" / assignment
    fatal, out.messages, out.flags = stage(folder, work, release, notebook_names(assignment, root))
    if fatal:
        out.status = "error"
        out.messages = fatal + out.messages + ["not graded; earlier grades kept"]
        return out
    start = time.perf_counter()
    nbgrader = api(root, CourseDirectory__submitted_directory=folders(root).relative(staged),
                   HardenedExecute__jobs=jobs)
    result = nbgrader.autograde(assignment, student, force=True, create=True)
    out.seconds = time.perf_counter() - start
    if not result.get("success"):
        out.status = "error"
        log = (result.get("error") or "") + (result.get("log") or "")
        out.messages.append(f"nbgrader autograde failed: {_last_error(log)}")
        return out
    out.flags = read_flags(root, student, assignment)
    return out


def _grade_in_worker(args: tuple) -> Outcome:
    """Entry point of a worker process."""
    root, student, assignment, jobs = args
    try:
        return grade_submission(Path(root), student, assignment, jobs)
    except Exception as exc:  # a broken submission must never stop the batch
        return Outcome(student, assignment, "error", [f"grading crashed: {type(exc).__name__}: {exc}"[:240]])


def grade_all(root: Path, found: list[tuple[str, str]], workers: int, scheduler: str | None = None) -> list[Outcome]:
    """Grade every (student, assignment), ``workers`` at a time, here or on a Dask cluster (:mod:`autograde.cluster`),
    with a progress bar: done / total, flagged, not graded, time left."""
    jobs = [(str(root), student, assignment, max(1, workers)) for student, assignment in found]
    outcomes: list[Outcome] = []
    with tqdm(total=len(jobs), desc="grading", unit="submission", disable=not jobs) as bar:
        def record(o: Outcome) -> None:
            """Count one finished submission on the bar."""
            outcomes.append(o)
            failed = sum(x.status == "error" for x in outcomes)
            flagged = sum(bool(x.flags) and x.status != "error" for x in outcomes)
            bar.set_postfix_str(f"{flagged} flagged, {failed} not graded", refresh=False)
            bar.update()

        if scheduler:
            from .cluster import connect, grade_on_cluster

            with connect(scheduler, workers, root) as client:
                grade_on_cluster(client, root, found, record)
        elif workers > 1 and len(jobs) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futures = {pool.submit(_grade_in_worker, job): job for job in jobs}
                for future in as_completed(futures):
                    try:
                        record(future.result())
                    except Exception as exc:  # the worker process died (BrokenProcessPool): report, go on
                        _, student, assignment, _ = futures[future]
                        record(Outcome(student, assignment, "error", [f"grading process died: {exc}"[:240]]))
        else:
            for job in jobs:
                record(_grade_in_worker(job))
    return sorted(outcomes, key=lambda o: (o.student, o.assignment))


def submissions(root: Path, only_assignment: str | None = None, only_student=None, base: Path | None = None):
    """(student, assignment) pairs found under ``base`` (default ``autograde/submitted``), plus folders that are
    not assignments; ``only_student`` is one student id or several."""
    if isinstance(only_student, str):
        only_student = [only_student]
    base = base or folders(root).submitted
    known = set(assignments(root))
    found, unknown = [], []
    for sdir in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")) if base.exists() else []:
        if only_student and sdir.name not in only_student:
            continue
        for adir in sorted(p for p in sdir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            if only_assignment and adir.name != only_assignment:
                continue
            (found if adir.name in known else unknown).append((sdir.name, adir.name))
    return found, unknown


def grade_rows(root: Path, outcomes: list[Outcome]) -> list[dict]:
    """One row per submission: the gradebook's scores and this run's status and flags."""
    from nbgrader.api import MissingEntry

    rows = []
    with gradebook(root) as gb:
        for o in outcomes:
            row = {"student_id": o.student, "assignment": o.assignment, "score": "", "max_score": "",
                   "needs_manual_grade": "", "status": o.status, "flags": "; ".join(o.flags),
                   "message": "; ".join(o.messages)}
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


def print_table(rows, outcomes) -> None:
    """Print this run's rows of the grade table and the summary: graded, flagged, not graded, with reasons."""
    print(f"\n{'student':<20} {'assignment':<20} {'score':>8} {'max':>6}  {'time':>6}  status")
    for row, o in zip(rows, outcomes):
        score = f"{row['score']:g}" if row["score"] != "" else "-"
        maxs = f"{row['max_score']:g}" if row["max_score"] != "" else "-"
        t = f"{o.seconds:5.1f}s" if o.seconds else "     -"
        status = o.status + (" (flagged)" if o.flags else "")
        print(f"{o.student:<20} {o.assignment:<20} {score:>8} {maxs:>6}  {t}  {status}")
    errors = [o for o in outcomes if o.status == "error"]
    flagged = [o for o in outcomes if o.flags and o.status != "error"]
    print(f"\n{len(outcomes) - len(errors)} graded, {len(flagged)} flagged, {len(errors)} not graded")
    for o in flagged:
        print(f"  flagged  {o.student}/{o.assignment}: {'; '.join(o.flags)}")
    for o in errors:
        print(f"  failed   {o.student}/{o.assignment}: {'; '.join(o.messages)}")


"""Feedback packed to hand back: ``<assignment>/<student>.zip`` holding that student's feedback pages."""


def pack_feedback(root: Path, student: str, assignment: str) -> Path:
    """Zip one submission's feedback HTML into ``autograde/handback/<assignment>/<student>.zip``; return its path."""
    pages = sorted((folders(root).feedback / student / assignment).glob("*.html"))
    dest = folders(root).handback / assignment / f"{student}.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for page in pages:
            zf.write(page, f"{assignment}/{page.name}")
    return dest


def _feedback_batch(root: str, assignment: str, students: list[str], others: list[str]) -> dict[str, str | None]:
    """Feedback for ``students`` on ``assignment`` (``others`` excluded) in one nbgrader run, its templates compiled
    once, then one run per student if that failed, to name who: by student, the error's last line or None."""
    if len(students) > 1:
        batch = api(Path(root), CourseDirectory__student_id_exclude=",".join(others))
        if batch.generate_feedback(assignment, force=True).get("success"):
            return dict.fromkeys(students)
    nbgrader = api(Path(root))
    results = {s: nbgrader.generate_feedback(assignment, s, force=True) for s in students}
    return {s: None if r.get("success") else _last_error(r.get("error")) for s, r in results.items()}


def feedback(root: Path, only_assignment: str | None = None, only_student=None, jobs: int = 1) -> int:
    """Write feedback HTML (hidden tests removed) for every autograded submission, in ``jobs`` processes, and a zip
    per student."""
    todo, _ = submissions(root, only_assignment, only_student, base=folders(root).autograded)
    batches = []  # each assignment's students dealt into at most ``jobs`` batches
    for assignment in sorted({a for _, a in todo}):
        students = [s for s, a in todo if a == assignment]
        k = max(1, min(jobs, len(students)))
        batches += [(assignment, students[i::k], [s for s in students if s not in students[i::k]]) for i in range(k)]
    errors: dict[tuple[str, str], str | None] = {}
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool, \
            tqdm(total=len(todo), desc="feedback", unit="submission", disable=None) as bar:
        futures = {pool.submit(_feedback_batch, str(root), *batch): batch[0] for batch in batches}
        for future in as_completed(futures):
            for student, error in future.result().items():
                errors[student, futures[future]] = error
                bar.update()
    done = failed = 0
    for (student, assignment) in todo:
        error = errors[student, assignment]
        if error is not None:
            print(f"error: feedback for {student}/{assignment}: {error}", file=sys.stderr)
            # never hand back old feedback
            (folders(root).handback / assignment / f"{student}.zip").unlink(missing_ok=True)
            failed += 1
        else:
            pack_feedback(root, student, assignment)
            done += 1
    print(f"feedback written for {done} submission(s) under autograde/feedback/, "
          f"one zip per student and assignment under {folders(root).relative(folders(root).handback)}/")
    return 1 if failed else 0


def main(argv=None) -> int:
    """Autograde all submissions (optionally one assignment or student) and write ``grades.csv``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", help="grade only this assignment")
    parser.add_argument("--student", action="append", help="grade only this student (repeat for several)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded (or fed back) at once (default 1)")
    parser.add_argument("--scheduler", help="grade on Dask: 'local', 'slurm' or a scheduler address tcp://host:port")
    parser.add_argument("--workers", type=int, default=2,
                        help="workers to start with --scheduler local or slurm (default 2)")
    parser.add_argument("--feedback", action="store_true", help="generate feedback for graded submissions instead")
    args = parser.parse_args(argv)
    root = course_root()
    if args.feedback:
        return feedback(root, args.assignment, args.student, args.jobs)
    found, unknown = submissions(root, args.assignment, args.student)
    for student, folder in unknown:
        print(f"warning: {student}/{folder} is not an assignment of this course "
              f"(expected one of {', '.join(assignments(root))}); skipped", file=sys.stderr)
    if not found:
        chosen = (("student", ", ".join(args.student or [])), ("assignment", args.assignment))
        selection = " and ".join(f"{k} {v}" for k, v in chosen if v)
        where = folders(root).submitted
        if selection:
            print(f"error: no submission of {selection} under {where}", file=sys.stderr)
            return 2
        print(f"nothing to grade: no submissions under {where} (one folder per <student>/<assignment>/)")
        return 0
    for assignment in assignments(root):  # make sure the gradebook knows every assignment as it is now
        generate_assignment(assignment, root, release_dir=folders(root).relative(folders(root).work / "release"))
    with gradebook(root) as gb:  # before parallel workers race
        for student in sorted({s for s, _ in found}):
            gb.update_or_create_student(student)
    outcomes = grade_all(root, found, args.workers if args.scheduler else args.jobs, args.scheduler)
    for o in outcomes:
        if o.status == "error":
            print(f"error: {o.student}/{o.assignment}: {'; '.join(o.messages)}", file=sys.stderr)
    everyone, _ = submissions(root)  # the table lists every submission; others keep their gradebook scores
    graded_now = {(o.student, o.assignment) for o in outcomes}
    table = outcomes + [Outcome(s, a, "not regraded", flags=read_flags(root, s, a))
                        for s, a in everyone if (s, a) not in graded_now]
    table.sort(key=lambda o: (o.student, o.assignment))
    rows = grade_rows(root, table)
    write_csv(folders(root).grades_csv, rows)
    print_table(*zip(*[(r, o) for r, o in zip(rows, table) if (o.student, o.assignment) in graded_now]))
    print(f"grade table written to {root / 'autograde' / 'grades.csv'}")
    failed = sum(o.status == "error" for o in outcomes)
    if failed:
        print(f"error: {failed} submission(s) could not be graded (listed above)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
