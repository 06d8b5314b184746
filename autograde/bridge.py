"""The kernel's side of the judge's requests: look up names, call the submission's functions, answer in plain data.

Its text (after :mod:`autograde.wire`'s) is sent to the student's kernel when it starts and runs
there as the module ``_autograde_bridge``. A submission can change it like anything else in its
kernel; nothing the judge decides rests on it: the judge reads its answers with
:func:`autograde.wire.decode`, so a tampered bridge can do no more than the submission's own
functions could (return some plain values). Each answer is one line on stdout after a nonce.
"""

import importlib
import json
import sys
import traceback
import types

try:
    from autograde.wire import decode, encode
except ImportError:  # in the kernel: wire.py's text ran just before this one, in the same module
    pass

_refs: list = []


def _ref(fn) -> int:
    """A number standing for ``fn`` in the judge."""
    _refs.append(fn)
    return len(_refs) - 1


def _resolve(n: int):
    """The function a number stands for."""
    return _refs[n]


def _answer(nonce: str, reply: dict) -> None:
    """Write the reply as one line after the nonce (one write, so it reaches the judge in one piece)."""
    sys.stderr.flush()
    sys.stdout.flush()
    sys.stdout.write(nonce + json.dumps(reply) + "\n")
    sys.stdout.flush()


def lookup(nonce: str, names: str) -> None:
    """Answer what each of ``names`` (a JSON list) is in the notebook's namespace: a module's name, or a value."""
    ns = sys.modules["__main__"].__dict__
    found = {}
    for name in json.loads(names):
        if name not in ns:
            continue
        value = ns[name]
        if isinstance(value, types.ModuleType):
            found[name] = {"module": getattr(value, "__name__", "")}
            continue
        try:
            found[name] = {"value": encode(value, _ref)}
        except Exception as exc:
            found[name] = {"refused": str(exc)}
    _answer(nonce, found)


def _course_function(path: str):
    """A function of the course's ``helpers`` package, by its dotted path."""
    module, _, name = path.rpartition(".")
    if not module.startswith("helpers."):
        raise ValueError(f"not a course function: {path}")
    return getattr(importlib.import_module(module), name)


def call(nonce: str, request: str) -> None:
    """Call a function with the decoded arguments; answer its result and its arguments' new state, or its error."""
    try:
        req = json.loads(request)
        fn = _resolve(req["fn"]) if "fn" in req else _course_function(req["course"])
        args = decode(req["args"], _resolve)
        kwargs = decode(req["kwargs"], _resolve)
    except Exception as exc:
        _answer(nonce, {"refused": f"{type(exc).__name__}: {exc}"})
        return
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # KeyboardInterrupt included: the judge interrupted a call that ran too long
        _answer(nonce, {"raised": [type(exc).__name__, str(exc)[:2000], traceback.format_exc()[-4000:]]})
        return
    try:
        _answer(nonce, {"result": encode(result, _ref), "args": encode(args, _ref),
                        "kwargs": encode(kwargs, _ref)})
    except Exception as exc:
        _answer(nonce, {"refused": str(exc)})
