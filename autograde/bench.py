"""Time the course: notebooks, one submission's autograde, the hardening's cost, parallel grading: ``make bench``.

For each assignment, medians of 3 runs of:

- the solution notebook's execution (nbclient);
- autograding one complete submission with plain nbgrader (its default preprocessors), with the
  hardened preprocessors executing every cell as plain nbgrader does, and with the hardened default
  (cells tagged ``experiment`` not re-executed). The first two give the hardening's overhead.

Then the wall time of ``make autograde`` on 20 submissions of the first assignment with 1 and 2 jobs,
the grading throughput on 100 of them with 2 jobs, kernels started cold and forked warm side by side
(its ``GRADE`` lines; ``make bench-grade`` prints only those), and last the width-sweep engine's
benchmark (:mod:`autograde.bench_sweep`), ending with its ``SWEEP`` line.
Autograding runs on scratch copies of the course, so the instructor's gradebook is not touched.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import assignments, bench_sweep, course_root, pipelines
from .course import api, folders, run
from .execute import execute

REPEATS = 3
PARALLEL_SUBMISSIONS = 20
THROUGHPUT_SUBMISSIONS = 100


def median_seconds(fn, repeats: int = REPEATS) -> tuple[float, list[float]]:
    """Median and all wall times of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def scratch_course(root: Path, dest: Path, submissions: dict[str, str]) -> Path:
    """A course in ``dest`` with source, config, code and the given ``{student: example}`` submissions."""
    for folder in ("source", "release", folders(root).relative(folders(root).workspace)):
        shutil.copytree(root / folder, dest / folder, ignore=shutil.ignore_patterns(
            "submitted", "autograded", "feedback", ".work", "gradebook.db*", "grades.csv", "__pycache__"))
    shutil.copy(root / "nbgrader_config.py", dest)
    shutil.copy(root / "Makefile", dest)
    for student, example in submissions.items():
        for adir in (folders(root).submitted / example).iterdir():
            shutil.copytree(adir, folders(dest).submitted / student / adir.name)
    return dest


def autograde_seconds(root: Path, assignment: str, **overrides) -> tuple[float, list[float]]:
    """Median time of autograding ``example-complete`` in a scratch course with the given config overrides."""
    with tempfile.TemporaryDirectory() as tmp:
        course = scratch_course(root, Path(tmp), {"example-complete": "example-complete"})
        os.environ["COURSE_ROOT"] = str(course)
        try:
            nbgrader = api(course, **overrides)
            run(nbgrader.generate_assignment(assignment, force=True, create=True), "generate_assignment")
            return median_seconds(lambda: run(nbgrader.autograde(assignment, "example-complete", force=True,
                                                                 create=True), "autograde"))
        finally:
            os.environ.pop("COURSE_ROOT", None)


def parallel_seconds(root: Path, jobs: int, submissions: int = PARALLEL_SUBMISSIONS) -> float:
    """Wall time of ``make autograde JOBS=jobs`` on ``submissions`` copies of a complete submission."""
    return graded_copies(root, jobs, submissions)[0]


def graded_copies(root: Path, jobs: int, submissions: int, warm: bool = True) -> tuple[float, str]:
    """Wall time of ``make autograde JOBS=jobs`` on copies of a complete submission, and where the time went;
    ``warm=False`` starts every kernel as a new interpreter instead of forking it from the zygote."""
    first = assignments(root)[0]
    with tempfile.TemporaryDirectory() as tmp:
        course = scratch_course(root, Path(tmp), {})
        if not warm:
            with open(course / "nbgrader_config.py", "a") as f:
                f.write("\nc.HardenedExecute.warm_kernels = False\n")
        for i in range(submissions):
            shutil.copytree(folders(root).submitted / "example-complete" / first,
                            folders(course).submitted / f"student-{i:03d}" / first)
        venv = Path(sys.prefix)
        start = time.perf_counter()
        done = subprocess.run(["make", f"VENV={venv}", "-o", f"{venv}/.installed", "autograde", f"JOBS={jobs}"],
                              cwd=course, check=True, capture_output=True, text=True)
        return time.perf_counter() - start, breakdown(course, done.stdout)


def breakdown(course: Path, table: str) -> str:
    """``BREAKDOWN`` line: medians over the graded copies of each phase's seconds (HardenedExecute's timings),
    and of nbgrader's whole autograde call (the grade table's time column), the rest being nbgrader's own work."""
    import nbformat

    from .hardening import FLAGS_KEY

    phases: dict[str, list[float]] = {}
    for path in folders(course).autograded.glob("*/*/*.ipynb"):
        for phase, seconds in nbformat.read(str(path), as_version=4).metadata[FLAGS_KEY]["seconds"].items():
            phases.setdefault(phase, []).append(seconds)
    totals = [float(t) for t in re.findall(r"^\S+\s+\S+\s+\S+\s+\S+\s+([0-9.]+)s\s+graded", table, re.M)]
    median = {phase: statistics.median(v) for phase, v in phases.items()}
    total = statistics.median(totals)
    order = ("kernel start", "bridge", "locked cells", "judge locked cells", "answers", "tests")
    parts = [f"{p} {median[p]:.2f}" for p in order if p in median]
    return (f"BREAKDOWN per submission, seconds, median of {len(totals)}: autograde {total:.2f} = "
            + " + ".join(parts) + f" + nbgrader and the rest {total - median.get('execute', 0.0):.2f}")


def _fmt(times: list[float]) -> str:
    """Runs as text."""
    return ", ".join(f"{t:.1f}" for t in times)


def main(argv=None) -> None:
    """Print one line per measurement, then the tables."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignment", nargs="*", help="only these assignments' notebook and autograde times "
                        "(no parallel grading, no sweep); default: everything")
    args = parser.parse_args(argv)
    root = course_root()
    unknown = sorted(set(args.assignment) - set(assignments(root)))
    if unknown:
        parser.error(f"unknown assignment(s) {', '.join(unknown)}; the course has {', '.join(assignments(root))}")
    rows = []
    for a in args.assignment or assignments(root):
        sources = sorted((root / "source" / a).glob("*.ipynb"))
        nb, nb_all = median_seconds(lambda sources=sources: [execute(src) for src in sources])
        plain, plain_all = autograde_seconds(root, a, **{f"{app}__{trait}": classes
                                                           for (app, trait), classes in pipelines.plain().items()})
        full, full_all = autograde_seconds(root, a, HardenedExecute__run_experiments=True)
        default, default_all = autograde_seconds(root, a)
        rows.append((a, nb, plain, full, default))
        print(f"{a}: notebook {nb:.1f} s ({_fmt(nb_all)}); autograde plain nbgrader {plain:.1f} s ({_fmt(plain_all)}), "
              f"hardened running every cell {full:.1f} s ({_fmt(full_all)}), hardened default {default:.1f} s "
              f"({_fmt(default_all)})")
    print(f"\n{'assignment':<20}{'notebook':>10}{'plain':>9}{'hardened':>10}{'overhead':>10}{'default':>9}"
          f"   (seconds, median of {REPEATS}; 'hardened' runs every cell like plain nbgrader)")
    for a, nb, plain, full, default in rows:
        print(f"{a:<20}{nb:>10.1f}{plain:>9.1f}{full:>10.1f}{100 * (full / plain - 1):>9.0f}%{default:>9.1f}")
    if args.assignment:
        return
    one, two = parallel_seconds(root, 1), parallel_seconds(root, 2)
    print(f"\nmake autograde, {PARALLEL_SUBMISSIONS} submissions of {assignments(root)[0]}: "
          f"JOBS=1 {one:.1f} s, JOBS=2 {two:.1f} s, speed-up {one / two:.2f}x\n")
    print("\n".join(grade_lines(root)))
    bench_sweep.main([])


def grade_lines(root: Path, submissions: int = THROUGHPUT_SUBMISSIONS, jobs: int = 2) -> list[str]:
    """``BREAKDOWN`` and ``GRADE`` lines of ``make autograde JOBS=jobs`` on copies of the first assignment's example,
    kernels started cold (a new interpreter each) then warm (forked from the zygote), and the ratio."""
    lines, rate = [], {}
    for kernels in ("cold", "warm"):
        seconds, phases = graded_copies(root, jobs, submissions, warm=kernels == "warm")
        rate[kernels] = 60 * submissions / seconds
        lines += [f"{phases} [kernels {kernels}]",
                  f"GRADE submissions={submissions} jobs={jobs} assignment={assignments(root)[0]} kernels={kernels} "
                  f"submissions_per_min={rate[kernels]:.1f} per_submission_s={jobs * seconds / submissions:.2f} "
                  f"wall_s={seconds:.1f}"]
    return lines + [f"GRADE warm/cold throughput ratio {rate['warm'] / rate['cold']:.2f}"]


def grade_main() -> None:
    """``make bench-grade``: only the ``BREAKDOWN`` and ``GRADE`` lines."""
    import argparse

    parser = argparse.ArgumentParser(description="Grading throughput and where one submission's time goes.")
    parser.add_argument("--submissions", type=int, default=THROUGHPUT_SUBMISSIONS)
    args = parser.parse_args()
    print("\n".join(grade_lines(course_root(), args.submissions)))


if __name__ == "__main__":
    main()
