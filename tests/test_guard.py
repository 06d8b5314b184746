"""autograde.guard: the in-kernel fingerprints and the grader's ledger, run in a plain Python process."""

import subprocess
import sys

import pytest

from autograde.guard import Ledger, new_nonce, parse_probe, probe_code, setup_code


def reports(student_code: str) -> list[dict]:
    """Probe reports of a process that installs the guard, imports torch, probes, runs ``student_code``, probes."""
    nonce = new_nonce()
    code = "\n".join([setup_code(), "import torch", probe_code(nonce, []), student_code, probe_code(nonce, [])])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith(nonce)]
    return [parse_probe(ln, nonce) for ln in lines]


def severe(student_code: str) -> set[str]:
    """Names the ledger finds replaced after ``student_code`` ran."""
    ledger = Ledger()
    for report in reports(student_code):
        ledger.record(report)
    return ledger.severe


@pytest.mark.parametrize("code", ["import torch._dynamo", "torch.compile"], ids=["import", "none"])
def test_torch_dynamo_wrapping_manual_seed_is_not_tampering(code):
    assert severe(code) == set()


@pytest.mark.parametrize("code", [
    "torch.manual_seed = lambda s: None",
    "import functools\nf = functools.wraps(torch.manual_seed)(lambda s: None)\n"
    "torch.manual_seed = f\nimport torch._dynamo",
    "import torch._dynamo\ntorch.manual_seed = torch._disable_dynamo(lambda s: None)",
], ids=["replaced", "fake-wrapper-before-dynamo", "rewrapped-after-dynamo"])
def test_a_replaced_manual_seed_is_tampering_with_or_without_dynamo(code):
    assert "torch.manual_seed" in severe(code)


def test_a_rebinding_reported_around_another_function_is_refused():
    ledger = Ledger()
    ledger.record({"now": {"torch.manual_seed": "1:1"}})
    ledger.record({"now": {"torch.manual_seed": "3:3"}, "rebound": {"torch.manual_seed": ["2:2", "3:3"]}})
    assert ledger.severe == {"torch.manual_seed"}
