"""Grading on Dask distributed: a real scheduler and worker processes on localhost, a worker killed mid-run,
a worker without the sandbox left out, and the Slurm job script rendered without Slurm."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from autograde import assignments, notebook_names
from autograde.course import folders
from tests.conftest import CELL_TIMEOUT, ROOT, VENV, grades, tracked_copy

SLICE = ["example-complete", "example-partial", "example-blank", "noisy", "liar", "tamper-numpy", "resource-exit",
         "duplicated-cell", "broken-json"]
"""Students of the graded corpus (first assignment) graded again on the cluster."""


def _env(**extra) -> dict[str, str]:
    """The environment of the grader and of the workers, as in the graded corpus."""
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    return {**env, "AUTOGRADE_CELL_TIMEOUT": CELL_TIMEOUT, **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A ``dask scheduler`` and two ``dask worker`` processes, plus one whose PATH has no bubblewrap."""
    where = tmp_path_factory.mktemp("dask")
    dask = str(VENV / "bin" / "dask")
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(where / "s.json"), "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard"], cwd=where, env=_env(), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(300):
            if (where / "s.json").exists():
                break
            time.sleep(0.1)
        address = yaml.safe_load((where / "s.json").read_text())["address"]
        worker = [dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", "--no-dashboard"]
        procs += [subprocess.Popen(worker + ["--name", f"w{i}"], cwd=where, env=_env(), start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in (1, 2)]
        no_bwrap = _env(PATH=str(VENV / "bin"))
        procs.append(subprocess.Popen(worker + ["--name", "no-sandbox"], cwd=where, env=no_bwrap,
                                      start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(3, timeout=120)
        yield address, {"w1": procs[1], "w2": procs[2]}
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def _course(tmp_path: Path, students: dict[str, Path]) -> Path:
    """A scratch copy of the tracked files whose submissions of the first assignment are ``students``."""
    root = tracked_copy(tmp_path)
    shutil.rmtree(folders(root).submitted)  # not the examples of the copy: only ``students``
    a = assignments(root)[0]
    for student, folder in students.items():
        shutil.copytree(folder, folders(root).submitted / student / a)
    return root


def _grade(root: Path, address: str) -> subprocess.Popen:
    """``python -m autograde.grade --scheduler <address>`` on ``root``, started."""
    return subprocess.Popen([sys.executable, "-m", "autograde.grade", "--scheduler", address], cwd=ROOT,
                            env=_env(COURSE_ROOT=str(root)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_a_cluster_grades_the_corpus_as_one_machine_does(course, cluster, tmp_path):
    address, _ = cluster
    a = assignments(course.root)[0]
    slice_ = {s: folders(course.root).submitted / s / a for s in SLICE}
    root = _course(tmp_path, {s: p for s, p in slice_.items() if p.is_dir()})
    run = _grade(root, address)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 1, out + err  # broken-json cannot be graded
    assert "warning: worker" in err and "cannot grade (bubblewrap (bwrap) is not installed" in err
    here = grades(root)
    keys = ("score", "max_score", "status", "flags")
    differ = {s: ({k: course.first[s, a][k] for k in keys}, {k: here[s, a][k] for k in keys})
              for s in slice_ if any(course.first[s, a][k] != here[s, a][k] for k in keys)}
    assert len(here) == len(SLICE) and not differ, differ
    name = notebook_names(a, root)[0]
    graded = folders(root).autograded / "example-complete" / a / f"{name}.ipynb"
    assert graded.is_file()  # the client wrote the graded notebook, as for a grading on this machine


def test_a_worker_killed_mid_run_loses_nothing(course, cluster, tmp_path):
    address, workers = cluster
    a = assignments(course.root)[0]
    complete = folders(course.root).submitted / "example-complete" / a
    students = [f"student{i}" for i in range(6)]
    root = _course(tmp_path, dict.fromkeys(students, complete))
    run = _grade(root, address)
    from distributed import Client

    with Client(address, timeout=60) as client:  # kill w2 while it grades a submission
        names = {addr: w["name"] for addr, w in client.scheduler_info()["workers"].items()}
        w2 = next(addr for addr, name in names.items() if name == "w2")
        deadline = time.monotonic() + 300
        while not client.processing().get(w2) and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        assert client.processing().get(w2), "w2 never got a submission"
        os.killpg(workers["w2"].pid, signal.SIGKILL)
    out, err = run.communicate(timeout=900)
    assert run.returncode == 0, out + err
    here = grades(root)
    assert sorted(s for s, _ in here) == students
    assert {here[s, a]["score"] for s in students} == {course.first["example-complete", a]["score"]}
    assert sum(bool(re.match(r"student\d ", line)) for line in out.splitlines()) == len(students)  # each once


def test_the_slurm_job_script_is_rendered_without_slurm():
    import dask

    from autograde.cluster import slurm_cluster

    settings = yaml.safe_load((ROOT / "autograde" / "dask.yaml").read_text())
    scheduler = {"host": "127.0.0.1", "dashboard_address": ":0"}
    settings["jobqueue"]["slurm"].update(queue="short", account="dl-course", **{"scheduler-options": scheduler})
    with dask.config.set(settings):
        cluster = slurm_cluster(ROOT)
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A dl-course", "#SBATCH --cpus-per-task=2", "#SBATCH -t 02:00:00",
                 f"cd {ROOT}", f"{sys.executable} -m distributed.cli.dask_worker", "--nthreads 1", "--nworkers 2"):
        assert line in script, (line, script)
    with dask.config.set({"jobqueue.slurm.cores": None}), pytest.raises(SystemExit, match="jobqueue.slurm.cores"):
        slurm_cluster(ROOT)
