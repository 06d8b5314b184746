"""A student's JupyterLab driven through headless Chromium: open a notebook, Run All, save, Validate.

:class:`Lab` is a JupyterLab server on loopback in a temporary root (a copy of ``release/`` and
whatever else the test writes there) with an empty home, started from this virtual environment.
:func:`run_jobs` spreads :class:`Job`\\ s over several servers, each with its own Chromium, because
nbgrader's Validate handler blocks its server while it executes the notebook.
"""

from __future__ import annotations

import json
import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BIN = Path(sys.executable).parent
"""The virtual environment's scripts: jupyter and the kernel's python come from here."""

CHROMIUM_PACKAGE = "chromium"
"""The Debian package that provides the browser."""

STEP_TIMEOUT_S = 300
"""Longest wait for one Run All or one Validate."""

CELL_TIMEOUT_LOG = "Timeout waiting for execute reply"
"""What the server logs when Validate interrupts a cell that ran past nbgrader's cell timeout."""

LEAKED_ENV = ("JUPYTER", "JPY_", "IPYTHON", "PYTHONPATH", "PYTHONHOME", "COURSE_ROOT", "AUTOGRADE_", "NBGRADER_",
              "MPLBACKEND", "MPLCONFIGDIR", "XDG_")
"""Prefixes of variables that would point the student's Jupyter at the course, the tests or another home."""

KERNEL_IDLE = """() => {
  if (document.querySelector('.jp-Dialog')) return true;  // reported by the caller
  const status = document.querySelector("#jp-main-statusbar span[title^='Change kernel for']");
  return !!status && !status.textContent.startsWith('No Kernel') && status.textContent.endsWith('| Idle');
}"""
"""True once the notebook's kernel is started and idle (status bar: 'Python 3 (ipykernel) | Idle') or a dialog shows."""

RUN_ALL_DONE = """() => {
  if (document.querySelector('.jp-Dialog')) return true;  // reported by the caller
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent);
  return (%s)() && prompts.some(t => /[0-9]/.test(t)) && !prompts.some(t => t.includes('*'));
}""" % KERNEL_IDLE
"""True once Run All has finished (kernel idle, some cell numbered, none queued or running) or a dialog shows."""


def chromium() -> str:
    """The Chromium executable (``$CHROMIUM`` or ``chromium`` on PATH); a clear error when it is missing."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise FileNotFoundError(f"Chromium not found at {path}: the browser test needs Debian's "
                                f"'{CHROMIUM_PACKAGE}' package (apt-get install -y {CHROMIUM_PACKAGE}), "
                                "or CHROMIUM=/path/to/chromium")
    return path


def student_env(home: Path) -> dict[str, str]:
    """The environment of a student's Jupyter: this venv first on PATH, ``home`` as HOME, nothing of the course's.

    Kernels get one numeric thread each: several servers run side by side on the cores, and torch's
    and OpenBLAS's spinning worker threads then starve each other (a 10 s notebook took 106 s).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKED_ENV)}
    env.update(HOME=str(home), PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]), OMP_NUM_THREADS="1")
    return env


def quiet_lab_settings(home: Path) -> None:
    """User settings that stop JupyterLab asking about news and updates (a toast over the notebook)."""
    folder = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"fetchNews": "false", "checkForUpdates": False}
    (folder / "notification.jupyterlab-settings").write_text(json.dumps(settings))


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server on loopback, run from ``root`` (default ``base/root``) with ``base/home`` as its home;
    log in ``base``."""

    def __init__(self, base: Path, root: Path | None = None):
        self.root, self.home, self.log_path = root or base / "root", base / "home", base / "jupyterlab.log"
        self.root.mkdir(parents=True, exist_ok=True)
        quiet_lab_settings(self.home)
        self.port, self.token = free_port(), secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the server (without waiting for it)."""
        cmd = [str(BIN / "jupyter-lab"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}"]
        if os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=student_env(self.home), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, lines: int = 40, since: int = 0) -> str:
        """The last lines of the server's log, from byte ``since`` on."""
        data = self.log_path.read_bytes()[since:] if self.log_path.exists() else b""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])

    def log_size(self) -> int:
        """How many bytes the server has logged so far."""
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        """The JSON answer of the server's ``path`` (token sent as a header)."""
        req = urllib.request.Request(self.url + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def wait_ready(self, timeout: float = 90) -> None:
        """Wait until the server answers; raise with its log if it exits or does not answer in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with status {self.proc.returncode}:\n{self.log()}")
            try:
                self.api("/api/status", timeout=2)
                return
            except (OSError, ValueError):
                time.sleep(0.3)
        raise TimeoutError(f"JupyterLab did not answer on {self.url} within {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        """Shut the server and its kernels down: politely through the API, then by signal."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.api("/api/shutdown", method="POST", timeout=5)
            self.proc.wait(timeout=20)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(self.proc.pid, sig)
                    self.proc.wait(timeout=10)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue

    def notebook_url(self, rel: str, workspace: str) -> str:
        """The address that opens ``rel`` (relative to the root) alone, in a fresh workspace."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{rel}?reset&token={self.token}"


def no_dialog(page) -> None:
    """Raise with its text if JupyterLab shows a dialog (a kernel choice, an error) where none belongs."""
    dialog = page.locator(".jp-Dialog")
    if dialog.count():
        raise RuntimeError("unexpected dialog: " + " | ".join(dialog.first.inner_text().split("\n")))


@dataclass
class Result:
    """What one job saw: the saved notebook, Validate's verdict, a screenshot, times, or the error that stopped it."""

    saved: nbformat.NotebookNode | None = None
    verdict: str | None = None  # class of nbgrader's message: validation-success, validation-failed, ...
    dialog: str = ""
    failed_sources: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds of each step
    interrupted: int = 0  # cells Validate interrupted at nbgrader's cell timeout
    error: str | None = None


@dataclass(frozen=True)
class Job:
    """Open ``rel`` in JupyterLab; Run All and save it when ``run_all``; press Validate when ``validate``."""

    key: tuple[str, str, str]  # (kind, assignment, notebook name)
    rel: str
    run_all: bool
    validate: bool

    @property
    def stem(self) -> str:
        """A file name for this job's artifacts."""
        kind, assignment, name = self.key
        return f"{assignment}-{name}-{kind}"

    def run(self, browser, lab: Lab, artifacts: Path) -> Result:
        """Do the job in a fresh browser context; on any error record it with a screenshot."""
        result, started = Result(), time.perf_counter()
        step, step_started = "open", started

        def begin(name: str) -> None:
            nonlocal step, step_started
            now = time.perf_counter()
            result.steps[step], step, step_started = round(now - step_started, 1), name, now

        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        try:
            page.goto(lab.notebook_url(self.rel, workspace=self.stem))
            page.wait_for_function(KERNEL_IDLE, polling=250)
            no_dialog(page)
            if self.run_all:
                begin("Run All")
                page.get_by_role("menuitem", name="Run", exact=True).click()
                page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
                page.wait_for_function(RUN_ALL_DONE, timeout=STEP_TIMEOUT_S * 1000, polling=250)
                no_dialog(page)
                begin("save")
                page.locator(".jp-NotebookPanel jp-button[data-command='docmanager:save']").click()
                page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-dirty')")
                result.saved = nbformat.read(str(lab.root / self.rel), as_version=4)
            if self.validate:
                begin("Validate")
                logged = lab.log_size()
                page.locator(".jp-NotebookPanel jp-button.validate-button").click()
                dialog = page.locator(".jp-Dialog")
                dialog.wait_for(timeout=STEP_TIMEOUT_S * 1000)
                result.dialog = dialog.inner_text()
                result.interrupted = lab.log(lines=10**6, since=logged).count(CELL_TIMEOUT_LOG)
                message = dialog.locator("#validation-message")
                if message.count():
                    result.verdict = next((c for c in message.get_attribute("class").split()
                                           if c.startswith("validation-")), None)
                    result.failed_sources = message.evaluate(  # each failure: its source, then its error
                        "m => [...m.querySelectorAll('.jp-RenderedText > pre')].filter((_, i) => i % 2 === 0)"
                        ".map(p => p.innerText)")
            begin("screenshot")
            shown = page.locator(".jp-NotebookPanel [data-mime-type='application/vnd.jupyter.stderr']")
            if not self.validate and shown.count():  # an untouched notebook: show where Run All stopped
                shown.first.scroll_into_view_if_needed()
            result.screenshot = artifacts / f"{self.stem}.png"
            page.screenshot(path=str(result.screenshot))
            begin("done")
        except Exception as exc:  # recorded: the tests report it with the screenshot
            result.error = f"{step} failed: {type(exc).__name__}: {exc}".strip()
            result.screenshot = artifacts / f"{self.stem}-failed.png"
            try:
                page.screenshot(path=str(result.screenshot))
            except Exception:
                result.screenshot = None
        finally:
            context.close()
        result.seconds = time.perf_counter() - started
        return result


def _lane(lab: Lab, jobs: queue.Queue, results: dict, failures: list, artifacts: Path) -> None:
    """Take jobs until none is left, in one Chromium talking to ``lab``; record a failure to start the browser."""
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=["--disable-dev-shm-usage"])
            try:
                while True:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        return
                    results[job.key] = job.run(browser, lab, artifacts)
            finally:
                browser.close()
    except Exception as exc:
        failures.append(exc)


def run_jobs(jobs: list[Job], labs: list[Lab], artifacts: Path) -> dict[tuple[str, str, str], Result]:
    """Do ``jobs`` (taken in the order given) spread over ``labs``, one Chromium per lab; results by job key.

    On an interrupt no further job starts and the call returns at once, so that the caller can stop
    the servers; the lanes are daemon threads and end with them or with the interpreter.
    """
    todo: queue.Queue = queue.Queue()
    for job in jobs:
        todo.put(job)
    results: dict = {}
    failures: list[Exception] = []
    lanes = [threading.Thread(target=_lane, args=(lab, todo, results, failures, artifacts), daemon=True)
             for lab in labs]
    try:
        for lane in lanes:
            lane.start()
        for lane in lanes:
            while lane.is_alive():
                lane.join(0.5)
    except BaseException:
        while not todo.empty():
            todo.get_nowait()
        raise
    if failures:
        raise failures[0]
    return results


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(env: dict[str, str], *args: str) -> str:
    """Output (stdout and stderr, colours removed) of this venv's ``jupyter`` with ``args``."""
    out = subprocess.run([str(BIN / "jupyter"), *args], env=env, capture_output=True, text=True, timeout=120)
    return ANSI.sub("", out.stdout + out.stderr)
