"""autograde.sandbox: what a sandboxed kernel can reach, and failing closed without bubblewrap."""

import asyncio
import subprocess
import sys

import pytest

from autograde import sandbox
from tests.conftest import ROOT


def run_sandboxed(code: str, workdir, tmp_path) -> subprocess.CompletedProcess:
    """Run Python code the way a grading kernel runs."""
    ipc = tmp_path / "ipc"
    ipc.mkdir()
    return subprocess.run(sandbox.bwrap_command([sys.executable, "-c", code], workdir, ipc, 2048),
                          capture_output=True, text=True, timeout=60)


def test_sandbox_hides_the_course_and_keeps_the_working_copy(tmp_path):
    assert sandbox.sandbox_problem() is None, sandbox.sandbox_problem()
    work = tmp_path / "work"
    work.mkdir()
    code = (f"import os, helpers\n"
            f"print(os.path.exists({str(ROOT / 'source')!r}), os.path.exists({str(ROOT / 'nbgrader_config.py')!r}))\n"
            f"open('mine.txt', 'w').write('ok')\n"
            f"try:\n    open({str(ROOT / 'autograde' / 'x.txt')!r}, 'w')\n    print('wrote')\n"
            f"except OSError as e:\n    print('read-only', e.errno)\n")
    out = run_sandboxed(code, work, tmp_path)
    assert out.returncode == 0, out.stderr
    seen_source, seen_config, verdict, errno = out.stdout.split()
    assert (seen_source, seen_config, verdict) == ("False", "False", "read-only")
    assert errno in ("2", "30")  # the path does not exist there, or it is on a read-only mount
    assert (work / "mine.txt").read_text() == "ok"
    assert not (ROOT / "autograde" / "x.txt").exists()


def test_sandbox_limits_memory(tmp_path):
    out = run_sandboxed("bytearray(3 * 1024**3)", tmp_path, tmp_path)
    assert out.returncode != 0 and "MemoryError" in out.stderr


def _start(km, **kw) -> list[str]:
    """Start a kernel with ``km``, shut it down, and return the command that launched it."""
    async def go():
        await km.start_kernel(**kw)
        args = list(km.provisioner.process.args)
        await km.shutdown_kernel(now=True)
        return args
    return asyncio.run(go())


def test_missing_bubblewrap_is_reported_and_refused(monkeypatch):
    sandbox.sandbox_problem.cache_clear()
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    try:
        assert "bubblewrap (bwrap) is not installed" in sandbox.sandbox_problem()
        with pytest.raises(sandbox.SandboxUnavailable, match="not installed"):
            _start(sandbox.SandboxedKernelManager(kernel_name="python3"), cwd="/tmp")
    finally:
        sandbox.sandbox_problem.cache_clear()


def test_no_working_copy_means_no_kernel():
    with pytest.raises(sandbox.SandboxUnavailable, match="no working copy"):
        _start(sandbox.SandboxedKernelManager(kernel_name="python3"))


def test_kernels_launch_through_the_registered_sandbox_provisioner(tmp_path):
    from jupyter_client.provisioning import KernelProvisionerFactory

    assert sandbox.PROVISIONER in KernelProvisionerFactory.instance().get_provisioner_entries()
    km = sandbox.SandboxedKernelManager(kernel_name="python3")
    km.warm = False
    args = _start(km, cwd=str(tmp_path))
    assert isinstance(km.provisioner, sandbox.SandboxProvisioner)
    assert args[0] == "bwrap" and km.transport == "ipc"
    assert not km.provisioner.ipc_dir.exists()  # removed with the kernel


def test_a_cold_kernel_holds_no_capability_even_when_grading_as_root(tmp_path):
    code = ("caps = dict(l.split(':') for l in open('/proc/self/status') if l.startswith('Cap'))\n"
            "print(int(caps['CapEff'], 16), int(caps['CapPrm'], 16))")
    out = run_sandboxed(code, tmp_path, tmp_path)
    assert out.returncode == 0 and out.stdout.split() == ["0", "0"], out.stdout + out.stderr
