"""Run a grading kernel in a bubblewrap sandbox with a memory limit.

The kernel sees the machine read-only, with the course folder and the repository hidden (an empty
tmpfs over each): no source notebooks, solutions, hidden tests, gradebook or other students'
files. Only three things are put back: the Python environment and the ``helpers`` package (read
only), and the submission's own working copy (writable, the kernel's working directory). ``/tmp`` is
private, there is no network, and the kernel talks to the grader over Unix sockets. The address
space is capped with ``prlimit``, so a memory bomb fails with ``MemoryError`` in its own cell.

bubblewrap (Debian package ``bubblewrap``) is required: when it is missing or cannot create
namespaces, starting the kernel fails with :class:`SandboxUnavailable` and the submission is
reported as not graded, never graded unprotected. ``HardenedExecute.sandbox = 'none'`` turns the
sandbox off explicitly (every submission is then flagged ``unsandboxed``).
"""

from __future__ import annotations

import atexit
import functools
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir

from . import ROOT, course_root


MPLCONFIGDIR = "/tmp/.matplotlib"
"""matplotlib's configuration and cache folder in the kernel (on the private ``/tmp``)."""


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be started on this machine."""


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """Why bubblewrap cannot sandbox here, or None when it works."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    probe = subprocess.run([bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
                            "--die-with-parent", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}"
    return None


@functools.lru_cache(maxsize=1)
def installed_helpers() -> Path:
    """The ``helpers`` package a kernel of this environment imports (its editable install), not a local copy."""
    out = subprocess.run([sys.executable, "-c", "import helpers; print(helpers.__file__)"], cwd="/",
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"})
    return Path(out.stdout.strip()).resolve().parent


@functools.lru_cache(maxsize=1)
def font_cache() -> Path | None:
    """matplotlib's font list built once for this grader process (each kernel would otherwise rebuild it)."""
    folder = Path(tempfile.mkdtemp(prefix="autograde-mpl-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], cwd="/", capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "MPLCONFIGDIR": str(folder)})
    found = sorted(folder.glob("fontlist-*.json"))
    return found[0] if found else None


def hidden_paths() -> list[Path]:
    """Folders the kernel must not see: the course being graded, the repository, and the repository
    the ``helpers`` package is installed from."""
    paths = {course_root().resolve(), ROOT.resolve(), installed_helpers().parent, Path(jupyter_runtime_dir()).resolve()}
    return sorted(p for p in paths if p.exists() and p != Path("/"))


def readable_paths() -> list[Path]:
    """Folders put back read-only inside hidden ones: the Python environment and ``helpers``."""
    return [Path(sys.prefix).resolve(), installed_helpers()]


def bwrap_command(cmd: list[str], workdir: Path, ipc_dir: Path, memory_mb: int) -> list[str]:
    """The kernel command wrapped in bubblewrap and prlimit."""
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden_paths():
        args += ["--tmpfs", str(path)]
    for path in readable_paths():
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(workdir), str(workdir), "--bind", str(ipc_dir), str(ipc_dir)]
    fonts = font_cache()
    if fonts is not None:
        args += ["--ro-bind", str(fonts), f"{MPLCONFIGDIR}/{fonts.name}"]
    for path in hidden_paths():  # what is left of a hidden folder cannot be written either
        args += ["--remount-ro", str(path)]
    args += [
             "--unshare-net", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--die-with-parent",
             "--setenv", "JPY_PARENT_PID", "1",  # no parent poller: the parent is PID 1 in the namespace
             "--setenv", "HOME", "/tmp", "--setenv", "IPYTHONDIR", "/tmp/.ipython",
             "--setenv", "MPLCONFIGDIR", MPLCONFIGDIR, "--chdir", str(workdir), "--"]
    return args + limited(cmd, memory_mb)


def limited(cmd: list[str], memory_mb: int) -> list[str]:
    """The command under an address-space limit of ``memory_mb`` MiB."""
    return ["prlimit", f"--as={memory_mb * 1024 * 1024}", "--"] + cmd


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel runs in the sandbox (or only memory-limited when it is off)."""

    sandbox = "bwrap"
    sandbox_workdir: str | None = None
    memory_limit_mb = 4096

    async def _async_pre_start_kernel(self, **kw):
        """Use Unix sockets in a private folder, which the sandbox shares with the grader."""
        if self.sandbox == "bwrap":
            problem = sandbox_problem()
            if problem:
                raise SandboxUnavailable(problem)
            if not kw.get("cwd"):
                raise SandboxUnavailable("no working copy given for the kernel; refusing to sandbox the current folder")
            self.sandbox_workdir = str(Path(kw["cwd"]).resolve())
        self._ipc_dir = Path(tempfile.mkdtemp(prefix="autograde-kernel-"))
        self.transport = "ipc"
        self.ip = str(self._ipc_dir / "kernel")
        self.connection_file = str(self._ipc_dir / "connection.json")
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        """The kernel's command line, sandboxed."""
        cmd = super().format_kernel_cmd(extra_arguments)
        if self.sandbox == "bwrap":
            return bwrap_command(cmd, Path(self.sandbox_workdir), self._ipc_dir, self.memory_limit_mb)
        return limited(cmd, self.memory_limit_mb)

    async def _async_cleanup_resources(self, restart: bool = False):
        """Remove the socket folder with the kernel."""
        await super()._async_cleanup_resources(restart=restart)
        if not restart and getattr(self, "_ipc_dir", None):
            shutil.rmtree(self._ipc_dir, ignore_errors=True)
