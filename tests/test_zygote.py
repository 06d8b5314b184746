"""autograde.zygote: kernels forked from a warm sandboxed process are as isolated as kernels started cold."""

import asyncio
import os
import signal
import time

import pytest

from autograde import sandbox
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def spool(tmp_path_factory):
    """A folder of working copies ``<student>/<assignment>``, like ``autograde/autograded``."""
    assert sandbox.sandbox_problem() is None, sandbox.sandbox_problem()
    root = tmp_path_factory.mktemp("autograded")
    for student in ("alice", "bob"):
        (root / student / "a1").mkdir(parents=True)
    (root / "bob" / "a1" / "secret.txt").write_text("bob's answer")
    return root


async def _run(workdir, cells: list[str], warm: bool = True, memory_mb: int = 2048, interrupt_after: float = 0,
               withheld: tuple[str, ...] = ()):
    """Start a kernel for ``workdir``, run ``cells``; return (stdout per cell, error names, relay pid, kernel cmd)."""
    km = sandbox.SandboxedKernelManager(kernel_name="python3")
    km.warm, km.memory_limit_mb, km.withheld = warm, memory_mb, withheld
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    await km.start_kernel(cwd=str(workdir), env=env)
    kc = km.client()
    kc.start_channels()
    outs, errors = [], []
    try:
        await kc.wait_for_ready(timeout=60)
        for code in cells:
            msg_id, text = kc.execute(code), []
            if interrupt_after:
                await asyncio.sleep(interrupt_after)
                await km.interrupt_kernel()
            while True:
                msg = await kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    text.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    errors.append(msg["content"]["ename"])
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            outs.append("".join(text))
        return outs, errors, km.provisioner.process.pid, list(km.provisioner.process.args)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def run(workdir, cells, **kw):
    """Synchronous :func:`_run`."""
    return asyncio.run(_run(workdir, cells, **kw))


def test_a_warm_kernel_is_forked_by_the_zygote_and_sees_only_its_own_working_copy(spool):
    code = (f"import os, sys\n"
            f"print(os.getcwd())\n"
            f"print(sorted(os.listdir({str(spool)!r})))\n"
            f"print(os.path.exists({str(spool / 'bob' / 'a1' / 'secret.txt')!r}),"
            f" os.path.exists({str(ROOT / 'source')!r}))\n"
            f"open('mine.txt', 'w').write('ok')\n"
            f"print('torch' in sys.modules)\n")
    (out,), errors, _, cmd = run(spool / "alice" / "a1", [code])
    assert "autograde/zygote.py" in " ".join(cmd) and "connect" in cmd
    cwd, listing, seen, preloaded = out.split("\n")[:4]
    assert cwd == str(spool / "alice" / "a1")
    assert listing == "['alice']"  # bob's folder is not there at all
    assert seen == "False False"
    assert preloaded == "True"
    assert (spool / "alice" / "a1" / "mine.txt").read_text() == "ok" and not errors


def test_a_warm_kernel_holds_no_capability_no_network_and_cannot_be_traced(spool):
    code = ("import ctypes, os, socket\n"
            "caps = dict(l.split(':') for l in open('/proc/self/status') if l.startswith('Cap'))\n"
            "print(sorted({int(v, 16) for v in caps.values()}))\n"
            "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))\n"  # PR_GET_DUMPABLE
            "print(sorted(n for _, n in socket.if_nameindex()))\n"
            "print(os.getpid())\n")
    (out,), errors, _, _ = run(spool / "alice" / "a1", [code])
    caps, dumpable, interfaces, pid = out.split("\n")[:4]
    assert caps == "[0]" and dumpable == "0" and interfaces == "['lo']" and pid == "1" and not errors


def test_nothing_a_kernel_leaves_behind_reaches_the_next_kernel(spool):
    work = spool / "alice" / "a1"
    beat = work / "beat.txt"
    leave = ("import subprocess\n"
             "open('/tmp/left.txt', 'w').write('x'); open('/dev/shm/left', 'w').write('x')\n"
             f"subprocess.Popen(['sh', '-c', 'while true; do echo . >> {beat}; sleep 0.1; done'],"
             " start_new_session=True)\n")
    run(work, [leave, "import time; time.sleep(0.5)"])
    size = beat.stat().st_size
    time.sleep(0.6)
    assert beat.stat().st_size == size, "a process of the previous kernel still runs"
    (out,), _, _, _ = run(work, ["import os; print(os.path.exists('/tmp/left.txt'), os.listdir('/dev/shm'))"])
    assert out.strip() == "False []"


def test_a_warm_kernel_is_interrupted_and_memory_limited(spool):
    work = spool / "alice" / "a1"
    start = time.monotonic()
    _, errors, _, _ = run(work, ["import time; time.sleep(30)"], interrupt_after=1.0)
    assert errors == ["KeyboardInterrupt"] and time.monotonic() - start < 20
    _, errors, _, _ = run(work, ["bytearray(3 * 1024**3)"], memory_mb=2048)
    assert errors == ["MemoryError"]


def test_killing_the_relay_kills_the_kernel(spool):
    work = spool / "alice" / "a1"
    beat = work / "beat2.txt"

    async def go():
        km = sandbox.SandboxedKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(work), env=dict(os.environ))
        kc = km.client()
        kc.start_channels()
        await kc.wait_for_ready(timeout=60)
        loop = f"while true; do echo . >> {beat}; sleep 0.1; done"
        kc.execute(f"import subprocess; subprocess.Popen(['sh', '-c', {loop!r}])")
        await asyncio.sleep(1.0)
        os.kill(km.provisioner.process.pid, signal.SIGKILL)
        kc.stop_channels()
        await asyncio.sleep(0.5)
        await km.shutdown_kernel(now=True)

    asyncio.run(go())
    size = beat.stat().st_size
    time.sleep(0.6)
    assert size > 0 and beat.stat().st_size == size


def test_without_a_usable_zygote_kernels_start_cold_and_sandboxed(spool, monkeypatch, tmp_path):
    assert sandbox.zygote_for(tmp_path.parents[len(tmp_path.parents) - 2], None) is None  # too close to /
    monkeypatch.setattr(sandbox, "_zygotes", {})
    monkeypatch.setattr(sandbox, "_refused", {(spool, ())})  # as when the zygote's trial child could not be isolated
    (out,), _, _, cmd = run(spool / "alice" / "a1", ["import os; print(os.path.exists('../../bob'))"])
    assert cmd[0] == "bwrap" and out.strip() == "False"


def test_a_course_under_tmp_stays_hidden_and_read_only_around_the_working_copy(tmp_path, monkeypatch):
    course = tmp_path / "course"
    work = course / "autograde" / "autograded" / "carol" / "a1"  # the layout of a course, without its config
    work.mkdir(parents=True)
    (course / "source").mkdir()
    monkeypatch.setenv("COURSE_ROOT", str(course))  # the sandbox hides the course being graded
    code = (f"import os\nprint(sorted(os.listdir({str(course)!r})))\n"
            f"try:\n    open({str(course / 'autograde' / 'pwned.txt')!r}, 'w')\n    print('written')\n"
            f"except OSError as e:\n    print('refused', e.errno)\n")
    (out,), errors, _, cmd = run(work, [code])
    assert "connect" in cmd and not errors
    assert out.split("\n")[:2] == ["['autograde']", "refused 30"]  # no source/; a read-only file system
    assert not (course / "autograde" / "pwned.txt").exists()


def test_dev_is_read_only_and_shm_private(spool):
    code = ("import os\ntry:\n    open('/dev/stash', 'w')\n    print('written')\n"
            "except OSError as e:\n    print(e.errno)\n"
            "open('/dev/shm/x', 'w').write('x'); print(os.listdir('/dev/shm'))\n")
    (out,), errors, _, _ = run(spool / "alice" / "a1", [code])
    assert out.split("\n")[:2] == ["30", "['x']"] and not errors


def test_the_zygote_serves_only_working_copies_of_its_own_folder(spool, tmp_path):
    import json
    import socket

    z = sandbox.zygote_for(spool / "alice" / "a1", dict(os.environ))
    for cwd in (tmp_path, spool / "alice"):  # another folder; not <student>/<assignment>
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(z.socket)
        request = {"cwd": str(cwd), "ipc": str(z.ctl / "x"), "memory_mb": 512, "argv": [], "env": {}}
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        assert conn.recv(4096).decode().startswith("error not a working copy"), cwd
        conn.close()


def test_a_zygote_whose_trial_child_cannot_drop_its_privileges_is_refused(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from autograde import zygote

    line = '    with open("/proc/sys/kernel/cap_last_cap") as f:'
    broken = tmp_path / "zygote.py"
    broken.write_text(Path(zygote.__file__).read_text().replace(line, '    raise OSError("trial failure")\n' + line, 1))
    monkeypatch.setattr(zygote, "__file__", str(broken))
    monkeypatch.setattr(sandbox, "_zygotes", {})
    monkeypatch.setattr(sandbox, "_refused", set())
    work = (tmp_path / "spool" / "carol" / "a1").resolve()
    work.mkdir(parents=True)
    assert sandbox.zygote_for(work, dict(os.environ)) is None
    assert sandbox._refused == {(work.parents[1], ())}
    assert "kernels start without a zygote (slower): OSError: trial failure" in capsys.readouterr().err


@pytest.mark.parametrize("warm", [True, False])
def test_withheld_packages_are_stubs_in_the_kernel_warm_or_cold(spool, warm):
    probe = ("import sys, torch, helpers.nn\n"
             "for use in ('torch.tensor', 'helpers.nn.torch_forward', 'helpers.reference.train_gd'):\n"
             "    try:\n"
             "        eval(use)\n"
             "        print(use, 'AVAILABLE')\n"
             "    except ImportError as e:\n"
             "        print(use, 'withheld' if 'not available while' in str(e) else e)\n"
             "import gc\n"
             "print('real torch in memory:', any(getattr(m, '__name__', '') == 'torch._C' for m in gc.get_objects()\n"
             "                                  if type(m) is type(sys)))\n")
    (out,), errors, _, _ = run(spool / "alice" / "a1", [probe], warm=warm,
                               withheld=("helpers.reference", "sympy", "torch"))
    assert errors == [] and out.count("withheld") == 3 and "AVAILABLE" not in out, out
    assert "real torch in memory: False" in out
    (out,), _, _, _ = run(spool / "alice" / "a1", ["import torch; print(torch.tensor([1.0]).sum().item())"], warm=warm,
                          withheld=("helpers.reference",))
    assert out.strip() == "1.0"


@pytest.mark.parametrize("warm", [True, False])
def test_the_kernel_sees_no_folder_beyond_the_system_the_environment_and_its_copy(spool, warm):
    import tempfile
    from pathlib import Path

    outside = Path(tempfile.mkdtemp(dir="/var/tmp", prefix="autograde-test-"))  # as /opt/wheels, ~/.cache, /work
    (outside / "torch-9.9-py3-none-any.whl").write_text("a wheel to unpack torch from")
    compiled = sandbox.installed_helpers() / "__pycache__" / "planted-reference.cpython-311.pyc"
    compiled.parent.mkdir(exist_ok=True)
    compiled.write_text("a compiled copy of a withheld module")
    try:
        probe = (f"import os\nprint(os.path.exists({str(outside)!r}), os.path.exists({str(compiled)!r}),"
                 " os.path.exists('/usr/lib'), os.path.exists(os.__file__))\n")
        (out,), errors, _, _ = run(spool / "alice" / "a1", [probe], warm=warm)
    finally:
        compiled.unlink()
        (outside / "torch-9.9-py3-none-any.whl").unlink()
        outside.rmdir()
    assert errors == [] and out.split() == ["False", "False", "True", "True"], out
