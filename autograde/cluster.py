"""Grading on Dask distributed: ``make autograde SCHEDULER=local|tcp://host:port|slurm WORKERS=n``.

The client (``make autograde``) is the only writer: it sends each submission's files to a worker and gets
back the graded notebooks, then records them in the course's gradebook and ``autograde/autograded/``
with nbgrader's own autograde pipeline minus execution (:func:`record`). A worker grades in a course folder
of its own (the config and ``source/``, sent once with ``scatter``; nothing of the client's disk is needed),
with the same hardened preprocessors and sandbox as ``JOBS=n``. Each worker checks the sandbox before it
grades: a worker without it is left out, and with none left nothing is graded. A worker that dies mid-run
loses nothing: the scheduler hands its submissions to another worker, and the client records each once.

- ``local``: a ``LocalCluster`` of ``WORKERS`` single-threaded processes on this machine;
- ``tcp://host:port``: an existing scheduler, whose workers run this course's environment;
- ``slurm``: ``WORKERS`` single-threaded workers in Slurm jobs (one per core of a job) through ``dask-jobqueue``,
  configured by Dask's own configuration (``jobqueue.slurm``: queue, account, cores, memory, walltime…; see
  ``autograde/dask.yaml``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

from .course import folders

WAIT_FOR_WORKERS_S = 600
"""How long the client waits for the workers it asked for (at least one) before grading."""
IN_FLIGHT_PER_WORKER = 4
"""Submissions sent ahead per worker: the scheduler never holds a whole class of notebooks."""

_COURSES: dict[str, Path] = {}
"""On a worker: the course folder made for each course bundle (by fingerprint)."""


def course_bundle(root: Path) -> dict[str, bytes]:
    """What a worker needs of the course: ``nbgrader_config.py`` and every file under ``source/``."""
    files = [root / "nbgrader_config.py", *sorted(p for p in (root / "source").rglob("*") if p.is_file())]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _fingerprint(bundle: dict[str, bytes]) -> str:
    """A digest of a course bundle, to make each worker's course folder once."""
    digest = hashlib.sha256()
    for name in sorted(bundle):
        digest.update(name.encode() + b"\0" + bundle[name])
    return digest.hexdigest()[:16]


def worker_course(bundle: dict[str, bytes]) -> Path:
    """This worker's course folder for ``bundle``, written on first use (every assignment released into it)."""
    from . import assignments
    from .release import generate_assignment

    key = _fingerprint(bundle)
    if key not in _COURSES:
        root = Path(tempfile.mkdtemp(prefix=f"autograde-course-{key}-"))
        for name, data in bundle.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        folders(root).workspace.mkdir(exist_ok=True)
        os.environ["COURSE_ROOT"] = str(root)  # the sandbox hides the course being graded
        for assignment in assignments(root):
            generate_assignment(assignment, root, release_dir=folders(root).relative(folders(root).work / "release"))
        _COURSES[key] = root
    return _COURSES[key]


def sandbox_check() -> str | None:
    """On a worker: why it cannot grade (no working sandbox), or None."""
    from . import course_root
    from .course import load_config
    from .sandbox import sandbox_problem

    return None if load_config(course_root()).HardenedExecute.sandbox == "none" else sandbox_problem()


MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
"""A graded notebook larger than this is not sent back (its outputs are capped far below)."""


def grade_on_worker(bundle: dict[str, bytes], student: str, assignment: str, files: dict[str, bytes],
                    jobs_here: int):
    """On a worker: grade one submission in this worker's course folder; return the outcome, the graded notebooks
    (regular files named as in the release, nothing else the student's code may have left) and their scores as
    the worker's gradebook recorded them when each notebook was graded."""
    from . import notebook_names
    from .grade import _grade_in_worker

    root = worker_course(bundle)
    os.environ["COURSE_ROOT"] = str(root)
    folder = folders(root).submitted / student / assignment
    shutil.rmtree(folder, ignore_errors=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    outcome = _grade_in_worker((str(root), student, assignment, max(1, jobs_here)))
    graded = folders(root).autograded / student / assignment
    returned, scores = {}, {}
    if outcome.status == "graded":
        for name in notebook_names(assignment, root):
            path = graded / f"{name}.ipynb"
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_NOTEBOOK_BYTES:
                returned[path.name] = path.read_bytes()
        scores = auto_scores(root, student, assignment)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(graded, ignore_errors=True)
    return outcome, returned, scores


def auto_scores(root: Path, student: str, assignment: str) -> dict[str, float]:
    """Autograded points of each notebook of a submission, as the gradebook at ``root`` holds them."""
    from .course import gradebook

    with gradebook(root) as gb:
        return {nb.name: sum(g.auto_score or 0.0 for g in nb.grades)
                for nb in gb.find_submission(assignment, student).notebooks}


def record(root: Path, student: str, assignment: str, graded: dict[str, bytes], scores: dict[str, float]) -> str | None:
    """On the client: put a worker's graded notebooks in the gradebook and ``autograded/``; why not, or None.

    Only notebooks of the release's names are taken, the submission time comes from the client's own
    ``submitted/`` folder, and the scores recorded must be those the worker's gradebook holds (a notebook
    changed after it was graded, e.g. by the kernel of the next one, is refused)."""
    from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades

    from . import notebook_names
    from .course import api
    from .grade import _last_error

    expected = {f"{n}.ipynb" for n in notebook_names(assignment, root)}
    if not set(graded) <= expected or not graded:
        return f"the worker returned {sorted(graded)}, not the notebooks {sorted(expected)}"
    folder = folders(root).work / "returned" / student / assignment
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, data in graded.items():
        (folder / name).write_bytes(data)
    stamp = folders(root).submitted / student / assignment / "timestamp.txt"
    if stamp.is_file():
        shutil.copy(stamp, folder / "timestamp.txt")
    nbgrader = api(root, CourseDirectory__submitted_directory=folders(root).relative(folders(root).work / "returned"),
                   Autograde__sanitize_preprocessors=[],  # already executed and graded on the worker
                   Autograde__autograde_preprocessors=[SaveAutoGrades, AssignLatePenalties])
    result = nbgrader.autograde(assignment, student, force=True, create=True)
    shutil.rmtree(folder, ignore_errors=True)
    if not result.get("success"):
        return f"recording the grades failed: {_last_error((result.get('error') or '') + (result.get('log') or ''))}"
    recorded = auto_scores(root, student, assignment)
    changed = sorted(n for n, score in scores.items() if recorded.get(n) != score)
    if changed:
        return f"graded notebook(s) {', '.join(changed)} changed after grading on the worker; not recorded"
    return None


@contextlib.contextmanager
def connect(scheduler: str, workers: int, root: Path):
    """A Dask client for ``local``, ``slurm`` or a scheduler address, with ``workers`` workers where it starts them."""
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    elif scheduler == "slurm":
        cluster = slurm_cluster(root)
        cluster.scale(n=workers)
    try:
        client = Client(cluster or scheduler, timeout=60)
    except OSError as exc:
        raise SystemExit(f"error: cannot reach the Dask scheduler {scheduler}: {exc}") from None
    try:
        wanted = workers if cluster is not None else 1
        try:  # Slurm jobs may wait in the queue; a scheduler's workers may still be starting
            client.wait_for_workers(wanted, timeout=WAIT_FOR_WORKERS_S)
        except TimeoutError:
            if not client.scheduler_info()["workers"]:
                raise SystemExit(f"error: no Dask worker joined {scheduler} within {WAIT_FOR_WORKERS_S} s") from None
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def slurm_cluster(root: Path):
    """A ``SLURMCluster`` from Dask's ``jobqueue.slurm`` configuration, its workers started in this course and venv."""
    import dask
    from dask_jobqueue import SLURMCluster

    for key in ("cores", "memory"):
        if dask.config.get(f"jobqueue.slurm.{key}", None) is None:
            raise SystemExit(f"error: Dask's configuration has no jobqueue.slurm.{key}: copy autograde/dask.yaml "
                             "to ~/.config/dask/ (or point DASK_CONFIG at it) and set the cluster's values")
    prologue = list(dask.config.get("jobqueue.slurm.job-script-prologue", None) or [])
    cores = int(dask.config.get("jobqueue.slurm.cores"))  # one single-threaded worker per core of a job
    return SLURMCluster(processes=cores, python=sys.executable, job_script_prologue=[*prologue, f"cd {root}"],
                        job_extra_directives=list(dask.config.get("jobqueue.slurm.job-extra-directives", []) or []))


def grade_on_cluster(client, root: Path, found: list[tuple[str, str]], progress) -> list:
    """Grade ``found`` (student, assignment) pairs on the cluster's workers; ``progress`` is called per outcome."""
    from distributed import as_completed

    from .grade import Outcome

    checks = client.run(sandbox_check)
    usable = [w for w, problem in checks.items() if problem is None]
    for worker, problem in sorted(checks.items()):
        if problem:
            print(f"warning: worker {worker} cannot grade ({problem}); left out", file=sys.stderr)
    if not usable:
        reasons = "; ".join(sorted({p for p in checks.values() if p})) or "no workers"
        return [Outcome(s, a, "error", [f"no worker can grade: {reasons}"]) for s, a in found]
    hosts = Counter(client.scheduler_info()["workers"][w]["host"] for w in usable)
    per_host = max(hosts.values())  # kernels on a host share its cores between that host's workers
    [bundle] = client.scatter([course_bundle(root)], broadcast=True, workers=usable, hash=False)
    run = uuid.uuid4().hex[:8]  # keys of this run only, whatever else the scheduler holds

    def send(student: str, assignment: str):
        """Submit one submission's grading with its files."""
        folder = folders(root).submitted / student / assignment
        files = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*")
                 if p.is_file() and not p.is_symlink() and ".ipynb_checkpoints" not in p.parts}
        future = client.submit(grade_on_worker, bundle, student, assignment, files, per_host, workers=usable,
                               pure=False, key=f"grade-{run}-{len(pending)}")
        pending[future] = (student, assignment)
        return future

    todo, pending = list(found), {}
    running = as_completed([send(*todo.pop(0)) for _ in range(min(len(todo), IN_FLIGHT_PER_WORKER * len(usable)))])
    outcomes = []
    for future in running:
        student, assignment = pending[future]
        if todo:
            running.add(send(*todo.pop(0)))
        try:
            outcome, graded, scores = future.result()
        except Exception as exc:  # the task killed every worker it was given (KilledWorker), or failed
            outcome, graded, scores = Outcome(student, assignment, "error",
                                              [f"worker failed: {type(exc).__name__}: {exc}"[:240]]), {}, {}
        future.release()
        if outcome.status == "graded":
            problem = record(root, student, assignment, graded, scores)
            if problem:
                outcome.status, outcome.messages = "error", [*outcome.messages, problem]
        outcomes.append(outcome)
        progress(outcome)
    return outcomes
