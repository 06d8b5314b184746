"""The kernel's side of the judge's requests: look up names, call the submission's functions, answer in plain data.

Its text (after :mod:`autograde.wire`'s) is sent to the student's kernel when it starts and runs
there as the module ``_autograde_bridge``. For each test cell the judge runs :func:`serve` in the
kernel, which connects to a Unix socket the judge listens on and answers its requests, one JSON
message each way, until the judge says it is done; the student's code thus runs on the kernel's main
thread, as in any cell, and what it prints reaches the judge the usual way. A submission can change
this module like anything else in its kernel; nothing the judge decides rests on it: the judge reads
the answers with :func:`autograde.wire.decode`, so a tampered bridge can do no more than the
submission's own functions could (return some plain values).
"""

import importlib
import json
import socket
import struct
import sys
import traceback
import types

try:
    from autograde.wire import decode, encode
except ImportError:  # in the kernel: wire.py's text ran just before this one, in the same module
    pass

HEADER = struct.Struct("!Q")
"""Each message: its length in bytes, then that much JSON."""


def send(sock, message: dict) -> None:
    """Send one message."""
    data = json.dumps(message).encode()
    sock.sendall(HEADER.pack(len(data)) + data)


def receive(sock):
    """Receive one message (None at the end of the stream)."""
    header = _exactly(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    data = _exactly(sock, size)
    return None if data is None else json.loads(data)


def _exactly(sock, n: int):
    """``n`` bytes from the socket, or None if it closes first."""
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


_refs: list = []


def _ref(fn) -> int:
    """A number standing for ``fn`` in the judge."""
    _refs.append(fn)
    return len(_refs) - 1


def _resolve(n: int):
    """The function a number stands for."""
    return _refs[n]


def lookup(names: list) -> dict:
    """What each of ``names`` is in the notebook's namespace: a module's name, or a value."""
    ns = sys.modules["__main__"].__dict__
    found = {}
    for name in names:
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
    return found


def _course_function(path: str):
    """A function of the course's ``helpers`` package, by its dotted path."""
    module, _, name = path.rpartition(".")
    if not module.startswith("helpers."):
        raise ValueError(f"not a course function: {path}")
    return getattr(importlib.import_module(module), name)


def call(req: dict) -> dict:
    """Call a function with the decoded arguments; its result and its arguments' new state, or its error."""
    try:
        fn = _resolve(req["fn"]) if "fn" in req else _course_function(req["course"])
        args = decode(req["args"], _resolve)
        kwargs = decode(req["kwargs"], _resolve)
    except Exception as exc:
        return {"refused": f"{type(exc).__name__}: {exc}"}
    try:
        result = fn(*args, **kwargs)
    except (Exception, SystemExit) as exc:  # an interrupt (the judge's time limit) ends the session instead
        return {"raised": [type(exc).__name__, str(exc)[:2000], traceback.format_exc()[-4000:]]}
    try:
        return {"result": encode(result, _ref), "args": encode(args, _ref), "kwargs": encode(kwargs, _ref)}
    except Exception as exc:
        return {"refused": str(exc)}


def serve(path: str) -> None:
    """Connect to the judge at ``path`` and answer its requests until it is done or goes away (quietly: an error here
    would make the kernel drop the requests queued behind this one)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            while True:
                request = receive(sock)
                if request is None or request.get("op") == "done":
                    return
                reply = lookup(request["names"]) if request.get("op") == "lookup" else call(request)
                sys.stdout.flush()  # what the call printed leaves before its answer
                sys.stderr.flush()
                send(sock, reply)
    except OSError:  # the judge closed the session (its time limit, or a reply it refused)
        pass
