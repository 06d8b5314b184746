"""The judge on a real kernel (no sandbox): tests run outside the student's process and follow values only."""

from __future__ import annotations

import os

import pytest
from jupyter_client.manager import start_new_kernel
from nbformat.v4 import new_code_cell
from nbgrader.utils import determine_grade

from autograde.judge import Connection, Judge, bridge_setup_code, free_names


@pytest.fixture
def kernel():
    """A fresh kernel with the bridge, and a function that runs student code in it."""
    km, kc = start_new_kernel(kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=ERROR"])
    kc.execute_interactive(bridge_setup_code(), store_history=False)

    def student(code: str) -> None:
        kc.execute_interactive(code, store_history=False, output_hook=lambda msg: None)

    yield km, student
    kc.stop_channels()
    km.shutdown_kernel(now=True)


@pytest.fixture
def judge(kernel):
    """A judge connected to the kernel."""
    km, _ = kernel
    j = Judge()
    j.connect(Connection(km.get_connection_info(), km.is_alive, os.path.dirname(km.connection_file)))
    yield j
    j.close()


def _grade(outputs) -> float:
    """What nbgrader gives a 1-point test cell with these outputs."""
    cell = new_code_cell("")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 1, "grade_id": "t"}
    cell.outputs = outputs
    return determine_grade(cell)[0]


def test_free_names_are_the_names_a_cell_reads_and_does_not_bind():
    src = "import numpy as np\nx = f(2)\ndef g(a):\n    return a + h\nfor k in range(3):\n    y = k\nprint(np, x, z)\n"
    assert free_names(src) == {"f", "h", "z"}
    assert free_names("def g(x):\n    return [y * x for y in Y]\nclass C:\n    k = K\n") == {"Y", "K"}


def test_a_test_calls_the_students_function_in_the_kernel_and_keeps_what_it_printed(kernel, judge):
    _, student = kernel
    student("import numpy as np, sys, warnings\n"
            "def f(x):\n    print('debug', x.shape)\n    print('to stderr', file=sys.stderr)\n"
            "    warnings.warn('careful', RuntimeWarning)\n    return np.exp(x) * 2\nvalue = 1.5\n")
    outputs, problem = judge.run_test("import numpy as np\nassert np.allclose(f(np.zeros(3)), 2)\n"
                                      "assert value == 1.5\n", "t", 30)
    assert problem is None and _grade(outputs) == 1
    text = "".join(o.get("text", "") for o in outputs)
    assert "debug (3,)" in text and "to stderr" in text and "careful" in text
    assert all(o.get("name") != "stderr" for o in outputs)


def test_a_wrong_or_raising_or_missing_answer_fails(kernel, judge):
    _, student = kernel
    student("def f(x):\n    return x + 1\ndef g(x):\n    raise ValueError('bad input ' + str(x))\n")
    assert _grade(judge.run_test("assert f(1) == 3\n", "t", 30)[0]) == 0
    outputs, _ = judge.run_test("g(4)\n", "t", 30)
    assert _grade(outputs) == 0 and outputs[-1].ename == "ValueError" and "bad input 4" in outputs[-1].evalue
    outputs, _ = judge.run_test("h(1)\n", "t", 30)
    assert outputs[-1].ename == "NameError"


def test_the_submission_cannot_reach_the_judges_tools(kernel, judge):
    _, student = kernel
    student("import numpy as np, builtins, sys\nnp.allclose = lambda *a, **k: True\nbuiltins.abs = lambda x: 0\n"
            "ip = get_ipython()\n"
            "ip.input_transformers_post.append(lambda lines: ['try:\\n'] + ['    ' + l for l in lines]"
            " + ['except BaseException:\\n', '    pass\\n'])\n"
            "sys.settrace(lambda *a: None)\n"
            "def f(x):\n    return x + 1\n")
    outputs, _ = judge.run_test("import numpy as np\nassert np.allclose(f(np.zeros(2)), 5)\n", "t", 30)
    assert _grade(outputs) == 0 and outputs[-1].ename == "AssertionError"
    assert _grade(judge.run_test("assert abs(-3) == 3 and f(1) == 2\n", "t", 30)[0]) == 1


def test_values_that_lie_do_not_cross(kernel, judge):
    _, student = kernel
    student("class L(float):\n    __eq__ = lambda s, o: True\n    __hash__ = float.__hash__\n"
            "def f():\n    return L(0.0)\nanswer = L(1.0)\n")
    outputs, _ = judge.run_test("assert f() == 7\n", "t", 30)
    assert _grade(outputs) == 0 and "cannot be graded" in outputs[-1].evalue
    assert _grade(judge.run_test("assert answer == 7\n", "t", 30)[0]) == 0


def test_a_model_trained_in_place_is_copied_back_and_nothing_else_is(kernel, judge):
    _, student = kernel
    student("import torch\n"
            "def train(model, x, y, steps):\n"
            "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
            "    for _ in range(steps):\n"
            "        opt.zero_grad(); loss = ((model(x) - y) ** 2).mean(); loss.backward(); opt.step()\n"
            "    return float(loss)\n"
            "def fill(a):\n    a[:] = 7\n")
    outputs, problem = judge.run_test(
        "import numpy as np, torch\n"
        "torch.manual_seed(0)\nnet = torch.nn.Sequential(torch.nn.Linear(2, 1))\nw = net[0].weight\n"
        "before = w.detach().clone()\nx, y = torch.randn(8, 2), torch.randn(8, 1)\n"
        "loss = train(net, x, y, 5)\nassert net[0].weight is w and not torch.equal(w, before)\n"
        "assert abs(float(((net(x) - y) ** 2).mean().detach()) - loss) < 0.5\n"
        "a = np.zeros(3)\nfill(a)\nassert a.tolist() == [0, 0, 0]\n", "t", 30)  # a test's data stays its own
    assert problem is None and _grade(outputs) == 1, outputs


def test_a_call_that_runs_too_long_is_stopped(kernel, judge):
    _, student = kernel
    student("import time\ndef slow():\n    time.sleep(30)\n")
    outputs, problem = judge.run_test("slow()\n", "t", 1.5)
    assert problem == "timeout" and outputs[-1].ename == "CellTimeoutError"


def test_a_call_that_kills_the_kernel_is_reported(kernel, judge):
    _, student = kernel
    student("import os\ndef die():\n    os._exit(3)\n")
    outputs, problem = judge.run_test("die()\n", "t", 30)
    assert problem == "died" and outputs[-1].ename == "KernelDied"


def test_locked_cells_run_in_the_judge_and_their_names_stay_the_judges(kernel, judge):
    _, student = kernel
    student("limit = 10\ndef f():\n    return 1\n")
    judge.run_locked("limit = 3\n", "setup", 30)
    student("limit = 1000\n")  # the submission rebinds a name a locked cell defined
    assert _grade(judge.run_test("assert limit == 3 and f() == 1\n", "t", 30)[0]) == 1


def _cell(source: str, gid: str, **meta):
    """A code cell with nbgrader metadata."""
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "grade": False, "solution": False, "locked": False, **meta}
    return cell


def test_hardened_execute_judges_the_tests_of_a_tiny_notebook_outside_its_kernel(tmp_path):
    from nbformat.v4 import new_notebook

    from autograde.hardening import FLAGS_KEY, HardenedExecute

    quiet = ("get_ipython().input_transformers_post.append(lambda lines: ['try:\\n'] + ['    ' + l for l in lines]"
             " + ['\\nexcept BaseException:\\n', '    pass\\n'])\n")
    nb = new_notebook(cells=[
        _cell("import numpy as np\nLIMIT = 3\n", "setup", locked=True),
        _cell("def f(x):\n    print('working on', x)\n    return x + 1\n" + quiet, "answer", solution=True),
        _cell("assert f(1) == 2 and LIMIT == 3\n", "t_right", grade=True, locked=True, points=1),
        _cell("assert f(1) == 5\n", "t_wrong", grade=True, locked=True, points=2),
        _cell("LIMIT = 1000\n", "student_cell"),
        _cell("assert LIMIT == 3 and np.isclose(f(0.5), 1.5)\n", "t_locked_name", grade=True, locked=True, points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    done, _ = HardenedExecute(sandbox="none", warm_kernels=False, timeout=30).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    grades = {c.metadata["nbgrader"]["grade_id"]: determine_grade(c)[0] for c in done.cells
              if c.metadata["nbgrader"].get("grade")}
    assert grades == {"t_right": 1, "t_wrong": 0, "t_locked_name": 1}
    assert "working on 1" in done.cells[2].outputs[0].text
    assert set(done.metadata[FLAGS_KEY]["seconds"]) >= {"bridge", "tests", "judge locked cells"}
    assert any("unsandboxed" in f for f in done.metadata[FLAGS_KEY]["flags"])


def test_naming_a_module_never_imports_it_in_the_judge(kernel, judge):
    import sys

    _, student = kernel
    student("import types\nweird = types.ModuleType('numpy.f2py.__main__')\nfine = __import__('math')\n")
    outputs, _ = judge.run_test("weird.anything\n", "t", 30)
    assert outputs[-1].ename == "NameError" and "numpy.f2py.__main__" not in sys.modules
    assert _grade(judge.run_test("assert fine.sqrt(4) == 2\n", "t", 30)[0]) == 1


def test_a_kernel_that_dies_is_restarted_and_replayed_and_the_judge_reconnects(tmp_path):
    from nbformat.v4 import new_notebook

    from autograde.hardening import FLAGS_KEY, HardenedExecute

    nb = new_notebook(cells=[
        _cell("def f(x):\n    return x + 1\n", "answer", solution=True),
        _cell("import os\nos._exit(3)\n", "crash", solution=True),
        _cell("assert f(1) == 2\n", "t_after", grade=True, locked=True, points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    done, _ = HardenedExecute(sandbox="none", warm_kernels=False, timeout=30).preprocess(
        nb, {"metadata": {"path": str(tmp_path)}})
    assert done.cells[1].outputs[-1].ename == "KernelDied"
    assert determine_grade(done.cells[2])[0] == 1
    assert "kernel died in cell crash" in done.metadata[FLAGS_KEY]["flags"]


def test_a_bridge_that_stalls_mid_message_costs_the_time_limit_not_the_grader(kernel, judge):
    import time

    _, student = kernel
    student("import sys, socket, struct, time\n_B = sys.modules['_autograde_bridge']\n"
            "def _serve(path):\n    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n    s.connect(path)\n"
            "    s.sendall(struct.pack('!Q', 100) + b'{')\n    time.sleep(10**6)\n_B.serve = _serve\n")
    start = time.monotonic()
    outputs, problem = judge.run_test("f()\n", "t", 2)
    assert problem == "timeout" and time.monotonic() - start < 10


def test_replies_that_are_too_big_or_malformed_fail_the_test_only(kernel, judge):
    _, student = kernel
    student("import sys, struct\n_B = sys.modules['_autograde_bridge']\n_send = _B.send\n"
            "def huge(sock, message):\n    body = b'{\"x\": 1}' + b' ' * (17 * 1024 * 1024)\n"
            "    sock.sendall(struct.pack('!Q', len(body)) + body)\n"
            "_B.send = huge\nvalue = 1\n")
    outputs, problem = judge.run_test("assert value == 1\n", "t", 30)
    assert problem is None and outputs[-1].ename == "WireError" and "more than" in outputs[-1].evalue
    student("_B.send = _send\n_B.lookup = lambda names: {'value': {'value': {'dict': [[{'list': []}, 1]]}}}\n")
    outputs, _ = judge.run_test("assert value == 1\n", "t", 30)
    assert _grade(outputs) == 0 and "unhashable" in outputs[-1].evalue


def test_names_a_locked_cell_binds_are_never_taken_from_the_kernel(kernel, judge):
    _, student = kernel
    student("def check_answer(*a):\n    return None\n")
    judge.reserve("from helpers.checks import close as check_answer\n")  # a locked cell the judge never ran
    outputs, _ = judge.run_test("check_answer(1, 2)\n", "t", 30)
    assert outputs[-1].ename == "NameError"
