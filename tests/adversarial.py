"""A corpus of adversarial and malformed submissions, generated for every assignment.

Each entry is built from the assignment's real release and reference solutions, so a new
assignment is covered without new code. The attack classes, each in several variants:

- **the kernel's machinery** (:data:`KERNEL`): IPython input and AST transformers that wrap every
  later cell in ``try/except``, a custom exception handler, a replaced ``run_cell``, a post-run hook
  that clears errors, fake checks and a kernel killed after the next cell (so that the checks would be
  looked up again), a thread that keeps patching, and the earlier tamperings (numpy, the checks, their
  code, builtins, a locked cell's globals, detecting the grader). With blank answers they earn 0; with
  the reference answers (:data:`TAMPER`) the full score: tests run in the judge, out of their reach;
- **shortcuts** (``SHORTCUTS`` of ``tests/wrong``): answers that call the course's reference code or
  torch.autograd where the work is done by hand earn nothing for those cells;
- **honest noise** (:data:`NOISY`): reference answers that print, write to stderr, warn, log and show
  progress bars keep every point, and their text;
- lying values, a disguised wrong answer, snooping, planted links, an endless loop, a memory bomb, a
  dead kernel, an output flood, duplicated cells, stripped metadata, another kernel, renamed and
  malformed files.

The first assignment gets every entry; the others get :data:`PER_ASSIGNMENT` (the entries whose outcome
depends on the assignment's own cells). :func:`add_corpus` writes the submissions into a course and
returns what grading them must give: the expected score (computed by running the honest part of the
same answers in-process, see :mod:`autograde.inprocess`), flags that must appear, and text the graded
notebook must or must not contain.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograde import assignments, notebook_names
from autograde.course import folders
from autograde.inprocess import run_cells
from autograde.nbtools import (
    autograded_points,
    grade_id,
    is_autograded_test,
    is_experiment,
    is_solution,
    read,
    replace_in_solution,
    strip_markers,
    with_solutions,
)
from tests.conftest import autograded_total
from tests.wrong import catalogue, shortcuts

TAMPER = {
    "numpy": "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n",
    "checks": "import helpers.checks as _c\nfor _n in dir(_c):\n"
              "    if not _n.startswith('_') and callable(getattr(_c, _n)):\n"
              "        setattr(_c, _n, lambda *a, **k: None)\n",
    "code": "import helpers.checks as _c\n_c.close.__code__ = (lambda *a, **k: None).__code__\n"
            "_c.equal.__code__ = (lambda *a, **k: None).__code__\n"
            "_c._fail.__code__ = (lambda *a, **k: None).__code__\n",
    "builtins": "import builtins\nbuiltins.abs = lambda x: 0.0\nbuiltins.round = lambda *a, **k: 0\n",
    "global": "import types\nchecks = types.SimpleNamespace(**{_n: (lambda *a, **k: None) for _n in dir(checks)})\n",
    "detect": "import os\nif 'autograded' in os.getcwd() or os.environ.get('NBGRADER_EXECUTION'):\n"
              "    import helpers.checks as _c\n    _c._fail = lambda *a, **k: None\n",
}
"""Code that replaces what tests used to rely on in the kernel; prepended to the first answer cell."""

KERNEL = {
    "input-transformer": "get_ipython().input_transformers_post.append(\n"
                         "    lambda lines: ['try:\\n'] + ['    ' + l for l in lines] + ['\\nexcept BaseException:\\n',"
                         " '    pass\\n'])\n",
    "ast-transformer": "import ast as _ast\nclass _Quiet(_ast.NodeTransformer):\n"
                       "    def visit_Module(self, node):\n"
                       "        handler = _ast.ExceptHandler(type=_ast.Name('BaseException', _ast.Load()), name=None,"
                       " body=[_ast.Pass()])\n"
                       "        node.body = [_ast.Try(body=node.body or [_ast.Pass()], handlers=[handler], orelse=[],"
                       " finalbody=[])]\n"
                       "        return _ast.fix_missing_locations(node)\n"
                       "get_ipython().ast_transformers.append(_Quiet())\n",
    "custom-exc": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n",
    "run-cell": "import IPython.core.interactiveshell as _ish\n_shell = get_ipython()\n"
                "def _ok(*a, **k):\n    return _ish.ExecutionResult(_ish.ExecutionInfo('', False, False, True, None))\n"
                "async def _ok_async(*a, **k):\n    return _ok()\n"
                "_shell.run_cell, _shell.run_cell_async = _ok, _ok_async\n",
    "post-run-hook": "def _clear(result):\n    result.error_in_exec = None\n    result.error_before_exec = None\n"
                     "get_ipython().events.register('post_run_cell', _clear)\n",
    "kill-and-fake": "import os as _os\nfor _n in ('check_rule', 'check_engine', 'check_forward', 'check_backward',"
                     " 'checks', 'np'):\n    globals()[_n] = lambda *a, **k: None\n"
                     "def _kill(result):\n    if _os.path.exists('.armed'):\n        _os.remove('.armed')\n"
                     "        _os._exit(1)\nopen('.armed', 'w').close()\n"
                     "get_ipython().events.register('post_run_cell', _kill)\n",
    "thread": "import threading as _th, time as _t, numpy as _np, helpers.checks as _c\n"
              "def _patch():\n    while True:\n        _np.allclose = lambda *a, **k: True\n"
              "        for _n in dir(_c):\n            if callable(getattr(_c, _n)) and not _n.startswith('__'):\n"
              "                setattr(_c, _n, lambda *a, **k: None)\n        _t.sleep(0.001)\n"
              "_th.Thread(target=_patch, daemon=True).start()\n",
}
"""Attacks on the kernel's execution machinery; each is the whole first answer cell, the other answers blank."""

NOISY_LOGGING = '''
import functools as _ft, logging as _lg, types as _ty
from tqdm.auto import tqdm as _tqdm
_lg.basicConfig(level=_lg.INFO)
def _logged(f):
    @_ft.wraps(f)
    def call(*a, **k):
        _lg.getLogger("answers").warning("LOGGED %s", f.__name__)
        for _ in _tqdm(range(3), desc="PROGRESS"):
            pass
        return f(*a, **k)
    return call
for _k, _v in list(globals().items()):
    if not _k.startswith('_') and isinstance(_v, _ty.FunctionType) and _v.__module__ == '__main__' \\
            and not hasattr(_v, '__wrapped__'):
        globals()[_k] = _logged(_v)
'''
"""Appended to every answer cell: the right functions, which log a warning and show a progress bar when called."""

PER_ASSIGNMENT = {"noisy", "noisy-logging", "kernel-input-transformer", "kernel-ast-transformer", "tamper-global",
                  "tamper-checks", "liar", "detect-env", "resource-exit", "duplicated-cell", "stripped-metadata",
                  "renamed", "broken-json", "empty-file"} | {f"shortcut-{v}" for v in ("reference", "autograd",
                                                                                       "reference-module",
                                                                                       "rewrite-data")}
"""The corpus entries every assignment gets; the first assignment gets all of them."""

LIAR = '''
import functools as _ft, types as _ty
import numpy as _np
class _LyingFloat(float):
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __sub__ = __rsub__ = lambda self, other: 0.0
    __abs__ = lambda self: 0.0
    __float__ = lambda self: 0.0
    __bool__ = lambda self: True
class _LyingInt(int):
    __eq__ = lambda self, other: True
    __ne__ = lambda self, other: False
    __index__ = __int__ = lambda self: 0
class _LyingArray(_np.ndarray):
    __eq__ = lambda self, other: _np.ones(_np.shape(self), bool)
    __sub__ = __rsub__ = lambda self, other: _np.zeros(_np.shape(self))
    __array__ = lambda self, *a, **k: _np.zeros(_np.shape(self))
def _lie(v):
    if type(v) is float or isinstance(v, _np.floating): return _LyingFloat(v)
    if type(v) is int or isinstance(v, _np.integer): return _LyingInt(v)
    if type(v) is _np.ndarray: return v.view(_LyingArray)
    if isinstance(v, (tuple, list)): return type(v)(_lie(x) for x in v)
    if isinstance(v, dict): return {k: _lie(x) for k, x in v.items()}
    return v
def _liar(f):
    return _ft.wraps(f)(lambda *a, **k: _lie(f(*a, **k)))
for _k, _v in list(globals().items()):
    if _k.startswith('_'):
        continue
    if isinstance(_v, _ty.FunctionType) and _v.__module__ == '__main__':
        globals()[_k] = _liar(_v)
    elif type(_v) in (float, int, _np.float64):
        globals()[_k] = _lie(_v)
    elif isinstance(_v, dict) and all(isinstance(x, _ty.FunctionType) for x in _v.values()):
        globals()[_k] = {k: _liar(x) for k, x in _v.items()}
'''
"""Appended to every answer cell: the right values, wrapped in objects that claim to equal anything."""


NOISY = '''
import functools as _ft, sys as _sys, types as _ty, warnings as _wn
import numpy as _np
def _noisy(f):
    @_ft.wraps(f)
    def call(*a, **k):
        print(f"NOISY-DEBUG {f.__name__} called")
        print(f"NOISY-STDERR {f.__name__}", file=_sys.stderr)
        _wn.warn(f"{f.__name__} had a bad step", RuntimeWarning)
        _np.exp(_np.float64(1000.0))  # RuntimeWarning: overflow encountered in exp
        return f(*a, **k)
    return call
for _k, _v in list(globals().items()):
    if not _k.startswith('_') and isinstance(_v, _ty.FunctionType) and _v.__module__ == '__main__' \
            and not hasattr(_v, '__wrapped__'):
        globals()[_k] = _noisy(_v)
'''
"""Appended to every answer cell: the right functions, which print, write to stderr and warn when called."""


SILENT_FAILURES = """try:
    _shell = get_ipython()
except NameError:  # not in IPython (the in-process run of the same answers)
    _shell = None
if _shell is not None:
    import sys as _sys
    _shell.showtraceback = lambda *a, **k: print("all good", file=_sys.stderr)
"""
"""Prepended to the first answer: a failing cell then shows no traceback, only a line on stderr."""


@dataclass
class Expect:
    """What grading one submission must give."""

    score: float | None = None  # None: not graded (status error)
    flags: list[str] = field(default_factory=list)  # substrings that must appear in the flags column
    no_flags: bool = False
    contains: list[str] = field(default_factory=list)  # text the autograded notebook must hold
    lacks: list[str] = field(default_factory=list)  # text it must not hold
    message: str = ""  # substring of the message column


def _code_answers(source) -> list[str]:
    """Grade ids of the code answer cells the grader runs (not the experiments students write), in order."""
    return [grade_id(c) for c in source.cells if is_solution(c) and c.cell_type == "code" and not is_experiment(c)]


def _reference(source, gid: str) -> str:
    """The reference answer of one cell, as a student would type it."""
    return strip_markers(next(c for c in source.cells if grade_id(c) == gid).source)


def _expected(source, cwd: Path, replace: dict[str, str]) -> float:
    """The score the same answers earn when run in-process."""
    return sum(run_cells(with_solutions(source, source, replace=replace), cwd=cwd).values())


def add_corpus(course: Path, repo: Path) -> dict[tuple[str, str], Expect]:
    """Write the corpus into ``course/autograde/submitted``; return expectations by (student, assignment)."""
    expect: dict[tuple[str, str], Expect] = {}
    every_attack = assignments(course)[0]

    def wanted(student, a):
        """Whether assignment ``a``'s corpus holds ``student`` (the examples are graded everywhere)."""
        return a == every_attack or student in PER_ASSIGNMENT or student.startswith("example-")

    for a in assignments(course):
        name = notebook_names(a, course)[0]
        source = read(course / "source" / a / f"{name}.ipynb")
        release = read(course / "release" / a / f"{name}.ipynb")
        cwd = course / "source" / a
        full = sum(autograded_points(source).values())
        answers = _code_answers(source)
        first, last = answers[0], answers[-1]

        def put(student, nb=None, raw=None, filename=name, a=a):
            if not wanted(student, a):
                return
            path = folders(course).submitted / student / a / f"{filename}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(raw) if raw is not None else nbformat.write(nb, str(path))

        def answered(replace, release=release, source=source):
            return with_solutions(release, source, replace=replace)

        for attack, code in TAMPER.items():  # the reference answers after a tampering: every point, nothing flagged
            put(f"tamper-{attack}", answered({first: code + _reference(source, first)}))
            expect[f"tamper-{attack}", a] = Expect(score=full)
        for attack, code in KERNEL.items():  # blank answers after an attack on the kernel's machinery: nothing
            put(f"kernel-{attack}", with_solutions(release, source, replace={first: code}, only={first}))
            expect[f"kernel-{attack}", a] = Expect(score=0)
        for attack, code in TAMPER.items():
            put(f"kernel-tamper-{attack}", with_solutions(release, source, replace={first: code}, only={first}))
            expect[f"kernel-tamper-{attack}", a] = Expect(score=0)
        for variant, cells in shortcuts(a).items():  # the delegated cells earn nothing, the honest ones their points
            put(f"shortcut-{variant}", answered(cells))
            honest = with_solutions(release, source, only=set(answers) - set(cells))
            expect[f"shortcut-{variant}", a] = Expect(score=sum(run_cells(honest, cwd=cwd).values()))

        lies = {gid: _reference(source, gid) + "\n" + LIAR for gid in answers}
        put("liar", answered(lies))  # numbers lie and fail the checks; objects such as a torch model do not lie
        expect["liar", a] = Expect(score=_expected(source, cwd, lies))

        noisy = {gid: _reference(source, gid) + "\n" + NOISY for gid in answers}
        put("noisy", answered(noisy))  # honest answers that print and warn keep every point, and the text
        expect["noisy", a] = Expect(score=full, contains=["NOISY-DEBUG", "NOISY-STDERR"])
        logging = {gid: _reference(source, gid) + "\n" + NOISY_LOGGING for gid in answers}
        put("noisy-logging", answered(logging))
        expect["noisy-logging", a] = Expect(score=full, contains=["LOGGED"])

        if wanted("silent-failures", a):  # the other answers blank: their tests must still fail
            quiet = with_solutions(release, source, replace={first: SILENT_FAILURES + _reference(source, first)},
                                   only={first})
            put("silent-failures", quiet)
            expect["silent-failures", a] = Expect(score=sum(run_cells(quiet, cwd=cwd).values()))

        w = catalogue(a)[0]
        wrong = replace_in_solution(source, w.cell, w.old, w.new)
        hide = "import os\nif os.environ.get('NBGRADER_EXECUTION'):\n    import helpers.checks as _c\n" \
               "    _c._fail = lambda *a, **k: None\n"
        put("detect-env", answered({w.cell: hide + wrong}))
        expect["detect-env", a] = Expect(score=_expected(source, cwd, {w.cell: wrong}), no_flags=True)

        private = [str(course / "source"), str(course / "autograde" / "gradebook.db"),
                   str(folders(course).submitted), str(repo / "source"), "../../../../source"]
        snoop = (f"import os as _os\n_seen = []\nfor _p in {private!r}:\n    try:\n"
                 "        _os.listdir(_p) if _os.path.isdir(_p) else open(_p, 'rb').read(16)\n"
                 "        _seen.append(_p)\n"
                 "    except OSError:\n        pass\n"
                 "print('SNOOP-' + ('LEAKED ' + repr(_seen) if _seen else 'BLOCKED'))\n"
                 f"try:\n    open({str(course / 'autograde' / 'pwned.txt')!r}, 'w').write('x')\n"
                 "    print('WRITE-' + 'DONE')\n"
                 "except OSError:\n    print('WRITE-' + 'BLOCKED')\n")
        put("snoop", answered({first: snoop + _reference(source, first)}))
        expect["snoop", a] = Expect(score=full, contains=["SNOOP-BLOCKED", "WRITE-BLOCKED"],
                                    lacks=["SNOOP-LEAKED", "WRITE-DONE"])

        planted = (f"import os as _os, shutil as _sh, sys as _sys\n"
                   f"_os.remove({name + '.ipynb'!r})\n"
                   f"_os.symlink({str(course / 'autograde' / 'pwned.txt')!r}, {name + '.ipynb'!r})\n"
                   "_sh.copy(_sys.executable, 'py')\n_os.chmod('py', 0o6755)\n_os.mkfifo('fifo')\n")
        put("plant-links", answered({first: planted + _reference(source, first)}))
        expect["plant-links", a] = Expect(score=full, flags=["removed from the working copy"])

        broken_last = _expected(source, cwd, {last: "raise RuntimeError('broken')\n" + _reference(source, last)})
        resources = {"loop": "while True:\n    pass\n", "memory": "_hog = bytearray(16 * 1024**3)\n",
                     "exit": "import os\nos._exit(3)\n"}
        for attack, code in resources.items():
            put(f"resource-{attack}", answered({last: code + _reference(source, last)}))
            expect[f"resource-{attack}", a] = Expect(score=broken_last, flags={"exit": ["kernel died"],
                                                                              "loop": ["timeout"]}.get(attack, []))
        flood = "for _i in range(150):\n    print('x' * 1_000_000)\n"
        put("resource-output", answered({last: flood + _reference(source, last)}))
        expect["resource-output", a] = Expect(score=full, flags=["output capped"])

        complete = answered({})
        dup = copy.deepcopy(complete)
        i = next(k for k, c in enumerate(dup.cells) if is_autograded_test(c))
        dup.cells.insert(i + 1, copy.deepcopy(dup.cells[i]))
        dup.cells[i + 1].id = dup.cells[i].id + "-copy"
        put("duplicated-cell", dup)
        expect["duplicated-cell", a] = Expect(score=full, flags=["duplicated cell"])

        stripped = copy.deepcopy(complete)
        for cell in stripped.cells:
            cell.metadata.pop("nbgrader", None)
        put("stripped-metadata", stripped)
        expect["stripped-metadata", a] = Expect(score=full)

        other = copy.deepcopy(complete)
        other.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}
        put("other-kernel", other)
        expect["other-kernel", a] = Expect(score=full, no_flags=True)

        put("renamed", complete, filename="my_answers")
        expect["renamed", a] = Expect(score=full, flags=["renamed"])
        put("broken-json", raw=json.dumps(nbformat.writes(complete))[:500])
        expect["broken-json", a] = Expect(score=None, message="not valid JSON")
        put("empty-file", raw="")
        expect["empty-file", a] = Expect(score=None, message="empty file")
        expect["example-complete", a] = Expect(score=autograded_total(course, a), no_flags=True)  # every notebook
        expect["example-blank", a] = Expect(score=0, no_flags=True)
    return {key: e for key, e in expect.items() if wanted(*key)}
