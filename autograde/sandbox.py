"""Run a grading kernel in a bubblewrap sandbox with a memory limit.

The kernel sees only the system folders (:data:`SYSTEM`, read-only), the interpreter, the Python
environment and the ``helpers`` package (read-only), and the submission's own working copy (writable,
the kernel's working directory): no home folders, no source notebooks, solutions, hidden tests,
gradebook or other students' files, no package caches or wheels. What is
withheld (:func:`withheld_binds`: the reference implementations, and packages a notebook's answers must
do without) is covered by a stub that imports but refuses every use. ``/tmp`` is
private, there is no network, and the kernel talks to the grader over Unix sockets. The address
space is capped with ``prlimit``, so a memory bomb fails with ``MemoryError`` in its own cell. No
capability is kept, even when the grader runs as root.

Kernels are launched by :class:`SandboxProvisioner`, a jupyter_client kernel provisioner (registered in
pyproject.toml and named in the kernel spec by :class:`SandboxedKernelManager`). By default the kernel
is not started as a new interpreter but forked by a :class:`Zygote`, a process
started once per grading process in this same sandbox with the course's imports loaded; it gives each
kernel its own namespaces and the same view (:mod:`autograde.zygote`). Where that cannot work, kernels
start cold, as described above.

bubblewrap (Debian package ``bubblewrap``) is required: when it is missing or cannot create
namespaces, starting the kernel fails with :class:`SandboxUnavailable` and the submission is
reported as not graded, never graded unprotected. ``HardenedExecute.sandbox = 'none'`` turns the
sandbox off explicitly (every submission is then flagged ``unsandboxed``).
"""

from __future__ import annotations

import atexit
import functools
import json
import multiprocessing.util
import os
import select
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from jupyter_client import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from jupyter_core.paths import jupyter_runtime_dir

from . import ROOT, course_root, zygote

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
    """Folders the kernel must not see: the course being graded, the repository, the repository the
    ``helpers`` package is installed from, and the grader's temporary folder when it is not ``/tmp``
    (other kernels' sockets live there)."""
    paths = {course_root().resolve(), ROOT.resolve(), installed_helpers().parent, Path(jupyter_runtime_dir()).resolve()}
    scratch = Path(tempfile.gettempdir()).resolve()
    if not scratch.is_relative_to("/tmp"):
        paths.add(scratch)
    return sorted(p for p in paths if p.exists() and p != Path("/"))


SYSTEM = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""What a kernel sees of the machine, read-only; the rest (home folders, /opt, /srv, /work, package caches and
wheels from which a withheld package could be unpacked) is not there at all."""


def system_args() -> list[str]:
    """bubblewrap arguments mounting :data:`SYSTEM` read-only (symbolic links, as on merged-/usr systems, as links)."""
    args = []
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def readable_paths() -> list[Path]:
    """Folders put back read-only: the interpreter's own prefix, the Python environment and ``helpers``."""
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    return sorted(p for p in prefixes if p != Path("/")) + [installed_helpers()]


def bytecode_caches() -> list[Path]:
    """``helpers``' bytecode folder, made to exist: the sandbox covers it, so no compiled copy of a withheld
    module (written there by the grader or the tests) can be loaded in its place."""
    cache = installed_helpers() / "__pycache__"
    try:
        cache.mkdir(exist_ok=True)
    except OSError:  # a read-only installation: nothing can be written there either
        return []
    return [cache]


KERNEL_ENV = {"JPY_PARENT_PID": "1",  # no parent poller: the parent is outside the kernel's PID namespace
              "HOME": "/tmp", "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": MPLCONFIGDIR}
"""Variables every grading kernel gets, whatever the grader's environment."""


WITHHELD_STUB = Path(__file__).parent / "withheld"
"""What stands in for a withheld package (this folder) or module (its ``__init__.py``)."""


@functools.lru_cache(maxsize=16)
def withheld_binds(withheld: tuple[str, ...]) -> list[str]:
    """bubblewrap arguments that put the stub over each withheld package or module, where a kernel of this
    environment finds it (asked of a fresh interpreter outside the course folder, as :func:`installed_helpers`)."""
    if not withheld:
        return []
    find = ("import importlib.util, json, sys\nout = {}\nfor name in sys.argv[1:]:\n    try:\n"
            "        spec = importlib.util.find_spec(name)\n    except (ImportError, ValueError):\n"
            "        spec = None\n    if spec is not None and spec.origin:\n"
            "        out[name] = [spec.origin, bool(spec.submodule_search_locations)]\nprint(json.dumps(out))\n")
    done = subprocess.run([sys.executable, "-c", find, *withheld], cwd="/", capture_output=True, text=True,
                          check=True, env={"PATH": "/usr/bin:/bin"})
    args = []
    for origin, package in json.loads(done.stdout).values():
        if not os.path.exists(origin):
            continue
        if package:  # the stub folder over the package's folder
            args += ["--ro-bind", str(WITHHELD_STUB), str(Path(origin).parent)]
        else:
            args += ["--ro-bind", str(WITHHELD_STUB / "__init__.py"), origin]
    return args


def sandbox_args(writable: list[Path], chdir: Path, keep_caps: tuple[str, ...] = (),
                 withheld: tuple[str, ...] = ()) -> list[str]:
    """The bubblewrap command line before the command: the machine read-only, the course and the repository
    hidden, the Python environment and ``helpers`` read-only, the ``withheld`` packages replaced by a stub,
    ``writable`` folders writable, no network."""
    args = ["bwrap", *system_args(), "--dev", "/dev", "--remount-ro", "/dev", "--tmpfs", "/dev/shm",
            "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden_paths():
        args += ["--tmpfs", str(path)]
    for path in readable_paths():
        args += ["--ro-bind", str(path), str(path)]
    for path in bytecode_caches():
        args += ["--tmpfs", str(path)]
    args += withheld_binds(tuple(withheld))
    for path in writable:
        args += ["--bind", str(path), str(path)]
    fonts = font_cache()
    if fonts is not None:
        args += ["--ro-bind", str(fonts), f"{MPLCONFIGDIR}/{fonts.name}"]
    for path in hidden_paths():  # what is left of a hidden folder cannot be written either
        args += ["--remount-ro", str(path)]
    args += ["--unshare-net", "--unshare-ipc", "--unshare-pid", "--unshare-uts", "--die-with-parent",
             "--cap-drop", "ALL"]  # run as root, bubblewrap would otherwise keep every capability
    for cap in keep_caps:
        args += ["--cap-add", cap]
    for key, value in KERNEL_ENV.items():
        args += ["--setenv", key, value]
    return args + ["--chdir", str(chdir), "--"]


def bwrap_command(cmd: list[str], workdir: Path, ipc_dir: Path, memory_mb: int,
                  withheld: tuple[str, ...] = ()) -> list[str]:
    """The kernel command wrapped in bubblewrap and prlimit."""
    return sandbox_args([workdir, ipc_dir], workdir, withheld=withheld) + limited(cmd, memory_mb)


def limited(cmd: list[str], memory_mb: int) -> list[str]:
    """The command under an address-space limit of ``memory_mb`` MiB."""
    return ["prlimit", f"--as={memory_mb * 1024 * 1024}", "--"] + cmd


class Zygote:
    """A running zygote (:mod:`autograde.zygote`) serving the working copies under one folder."""

    def __init__(self, spool: Path, env: dict | None, withheld: tuple[str, ...] = ()):
        """Start it in the sandbox with the course's imports (but the ``withheld`` packages) and wait until it is
        ready (ZygoteUnusable if not)."""
        self.ctl = Path(tempfile.mkdtemp(prefix="autograde-zygote-")).resolve()
        self.socket = str(self.ctl / "zygote.sock")
        fonts = font_cache()
        tmp = Path("/tmp")  # a kernel's fresh /tmp covers what the sandbox put there: the zygote rebuilds it
        hidden = {p for p in hidden_paths() if p.is_relative_to(tmp)} | {spool, self.ctl}
        config = {"preload": preload_modules(withheld), "socket": self.socket, "probe": str(self.ctl / "probe"),
                  "spool": str(spool), "ctl": str(self.ctl),
                  "hidden": [str(p) for p in sorted(hidden, key=lambda p: len(p.parts))],
                  "readable": [str(p) for p in readable_paths() if p.is_relative_to(tmp)], "env": KERNEL_ENV,
                  "tmp_files": [f"{MPLCONFIGDIR}/{fonts.name}"] if fonts else []}
        # run as root, mapping root into the children's user namespace needs CAP_SETFCAP (their kernels drop it)
        caps = ("CAP_SETFCAP",) if os.getuid() == 0 else ()
        cmd = sandbox_args([spool, self.ctl], Path("/"), caps, withheld) + [
            sys.executable, "-c", Path(zygote.__file__).read_text(), "serve", json.dumps(config)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True, env=env,
                                     start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], ZYGOTE_START_TIMEOUT)
        line = self.proc.stdout.readline().strip() if ready else "unusable: not ready in time"
        if line != "ready":
            self.stop()
            raise ZygoteUnusable(line.removeprefix("unusable").strip(" :") or "it exited at start")

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.proc.poll() is None

    def command(self, cmd: list[str], workdir: Path, ipc_dir: Path, memory_mb: int) -> list[str]:
        """The relay started in place of the kernel command: the kernel itself is forked by the zygote."""
        return [sys.executable, "-I", zygote.__file__, "connect", self.socket, str(workdir), str(ipc_dir),
                str(memory_mb), "--"] + cmd

    def stop(self) -> None:
        """Stop it and remove its folder."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.ctl, ignore_errors=True)


class ZygoteUnusable(RuntimeError):
    """A zygote cannot run here (namespaces refused inside the sandbox)."""


ZYGOTE_START_TIMEOUT = 120
_zygotes: dict[tuple[Path, tuple[str, ...]], Zygote] = {}
_refused: set[tuple[Path, tuple[str, ...]]] = set()
_zygote_lock = threading.Lock()


def preload_modules(withheld: tuple[str, ...] = ()) -> list[str]:
    """What a zygote imports before it forks: a kernel's start-up imports, numpy, torch, every ``helpers`` module,
    except what is withheld (a kernel must not find it in memory either)."""
    helpers = sorted(f"helpers.{p.stem}" for p in installed_helpers().glob("*.py") if not p.stem.startswith("_"))
    kernel = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "IPython.core.completerlib",
              "IPython.extensions.storemagic", "sqlite3", "tornado.queues", "tornado.platform.asyncio"]
    return [m for m in kernel + ["numpy", "torch", "helpers"] + helpers
            if not any(m == w or m.startswith(w + ".") for w in withheld)]


def zygote_for(workdir: Path, env: dict | None, withheld: tuple[str, ...] = ()) -> Zygote | None:
    """The zygote serving ``workdir`` without the ``withheld`` packages (started on first use), or None where
    kernels start the classic way: a working copy too close to ``/``, a folder that holds the Python
    environment, or a machine where the zygote cannot isolate its children (said once on stderr)."""
    spool = workdir.parents[1] if len(workdir.parents) >= 3 else None
    if spool is None or any(p == spool or p.is_relative_to(spool)
                            for p in readable_paths() + [Path(tempfile.gettempdir()).resolve()]):
        return None
    key = (spool, tuple(withheld))
    with _zygote_lock:
        found = _zygotes.get(key)
        if found is not None and found.alive():
            return found
        if key in _refused:
            return None
        try:
            _zygotes[key] = Zygote(spool, env, key[1])
        except ZygoteUnusable as exc:
            _refused.add(key)
            print(f"warning: kernels start without a zygote (slower): {exc}", file=sys.stderr)
            return None
        return _zygotes[key]


def _stop_zygotes() -> None:
    """Stop every zygote of this process."""
    for z in _zygotes.values():
        z.stop()


atexit.register(_stop_zygotes)
multiprocessing.util.Finalize(None, _stop_zygotes, exitpriority=10)  # worker processes of make autograde JOBS=n


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, launching the kernel sandboxed (forked from a zygote, or cold in
    bubblewrap), or only memory-limited when the sandbox is off; the settings are its kernel manager's."""

    zygote: Zygote | None = None
    workdir: Path | None = None
    ipc_dir: Path | None = None

    async def pre_launch(self, **kwargs):
        """Talk over Unix sockets in a private folder the sandbox shares with the grader; wrap the command."""
        km = self.parent
        if km.sandbox == "bwrap":
            problem = sandbox_problem()
            if problem:
                raise SandboxUnavailable(problem)
            if not kwargs.get("cwd"):
                raise SandboxUnavailable("no working copy given for the kernel; refusing to sandbox the current folder")
            self.workdir = Path(kwargs["cwd"]).resolve()
            km.sandbox_workdir = str(self.workdir)
            self.zygote = zygote_for(self.workdir, kwargs.get("env"), km.withheld) if km.warm else None
        self.ipc_dir = Path(tempfile.mkdtemp(prefix="autograde-kernel-", dir=self.zygote.ctl if self.zygote else None))
        km.transport, km.ip = "ipc", str(self.ipc_dir / "kernel")
        km.connection_file = str(self.ipc_dir / "connection.json")
        kwargs = await super().pre_launch(**kwargs)
        cmd, mb = kwargs["cmd"], km.memory_limit_mb
        if km.sandbox != "bwrap":
            kwargs["cmd"] = limited(cmd, mb)
        elif self.zygote is not None:
            kwargs["cmd"] = self.zygote.command(cmd, self.workdir, self.ipc_dir, mb)
        else:
            kwargs["cmd"] = bwrap_command(cmd, self.workdir, self.ipc_dir, mb, km.withheld)
        return kwargs

    async def cleanup(self, restart: bool = False) -> None:
        """Remove the socket folder with the kernel."""
        await super().cleanup(restart=restart)
        if not restart and self.ipc_dir is not None:
            shutil.rmtree(self.ipc_dir, ignore_errors=True)


PROVISIONER = "autograde-sandbox"
"""The name :class:`SandboxProvisioner` is registered under (``jupyter_client.kernel_provisioners``, pyproject.toml)."""


class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels are launched by :class:`SandboxProvisioner`, with its settings."""

    sandbox = "bwrap"
    sandbox_workdir: str | None = None
    memory_limit_mb = 4096
    warm = True
    """Fork the kernel from a zygote (:mod:`autograde.zygote`) rather than start a new interpreter."""
    withheld: tuple[str, ...] = ()
    """Packages and modules replaced by a stub in the kernel (:data:`WITHHELD_STUB`)."""

    @property
    def kernel_spec(self):
        """The kernel's spec, naming the sandbox's provisioner (jupyter_client's way to choose how kernels launch)."""
        spec = super().kernel_spec
        if spec is not None:
            spec.metadata["kernel_provisioner"] = {"provisioner_name": PROVISIONER}
        return spec
