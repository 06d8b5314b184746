"""nbgrader preprocessors that make autograding hard to fool and hard to break.

Configured in ``nbgrader_config.py``, so ``make autograde``, ``make feedback`` and the plain
nbgrader commands all use them:

- :class:`HardenedExecute` replaces nbgrader's ``Execute``: the student's cells run in a kernel
  sandboxed with a memory limit (:mod:`autograde.sandbox`), forked from a zygote that has the course's
  imports loaded (:mod:`autograde.zygote`), without the variables that reveal grading and without the
  withheld packages (the reference implementations; ``torch`` where the notebook's metadata says so);
  every autograded test cell runs in the judge (:mod:`autograde.judge`), in the grader's own process,
  calling the submission's functions across the boundary with plain data, so that nothing a submission
  does to its kernel reaches a test; a test fails only on a failed check or an error, never because the
  code printed or warned; a notebook-wide time limit and an output cap apply; a kernel that dies is
  restarted, the earlier cells replayed, and only the cell that killed it is lost.
- :class:`KeepExperimentOutputs` and ``HardenedExecute.run_experiments``: cells tagged
  ``experiment`` (the course's figures and sweeps, and the experiments students write, graded by hand; no
  test depends on them) are not re-executed;
  the outputs the student produced stay for manual grading, and grading stays fast.
- :class:`DeduplicateGradeCells` keeps the first of several cells sharing a grade id (a copied
  grade cell otherwise stops nbgrader for the whole submission).
- what is detected is stored in the notebook's metadata (``autograde.flags``), where
  ``make autograde`` reads it for the ``flags`` column.
- :class:`HideHiddenTests` removes hidden tests and their tracebacks from feedback.
- after execution, symbolic links, special files and set-ID bits the kernel left in the working
  copy are removed before nbgrader writes the graded notebook there (:func:`secure_working_copy`).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearOutput, Execute, NbGraderPreprocessor
from traitlets import Bool, Enum, Integer, Unicode

from . import cores
from .judge import Connection, Judge, bridge_setup_code, error_output
from .nbtools import HIDDEN_REGION, grade_id, is_autograded_test, is_experiment, is_locked, is_solution

FLAGS_KEY = "autograde"
"""Notebook metadata key holding ``{"flags": [...]}``; kept through nbgrader's passes (nbgrader_config.py)."""


ALWAYS_WITHHELD = ("helpers.reference",)
"""Withheld from every kernel while grading: the reference implementations the hidden tests compare with."""


def source_notebook(config, resources) -> NotebookNode | None:
    """The instructor's source notebook of the submission being processed, when nbgrader says which it is."""
    import nbformat
    from nbgrader.coursedir import CourseDirectory

    info = (resources or {}).get("nbgrader", {})
    if "assignment" not in info or "notebook" not in info:
        return None
    coursedir = CourseDirectory(config=config)
    path = os.path.join(coursedir.format_path(coursedir.source_directory, ".", info["assignment"]),
                        info["notebook"] + ".ipynb")
    return nbformat.read(path, as_version=4) if os.path.exists(path) else None


def withheld(config, resources) -> tuple[str, ...]:
    """What the kernel grading this notebook must not import: the reference implementations, and the packages the
    source notebook's metadata lists under ``autograde.withheld`` (``torch`` where gradients are written by hand)."""
    source = source_notebook(config, resources)
    listed = source.metadata.get(FLAGS_KEY, {}).get("withheld", []) if source is not None else []
    return tuple(sorted(set(ALWAYS_WITHHELD) | {str(x) for x in listed}))


def _flag(nb, text: str) -> None:
    """Record one flag once, in the notebook being graded."""
    flags = nb.metadata.setdefault(FLAGS_KEY, {}).setdefault("flags", [])
    if text not in flags:
        flags.append(text)


def secure_working_copy(folder: str) -> list[str]:
    """Remove what a kernel left in its working copy that the grader must neither follow nor keep: symbolic
    links (nbgrader writes the graded notebook there next), special files, set-user/group-ID bits; return
    what was removed, relative to ``folder``."""
    removed = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in list(dirnames) + filenames:
            path = os.path.join(dirpath, name)
            mode = os.lstat(path).st_mode
            rel = os.path.relpath(path, folder)
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                os.unlink(path)
                removed.append(rel)
                if name in dirnames:
                    dirnames.remove(name)
            elif mode & (stat.S_ISUID | stat.S_ISGID):
                os.chmod(path, stat.S_IMODE(mode) & ~(stat.S_ISUID | stat.S_ISGID))
                removed.append(f"set-ID bit of {rel}")
    return removed


class HardenedExecute(Execute):
    """nbgrader's Execute with tests judged outside the kernel, limits, and recovery from a dead kernel."""

    notebook_timeout = Integer(600, help="Seconds for the whole notebook; later cells are not run.").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Output kept per cell; the rest is dropped.").tag(config=True)
    memory_limit_mb = Integer(4096, help="Address-space limit of the kernel process, in MiB.").tag(config=True)
    sandbox = Unicode("bwrap", help="'bwrap' (required: grading fails when it is unavailable) or 'none'.").tag(
        config=True)
    jobs = Integer(1, help="Submissions graded at once on this machine: each kernel gets its share of the cores "
                   "as its BLAS and OpenMP threads.").tag(config=True)
    run_experiments = Bool(False, help="Re-execute cells tagged 'experiment' (no autograded points).").tag(config=True)
    warm_kernels = Bool(True, help="Fork each sandboxed kernel from a zygote with the course's imports loaded "
                        "(autograde/zygote.py) instead of starting a new interpreter.").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate",
                           help="How the kernel stops after the notebook: 'immediate' (killed, with whatever it "
                           "started: nothing of it is needed any more) or 'graceful'.").tag(config=True)

    def __init__(self, **kw):
        """Start the kernel through the sandboxing kernel manager."""
        from .sandbox import SandboxedKernelManager

        kw["kernel_manager_class"] = SandboxedKernelManager
        super().__init__(**kw)

    # -- kernel start ---------------------------------------------------------------------------
    async def async_start_new_kernel(self, **kwargs):
        """Start the kernel sandboxed, limited, and without the variables that say it is being graded."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NBGRADER", "JPY_", "COURSE_ROOT"))}
        env.update(MPLBACKEND="module://matplotlib_inline.backend_inline", PYTHONDONTWRITEBYTECODE="1")
        threads = str(max(1, cores() // max(1, self.jobs)))
        env.update(OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        kwargs["env"] = env
        self.km.sandbox = self.sandbox
        self.km.memory_limit_mb = self.memory_limit_mb
        self.km.warm = self.warm_kernels
        self.km.withheld = getattr(self, "withheld_now", ALWAYS_WITHHELD)
        await super().async_start_new_kernel(**kwargs)

    # nbclient binds its synchronous entry points to the base class's coroutines when the class is
    # created; rebinding them here makes nbconvert's synchronous calls reach the overrides.
    start_new_kernel = run_sync(async_start_new_kernel)

    # -- private execution in the kernel --------------------------------------------------------
    async def _run_private(self, code: str, timeout: float = 60) -> tuple[str, bool]:
        """Run code in the kernel outside the notebook; return what it printed on stdout and whether it finished."""
        from jupyter_core.utils import ensure_async

        msg_id = await ensure_async(self.kc.execute(code, store_history=False, allow_stdin=False))
        chunks, deadline, done = [], time.monotonic() + timeout, False
        while time.monotonic() < deadline:
            try:
                msg = await ensure_async(self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic())))
            except Exception:
                break
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
                chunks.append(msg["content"]["text"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                done = True
                break
        return "".join(chunks), done

    def _spent(self, phase: str, since: float) -> None:
        """Add the seconds since ``since`` to ``phase`` of this notebook's time breakdown."""
        self._times[phase] = self._times.get(phase, 0.0) + time.monotonic() - since

    def _kernel_alive(self) -> bool:
        """Whether the kernel's process still runs (asked by the judge while it waits for an answer)."""
        process = getattr(self.km.provisioner, "process", None)
        return process is not None and process.poll() is None

    async def _start_bridge(self) -> None:
        """Give the kernel the bridge the judge talks to, and connect the judge (again after a restart)."""
        start = time.monotonic()
        await self._run_private(bridge_setup_code())
        self.judge.connect(Connection(self.km.get_connection_info(), self._kernel_alive,
                                      os.path.dirname(self.km.connection_file), self.max_output_bytes))
        self._spent("bridge", start)

    # -- cells ---------------------------------------------------------------------------------
    def preprocess(self, nb, resources=None, km=None):
        """Execute the notebook with its tests judged outside the kernel, then record the flags raised on the way."""
        self._started = time.monotonic()
        self._times: dict[str, float] = {}
        self._bytes: dict[int, int] = {}
        self._bridge_ready = False
        self.judge = Judge()
        for cell in nb.cells:  # what the locked cells define is the judge's alone, even if one of them never runs
            if cell.cell_type == "code" and is_locked(cell) and not is_autograded_test(cell):
                self.judge.reserve(cell.source)
        self.withheld_now = withheld(self.config, resources)
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            self.judge.close()
        self.nb = nb
        folder = (resources or {}).get("metadata", {}).get("path")
        removed = secure_working_copy(folder) if folder and os.path.isdir(folder) else []
        if removed:  # the kernel is gone: nothing can put them back before nbgrader writes the notebook
            _flag(nb, "removed from the working copy: " + ", ".join(sorted(removed)[:5]))
        self._spent("execute", self._started)  # where grading time goes, for make bench (BREAKDOWN line)
        nb.metadata.setdefault(FLAGS_KEY, {})["seconds"] = {k: round(v, 3) for k, v in self._times.items()}
        if self.sandbox != "bwrap":
            _flag(nb, "unsandboxed: graded without the sandbox (HardenedExecute.sandbox = 'none')")
        return nb, resources

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        """Execute one cell under the notebook limit: a test cell in the judge, any other in the kernel."""
        if "kernel start" not in self._times:  # nbclient starts the kernel before the first cell
            self._spent("kernel start", self._started)
        if cell.cell_type != "code" or not cell.source.strip():
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if is_experiment(cell) and not self.run_experiments:
            return cell  # off the graded path: the student's own outputs stay for manual grading
        if not self._bridge_ready:
            await self._start_bridge()
            self._bridge_ready = True
        if time.monotonic() - self._started > self.notebook_timeout:
            cell.outputs = [error_output("NotebookTimeLimit",
                                         f"not run: the notebook used its {self.notebook_timeout} s")]
            _flag(self.nb, f"time limit: notebook stopped after {self.notebook_timeout} s")
            return cell
        name = grade_id(cell) or cell_index
        if is_autograded_test(cell):
            start = time.monotonic()
            try:
                cell.outputs, problem = self.judge.run_test(cell.source, name, self.timeout or 60)
            except Exception as exc:  # the judge's own failure: this test earns nothing, the rest is graded
                cell.outputs, problem = [error_output("JudgeError", f"{type(exc).__name__}: {exc}")], None
                _flag(self.nb, f"judge error in cell {name}")
            self._spent("tests", start)
            await self._recover(problem, name, cell_index)
            return cell
        if is_locked(cell):  # in the judge first: whatever the kernel then does, the tests get its definitions
            start = time.monotonic()
            problem = self.judge.run_locked(cell.source, name, self.timeout or 60)
            self._spent("judge locked cells", start)
            await self._recover(problem, name, cell_index)
        start, kind = time.monotonic(), "answers" if is_solution(cell) else "locked cells"
        try:
            cell = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            cell.outputs.append(error_output("KernelDied", "the kernel died while running this cell "
                                             "(exit, crash or memory); it was restarted for the next cells"))
            _flag(self.nb, f"kernel died in cell {name}")
            await self._restart_and_replay(cell_index)
            return cell
        except CellTimeoutError:
            cell.outputs.append(error_output("CellTimeoutError", f"stopped after {self.timeout} s"))
        finally:
            self._spent(kind, start)
        if any(o.get("ename") == "CellTimeoutError" for o in cell.outputs):
            _flag(self.nb, f"timeout in cell {name}")
            await self._stop_running(cell_index)
        return cell

    async def _recover(self, problem: str | None, name, cell_index: int) -> None:
        """Flag what the judge's calls did to the kernel and repair it: restart a dead kernel, stop a running one."""
        if problem == "died":
            _flag(self.nb, f"kernel died in cell {name}")
            await self._restart_and_replay(cell_index)
        elif problem == "timeout":
            _flag(self.nb, f"timeout in cell {name}")
            await self._stop_running(cell_index)
        elif problem:  # a locked cell that failed in the judge: its names stay undefined there
            _flag(self.nb, f"review: locked cell {name} {problem}")

    async def _stop_running(self, cell_index: int) -> bool:
        """Interrupt what still runs in the kernel; restart it when it does not stop. Return whether it restarted."""
        await self.km.interrupt_kernel()
        if (await self._run_private("pass", timeout=10))[1]:
            return False
        await self._restart_and_replay(cell_index)
        return True

    async def _restart_and_replay(self, dead_index: int) -> None:
        """Start a fresh kernel and re-run the code cells before ``dead_index`` quietly (tests stay in the judge)."""
        workdir = self.km.sandbox_workdir
        with contextlib.suppress(RuntimeError):  # "No kernel is running!": it is dead already
            await self.km.shutdown_kernel(now=True)
        await self.km.cleanup_resources()
        self.kc.stop_channels()
        self.km = self.create_kernel_manager()
        await self.async_start_new_kernel(cwd=workdir)
        await self.async_start_new_kernel_client()
        await self._start_bridge()
        lost = ("KernelDied", "CellTimeoutError")
        for cell in self.nb.cells[:dead_index]:
            skip = is_autograded_test(cell) or (is_experiment(cell) and not self.run_experiments)
            if cell.cell_type != "code" or skip:
                continue
            if not any(o.get("ename") in lost for o in cell.get("outputs", [])):
                await self._run_private(cell.source, timeout=self.timeout or 60)

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``max_output_bytes`` of output per cell."""
        size = len(str(msg.get("content", "")))
        used = self._bytes.get(cell_index, 0)
        self._bytes[cell_index] = used + size
        if used + size > self.max_output_bytes:
            if used <= self.max_output_bytes:
                outs.append(NotebookNode(output_type="stream", name="stdout",  # stderr would cost the points
                                         text=f"\n[output beyond {self.max_output_bytes} bytes dropped]\n"))
                _flag(self.nb, f"output capped in cell {cell_index}")
            return None
        return super().output(outs, msg, display_id, cell_index)


class KeepExperimentOutputs(ClearOutput):
    """nbgrader's ClearOutput, except for cells tagged ``experiment``, whose outputs the student made."""

    def preprocess_cell(self, cell, resources, cell_index):
        """Clear outputs of every other cell."""
        if is_experiment(cell):
            return cell, resources
        return super().preprocess_cell(cell, resources, cell_index)


class DeduplicateGradeCells(NbGraderPreprocessor):
    """Keep the first cell of each grade id; later copies lose their nbgrader metadata (and are flagged).

    Replaces nbgrader's DeduplicateIds, which leaves an empty ``nbgrader`` dict that makes
    OverwriteCells fail for the whole submission.
    """

    def preprocess(self, nb, resources):
        """Remove nbgrader metadata from repeated grade ids (and empty nbgrader metadata)."""
        seen = set()
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            if "nbgrader" in meta and not meta["nbgrader"].get("grade_id"):
                del meta["nbgrader"]
                continue
            gid = grade_id(cell)
            if gid is None:
                continue
            if gid in seen:
                del meta["nbgrader"]
                _flag(nb, f"duplicated cell {gid} ignored")
            seen.add(gid)
        return nb, resources


class RestoreCellMetadata(NbGraderPreprocessor):
    """Give nbgrader metadata back to cells that lost it, matched to the source notebook by cell id
    (or, for locked cells, by their unchanged text), so a stripped notebook is still graded."""

    def preprocess(self, nb, resources):
        """Copy metadata from the source notebook's matching cells."""
        import copy

        source = source_notebook(self.config, resources)
        if source is None:
            return nb, resources
        by_id = {c.get("id"): c for c in source.cells if grade_id(c)}
        by_text = {c.source.strip(): c for c in source.cells if is_locked(c)}
        present = {grade_id(c) for c in nb.cells if grade_id(c)}
        restored = 0
        for cell in nb.cells:
            if grade_id(cell):
                continue
            match = by_id.get(cell.get("id")) or by_text.get(cell.source.strip())
            if match is not None and grade_id(match) not in present and match.cell_type == cell.cell_type:
                cell.metadata["nbgrader"] = copy.deepcopy(match.metadata["nbgrader"])
                present.add(grade_id(match))
                restored += 1
        if restored:
            _flag(nb, f"restored nbgrader metadata of {restored} cells")
        return nb, resources


class HideHiddenTests(NbGraderPreprocessor):
    """Feedback without hidden tests: their code is removed and a failure among them is summarised."""

    def preprocess(self, nb, resources):
        """Rewrite every autograded test cell of the feedback notebook."""
        for cell in nb.cells:
            if not is_autograded_test(cell) or "BEGIN HIDDEN TESTS" not in cell.source:
                continue
            visible_lines = HIDDEN_REGION.split(cell.source)[0].count("\n")
            cell.source = HIDDEN_REGION.sub("# (hidden tests run here at grading time)\n", cell.source)
            for i, out in enumerate(cell.get("outputs", [])):
                if out.get("output_type") != "error":
                    continue
                line = _failing_line(out)
                if out.get("ename") in ("IntegrityCheckFailed", "KernelDied", "NotebookTimeLimit", "CellTimeoutError"):
                    continue
                if line is None or line > visible_lines:
                    cell.outputs[i] = error_output(
                        "HiddenTestFailed", f"a hidden test of '{grade_id(cell)}' failed: your code passes the "
                        "visible checks but not the same checks on other inputs; make it general")
                else:  # a visible check failed: keep its message, drop the traceback (it quotes nearby lines)
                    cell.outputs[i] = error_output(out.get("ename", "Error"), out.get("evalue", ""))
        return nb, resources


def _failing_line(out) -> int | None:
    """The line of the test cell where an error was raised, read from its traceback."""
    for frame in out.get("traceback", []):
        plain = re.sub(r"\x1b\[[0-9;]*m", "", frame)
        if re.search(r"(Cell In\[\d+\]|<cell [^>]*>|Input In \[\d+\])", plain):
            found = re.findall(r"^-*>\s*(\d+)", plain, re.M) or re.findall(r"line (\d+)", plain)
            if found:
                return int(found[0])
    return None
