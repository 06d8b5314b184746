"""Warm grading kernels: one sandboxed process with the course's imports loaded forks a kernel per submission.

Starting a kernel and importing torch costs about two seconds of CPU, more than the grading itself. A
*zygote* pays it once per grading process: the grader starts it in the bubblewrap sandbox of
:mod:`autograde.sandbox` (course hidden, environment read-only, no network) with ipykernel, numpy,
torch and ``helpers`` imported, and asks it for every kernel. For each request the zygote forks a
child that enters new user, mount, PID, network, IPC and UTS namespaces; there it mounts a fresh
``/tmp`` and ``/dev/shm``, rebuilds under them what the sandbox hides or shows, hides every working
copy under an empty read-only tmpfs except the submission's own, caps the address space and forks
the kernel. The kernel drops every capability
(bounding set included), cannot be traced, and runs ipykernel as PID 1 of its namespace: when it
exits, everything it started dies with it, and nothing it left in ``/tmp`` reaches the next one.

jupyter_client starts a small relay in place of the kernel (``python -m autograde.zygote connect``): it
hands its standard streams and the kernel's command to the zygote, forwards signals (interrupt,
terminate) and exits with the kernel's status; when the relay is killed, the kernel is killed.

The zygote's own code runs from this file's text (the repository is hidden in the sandbox); it uses
only the standard library before it imports what it preloads.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_SET_PDEATHSIG = 4, 24, 38, 47, 1
LINUX_CAPABILITY_VERSION_3 = 0x20080522
KERNEL_MODULE = "ipykernel_launcher"
MAX_REQUEST = 1 << 20

_libc = ctypes.CDLL(None, use_errno=True)


def _call(name: str, *args) -> None:
    """Call a libc function, raising OSError with its errno when it fails."""
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}{args[:2]!r}: {os.strerror(err)}")


def _mount(source, target, fstype, flags: int) -> None:
    """mount(2) with str or None arguments."""
    enc = [None if a is None else str(a).encode() for a in (source, target, fstype)]
    _call("mount", enc[0], enc[1], enc[2], ctypes.c_ulong(flags), None)


# -- in the child: namespaces, mounts, privileges -------------------------------------------------
def isolate(cwd: str, ipc: str, layout: dict) -> None:
    """Enter new namespaces and rebuild the sandbox's view for one kernel: a fresh /tmp and /dev/shm, the
    ``hidden`` folders empty and read-only (parents first), the ``readable`` ones under /tmp put back
    read-only, and only ``cwd`` and ``ipc`` writable."""
    uid, gid = os.getuid(), os.getgid()
    _call("unshare", CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        try:
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        except OSError as exc:  # mapping root needs CAP_SETFCAP (Linux 5.12 and later)
            raise OSError(exc.errno, f"writing /proc/self/{name}: {exc.strerror}") from None
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    readable, writable = layout["readable"], [cwd, ipc]
    keep = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in readable + writable}  # reachable once covered
    for target in ["/tmp", "/dev/shm"] + layout["hidden"]:
        os.makedirs(target, exist_ok=True)
        _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV)
    for path, fd in keep.items():
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
        if path in readable:
            _mount("none", path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for folder in layout["hidden"]:
        _mount("none", folder, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for path, text in layout["tmp_files"].items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_privileges() -> None:
    """Drop every capability (bounding and ambient sets too), forbid gaining any, and refuse tracing."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _call("prctl", PR_CAPBSET_DROP, cap, 0, 0, 0)
    _call("prctl", PR_CAP_AMBIENT, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    _call("capset", ctypes.byref(_CapHeader(LINUX_CAPABILITY_VERSION_3, 0)), ctypes.byref((_CapData * 2)()))
    _call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)
    with open("/proc/self/status") as f:
        caps = dict(line.split(":", 1) for line in f if line.startswith("Cap"))
    if any(int(caps[k], 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")):
        raise OSError("capabilities still held after dropping them")


def become_kernel(request: dict, fds: list[int], env: dict[str, str]) -> None:
    """In the forked kernel process: take the relay's streams, drop privileges and run ipykernel; never returns."""
    code = 1
    try:
        for i, fd in enumerate(fds[:3]):
            os.dup2(fd, i)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        drop_privileges()
        argv = [a for a in request["argv"] if not a.startswith("-X")]  # interpreter options are the zygote's
        if argv[1:3] != ["-m", KERNEL_MODULE]:
            raise ValueError(f"not an ipykernel command: {request['argv'][:4]}")
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        os.environ.update(env)
        sys.path[0] = request["cwd"]
        sys.argv = [KERNEL_MODULE] + argv[3:]
        sys.dont_write_bytecode = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # fresh entropy, as in a new process
        if "torch" in sys.modules and os.environ.get("OMP_NUM_THREADS", "").isdigit():
            try:
                sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
            except ImportError:  # the stub standing for a withheld torch
                pass
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(code)


def child(request: dict, fds: list[int], conn: socket.socket, setup: dict) -> int:
    """In the forked child: isolate, fork the kernel, relay signals to it and report its exit status."""
    import resource
    import select

    isolate(request["cwd"], request["ipc"], setup)
    limit = int(request["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    kernel = os.fork()
    if kernel == 0:
        conn.close()
        become_kernel(request, fds, setup["env"])
    for fd in fds:
        os.close(fd)
    conn.send(b"started")
    exited = os.pidfd_open(kernel)
    while True:
        ready, _, _ = select.select([conn, exited], [], [])
        if exited in ready:
            _, status = os.waitpid(kernel, 0)
            code = os.waitstatus_to_exitcode(status)
            conn.send(f"exit {code}".encode())
            return 0
        msg = conn.recv(64)
        if not msg:  # the relay is gone: so is the kernel
            os.kill(kernel, signal.SIGKILL)
            os.waitpid(kernel, 0)
            return 0
        if msg.startswith(b"signal "):
            os.kill(kernel, int(msg.split()[1]))


def _run_or_report(write: int, step) -> None:
    """In a forked trial process: run ``step``; when it fails, write why to the pipe ``write`` and exit 1."""
    try:
        step()
    except BaseException as exc:
        os.write(write, f"{type(exc).__name__}: {exc}".encode()[:500])
        os._exit(1)


def self_test(folder: str, setup: dict) -> str | None:
    """Why a child cannot be isolated here (namespaces refused), or None when a trial child could."""
    cwd, ipc = os.path.join(folder, "w"), os.path.join(folder, "i")
    os.makedirs(cwd, exist_ok=True)
    os.makedirs(ipc, exist_ok=True)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        _run_or_report(write, lambda: isolate(cwd, ipc, setup))
        if os.fork() == 0:  # a kernel drops its privileges in the new PID namespace
            _run_or_report(write, drop_privileges)
            os._exit(0)
        _, status = os.wait()
        os._exit(os.waitstatus_to_exitcode(status))
    os.close(write)
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 1000).decode(errors="replace")
    os.close(read)
    return None if status == 0 else (message or f"trial child exited with status {status}")


def _send_error(conn: socket.socket, text: str) -> None:
    """Tell the relay why it gets no kernel (it may be gone already)."""
    try:
        conn.send(f"error {text}".encode()[:4000])
    except OSError:
        pass


def refusal(conn: socket.socket, request: dict, config: dict) -> str | None:
    """Why a request is refused: it comes from inside the sandbox (a kernel), or asks for a working copy that is
    not ``<spool>/<student>/<assignment>`` or a socket folder outside the zygote's own; None when it is served."""
    import struct

    pid, _, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    if pid != 0:  # the relay runs outside this PID namespace and shows as 0; a process in the sandbox does not
        return "requests come from the grader only"
    cwd, ipc = request["cwd"], request["ipc"]
    if os.path.dirname(os.path.dirname(cwd)) != config["spool"] or os.path.dirname(ipc) != config["ctl"]:
        return f"not a working copy of this zygote: {cwd}"
    return None


# -- the zygote ------------------------------------------------------------------------------------
def serve(config: dict) -> None:
    """Preload, check that a child can be isolated, then fork a kernel for every request on the socket."""
    import importlib

    _call("prctl", PR_SET_DUMPABLE, 0, 0, 0, 0)  # kernels cannot trace the zygote
    os.environ["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # what ipykernel sets when frozen modules are on
    for name in config["preload"]:
        try:
            importlib.import_module(name)
        except ImportError:  # a module that needs a withheld package: the kernel imports it (and fails) itself
            pass
        except Exception as exc:
            print(f"zygote: could not preload {name}: {exc}", file=sys.stderr)
    tmp_files = {}
    for path in config["tmp_files"]:  # copied into every kernel's fresh /tmp
        with open(path) as f:
            tmp_files[path] = f.read()
    setup = {"hidden": config["hidden"], "readable": config["readable"], "tmp_files": tmp_files, "env": config["env"]}
    problem = self_test(config["probe"], setup)
    if problem:
        print(f"unusable {problem}", flush=True)
        return
    server = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    server.bind(config["socket"])
    server.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        fds = []
        try:
            msg, fds, _, _ = socket.recv_fds(conn, MAX_REQUEST, 3)
            request = json.loads(msg)
            request["cwd"], request["ipc"] = os.path.realpath(request["cwd"]), os.path.realpath(request["ipc"])
            refused = refusal(conn, request, config)
        except Exception as exc:
            refused = f"{type(exc).__name__}: {exc}"
        if refused:
            _send_error(conn, refused)
            conn.close()
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            server.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                os._exit(child(request, fds, conn, setup))
            except BaseException as exc:
                _send_error(conn, f"{type(exc).__name__}: {exc}")
                os._exit(1)
        conn.close()
        for fd in fds:
            os.close(fd)


# -- the relay -------------------------------------------------------------------------------------
def connect(socket_path: str, cwd: str, ipc: str, memory_mb: int, argv: list[str]) -> int:
    """Ask the zygote for a kernel running ``argv``; forward signals to it; return its exit status."""
    _call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader gone, the relay and its kernel go
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(socket_path)
    request = {"cwd": cwd, "ipc": ipc, "memory_mb": memory_mb, "argv": argv, "env": dict(os.environ)}
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])

    def forward(signum, frame):
        """Pass a signal on to the kernel."""
        try:
            conn.send(f"signal {signum}".encode())
        except OSError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, forward)
    while True:
        try:
            msg = conn.recv(4096)
        except InterruptedError:
            continue
        if not msg:
            print("autograde.zygote: the zygote closed the connection", file=sys.stderr)
            return 1
        text = msg.decode(errors="replace")
        if text.startswith("exit "):
            return int(text.split()[1]) % 256
        if text.startswith("error "):
            print(f"autograde.zygote: the kernel could not be started: {text[6:]}", file=sys.stderr)
            return 1


def main(argv: list[str]) -> int:
    """``serve CONFIG_JSON`` (inside the sandbox) or ``connect SOCKET CWD IPC MEMORY_MB -- KERNEL_ARGV...``."""
    if argv[:1] == ["serve"]:
        serve(json.loads(argv[1]))
        return 0
    if argv[:1] == ["connect"] and "--" in argv:
        split = argv.index("--")
        socket_path, cwd, ipc, memory_mb = argv[1:split]
        return connect(socket_path, cwd, ipc, int(memory_mb), argv[split + 1:])
    print(main.__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
