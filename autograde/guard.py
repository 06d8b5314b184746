"""Integrity probes: detect a submission that changes what the tests rely on at run time.

Before the first cell, the grader runs :data:`SETUP` in the kernel. It fingerprints the objects the
tests use (builtins, ``math``, ``numpy``, ``torch``, every ``helpers`` module, and the globals that
locked cells define): for each name, the identity of the object and of its code. Modules imported
later are fingerprinted by an import hook the moment their import completes, before any student
code can touch them. Around every test cell the grader runs :func:`probe_code`; the *grader* keeps
the first fingerprint of every name (the kernel cannot rewrite it) and compares later ones with it.
A changed name means the test ran against something the submission replaced. One rebinding is
legitimate: importing ``torch._dynamo`` (which some torch functions do lazily) wraps
``torch.manual_seed``; the hook reports it, and the grader accepts that wrapper only around the
original function.

This does not read the submission's text: rebinding ``np.allclose``, assigning ``checks.close``,
swapping a function's ``__code__`` or shadowing a global of a locked cell are all caught by what
they do. Objects that lie in ``__eq__``/``__float__``/``__array__`` are caught elsewhere: the
course's checks accept exact built-in types only.
"""

from __future__ import annotations

import json
import secrets

WATCHED_MODULES = ("builtins", "math", "numpy", "numpy.testing", "numpy.linalg", "torch",
                   "torch.nn.functional", "torch.autograd", "torch.testing")
"""Modules whose public functions and classes are fingerprinted; every ``helpers.*`` module is added."""

SETUP = r'''
def _autograde_guard_setup(watched):
    import builtins, importlib.abc, importlib.machinery, json, sys, types
    # Bound now, before any student code: the guard keeps working if builtins are replaced later.
    _id, _isinstance, _callable, _vars, _list, _getattr, _print = id, isinstance, callable, vars, list, getattr, print
    _type, _ModuleType, _dumps, _modules = type, types.ModuleType, json.dumps, sys.modules
    guard = types.ModuleType("_autograde_guard")
    guard.baselines = {}
    guard.rebound = {}
    DYNAMO = "torch._dynamo"
    kernel_managed = {"builtins.input", "builtins.raw_input", "builtins.display", "builtins.get_ipython",
                      "builtins.exit", "builtins.quit", "builtins.help", "builtins.copyright", "builtins.credits",
                      "builtins.license", "builtins.open"}

    def code_id(obj):
        f = _getattr(obj, "__func__", obj)
        code = _getattr(f, "__code__", None)
        return _id(code) if code is not None else 0

    def fingerprint(obj):
        return "%d:%d" % (_id(obj), code_id(obj))

    def module_fingerprint(name, module):
        fp = {}
        private = name.startswith("helpers")
        for key, value in _list(_vars(module).items()):
            if key.startswith("__") or (key.startswith("_") and not private):
                continue
            if name + "." + key in kernel_managed or _isinstance(value, _ModuleType):
                continue
            if _callable(value) or private:
                fp[name + "." + key] = fingerprint(value)
            if _isinstance(value, _type) and key in ("Tensor", "Activation", "Graph", "CheckFailed"):
                for attr, member in _list(_vars(value).items()):
                    if _callable(member) or _isinstance(member, (staticmethod, classmethod, property)):
                        fp[name + "." + key + "." + attr] = fingerprint(member)
        return fp

    def is_watched(name):
        return name in watched or name == "helpers" or name.startswith("helpers.")

    def snapshot():
        fp = {}
        for name in _list(_modules):
            if is_watched(name):
                fp.update(module_fingerprint(name, _modules[name]))
        return fp

    def report(nonce, names):
        ns = _modules["__main__"].__dict__
        glob = {k: "%d:%s" % (_id(ns[k]), "m" if _isinstance(ns[k], _ModuleType) else "o") for k in names if k in ns}
        base, rebound = dict(guard.baselines), dict(guard.rebound)
        guard.baselines.clear()
        guard.rebound.clear()
        present = [m for m in _list(_modules) if is_watched(m)]
        _print(nonce + _dumps({"now": snapshot(), "imported": base, "rebound": rebound, "globals": glob,
                               "modules": present}))

    class Loader(importlib.abc.Loader):
        def __init__(self, inner):
            self.inner = inner
        def create_module(self, spec):
            return self.inner.create_module(spec)
        def exec_module(self, module):
            if module.__name__ == DYNAMO:  # it wraps torch.manual_seed: the grader accepts that one rebinding
                torch = _modules.get("torch")
                before = _getattr(torch, "manual_seed", None)
                self.inner.exec_module(module)
                after = _getattr(torch, "manual_seed", None)
                if before is not None and after is not before and _getattr(after, "__wrapped__", None) is before:
                    guard.rebound["torch.manual_seed"] = [fingerprint(before), fingerprint(after)]
                return
            self.inner.exec_module(module)
            guard.baselines.update(module_fingerprint(module.__name__, module))

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if not (is_watched(name) or name == DYNAMO) or name in _modules:
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return None
            spec.loader = Loader(spec.loader)
            return spec

    guard.snapshot = snapshot
    guard.report = report
    guard.baselines.update(snapshot())
    sys.meta_path.insert(0, Finder())
    _modules["_autograde_guard"] = guard

_autograde_guard_setup(WATCHED)
del _autograde_guard_setup
'''


def setup_code() -> str:
    """The kernel code that installs the fingerprinting (run before any cell of the notebook)."""
    return SETUP.replace("WATCHED", repr(list(WATCHED_MODULES)))


def probe_code(nonce: str, watch_globals: list[str]) -> str:
    """Kernel code printing, after ``nonce``, the fingerprints now, those recorded at import time,
    the identity of the watched global names (``m`` marks a module) and the watched modules loaded."""
    return f"__import__('sys').modules['_autograde_guard'].report({nonce!r}, {sorted(watch_globals)!r})\n"


def names_used(sources: list[str]) -> set[str]:
    """Global names read by the given code (the test cells): what a submission must not rebind."""
    import ast

    used = set()
    for src in sources:
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        used |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used


def new_nonce() -> str:
    """A marker the submission cannot predict, to find the probe's own line in the output."""
    return "AUTOGRADE-PROBE-" + secrets.token_hex(8) + ":"


def parse_probe(text: str, nonce: str) -> dict | None:
    """The probe's report from the kernel's output, or None when it is missing or garbled."""
    for line in text.splitlines():
        if line.startswith(nonce):
            try:
                return json.loads(line[len(nonce):])
            except ValueError:
                return None
    return None


class Ledger:
    """The grader's record of first-seen fingerprints, and what was found changed since."""

    def __init__(self):
        """Start with nothing recorded."""
        self.baseline: dict[str, str] = {}
        self.also: dict[str, set[str]] = {}
        self.protected: dict[str, str] = {}
        self.severe: set[str] = set()
        self.mild: set[str] = set()

    def protect(self, globals_now: dict[str, str]) -> None:
        """Remember the objects of global names defined by a locked cell (first definition wins)."""
        for key, value in globals_now.items():
            self.protected.setdefault(key, value)

    def record(self, report: dict) -> tuple[set[str], set[str]]:
        """Add a probe report; return (severe, mild) names changed since first seen.

        Severe: a module attribute, or a global that was a module (the tests' own tools). Mild: another
        global the tests read, rebound later (possibly innocent: flagged for review, no points lost).
        """
        for fingerprints in (report.get("imported", {}), report.get("now", {})):  # at import time first
            for key, value in fingerprints.items():
                self.baseline.setdefault(key, value)
        for key, (before, after) in report.get("rebound", {}).items():  # torch._dynamo wrapping the original
            if self.baseline.get(key) == before:
                self.also.setdefault(key, set()).add(after)
        glob = report.get("globals", {})
        now = report.get("now", {})
        def changed(key: str, value: str) -> bool:
            """Whether ``value`` is neither the first fingerprint of ``key`` nor an accepted rebinding of it."""
            return self.baseline[key] != value and value not in self.also.get(key, ())

        severe = {k for k, v in now.items() if changed(k, v)}
        severe |= {k for k, v in report.get("imported", {}).items() if changed(k, v)}
        missing = [k for k in self.baseline if k not in now]
        for m in report.get("modules", []):  # a name deleted from a loaded module counts as replaced
            severe |= {k for k in missing if k.startswith(m + ".") and k[len(m) + 1:].count(".") <= 1}
        mild = set()
        for key, value in self.protected.items():
            if glob.get(key) != value:
                (severe if value.endswith(":m") else mild).add("global " + key)
        self.severe |= severe
        self.mild |= mild
        return severe, mild
