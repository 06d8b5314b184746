"""The judge: autograded test cells run in the grader, never in the student's kernel.

The student's notebook runs in its sandboxed kernel; every autograded test cell (the instructor's
code, as nbgrader restored it from the gradebook) runs here instead, in a namespace of its own, with
the grader's own builtins, numpy, torch and ``helpers``, which no submission has touched. The
notebook's locked cells run in both places, so the tests see the instructor's definitions.

A name a test reads that the judge does not define (nor any locked cell binds) is looked up in the
student's kernel (:mod:`autograde.bridge`): a module there becomes the judge's own copy (course and
scientific packages it has loaded), a value comes across as plain data (:mod:`autograde.wire`), and a
function becomes an :class:`Answer`, which calls it in the kernel with plain-data arguments and returns
its plain-data result; what the call did to a ``torch.nn`` model it was given (trained in place) is
copied back, nothing else. Whatever a submission does to its own interpreter (replaced functions, IPython input or
AST transformers, exception handlers, trace functions, threads) changes only what its functions
return, never how the test judges it.

Grades follow values: what the test and the student's code print or warn is kept as ordinary output;
a test fails only when a check fails or the student's code raises.
"""

from __future__ import annotations

import builtins
import contextlib
import inspect
import io
import json
import linecache
import os
import queue
import secrets
import select
import socket
import symtable
import sys
import time
import traceback
import warnings
from pathlib import Path

from nbformat import NotebookNode

from . import bridge
from .wire import WireError, decode, encode, update

BRIDGE_FILES = ("wire.py", "bridge.py")
"""What is sent to the kernel, in order, to make the module ``_autograde_bridge`` there."""

MODULES = {"numpy", "torch", "math", "cmath", "helpers", "random", "itertools", "functools", "collections",
           "statistics", "scipy"}
"""Packages whose modules a test may take by the name the notebook gave them (when the judge has loaded them)."""

MAX_REPLY_BYTES = 16 * 1024 * 1024
"""Largest reply the kernel may send for one request (parsed, JSON can take 30 times as much memory)."""


class SubmissionError(Exception):
    """The submission's code raised while the judge called it."""

    def __init__(self, ename: str, evalue: str, trace: str = ""):
        """Keep the name, message and traceback of the student's exception."""
        super().__init__(f"{ename}: {evalue}" if evalue else ename)
        self.ename, self.evalue, self.trace = ename, evalue, trace


class KernelLost(BaseException):
    """The student's kernel died during a call (a BaseException: a test's own ``except Exception`` lets it pass)."""


class CallTimeout(BaseException):
    """The test cell ran out of time while the student's code ran (a BaseException, as :class:`KernelLost`)."""


def bridge_setup_code() -> str:
    """Kernel code that builds ``_autograde_bridge`` from :data:`BRIDGE_FILES` (run when the kernel starts)."""
    here = Path(__file__).parent
    texts = [(here / f).read_text() for f in BRIDGE_FILES]
    return ("def _autograde_bridge_setup(texts):\n"
            "    import sys, types\n"
            "    module = types.ModuleType('_autograde_bridge')\n"
            "    for text in texts:\n"
            "        exec(text, module.__dict__)\n"
            "    sys.modules['_autograde_bridge'] = module\n"
            f"_autograde_bridge_setup({texts!r})\n"
            "del _autograde_bridge_setup\n")


def free_names(source: str) -> set[str]:
    """Global names the code reads (at its top level or inside its functions) that its top level does not bind,
    builtins aside: what the judge may have to take from the kernel. Function arguments and locals are not."""
    top = _table(source)
    if top is None:
        return set()
    read, tables = set(), [top]
    while tables:
        table = tables.pop()
        for sym in table.get_symbols():
            if sym.is_referenced() and (table is top or sym.is_global()):
                read.add(sym.get_name())
        tables.extend(table.get_children())
    return read - bound_names(source) - set(dir(builtins))


def bound_names(source: str) -> set[str]:
    """Names the code's top level binds (assignments, imports, definitions)."""
    top = _table(source)
    return set() if top is None else {
        s.get_name() for s in top.get_symbols() if s.is_assigned() or s.is_imported() or s.is_namespace()}


def _table(source: str):
    """The code's symbol table, or None when it does not parse."""
    try:
        return symtable.symtable(source, "<cell>", "exec")
    except SyntaxError:
        return None


class Connection:
    """The judge's line to the student's kernel: a second, blocking client of it, and for each test cell a
    session in which the kernel's bridge answers requests over a Unix socket (:func:`autograde.bridge.serve`)."""

    def __init__(self, connection_info: dict, alive, socket_dir: str, max_output_chars: int = 1_000_000):
        """Connect to the kernel described by ``connection_info``; ``alive()`` says whether it still runs;
        ``socket_dir`` is a folder the kernel sees at the same path (its connection file's)."""
        from jupyter_client.blocking import BlockingKernelClient

        self.kc = BlockingKernelClient()
        self.kc.load_connection_info(connection_info)
        self.kc.start_channels(hb=False)
        self.alive, self.socket_dir = alive, socket_dir
        self.deadline = float("inf")
        self.max_output_chars = max_output_chars
        self.printed = 0
        self.sock: socket.socket | None = None
        self.msg_id: str | None = None

    def close(self) -> None:
        """End any session and stop the client's channels."""
        self._drop()
        self.kc.stop_channels()

    def _left(self) -> float:
        """Seconds left before the deadline (CallTimeout when none)."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            self._drop()
            raise CallTimeout("the test ran out of time while your code ran")
        return left

    def _open(self) -> socket.socket:
        """The session's socket: listen, ask the kernel to serve, accept its connection."""
        if self.sock is not None:
            return self.sock
        path = os.path.join(self.socket_dir, f"judge-{secrets.token_hex(8)}.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            os.chmod(path, 0o600)
            listener.listen(1)
            listener.settimeout(0.05)
            self.msg_id = self.kc.execute(f"__import__('sys').modules['_autograde_bridge'].serve({path!r})",
                                          store_history=False, allow_stdin=False, stop_on_error=False)
            try:
                while self.sock is None:
                    self._left()
                    try:
                        self.sock, _ = listener.accept()
                        self.sock.setblocking(False)
                    except TimeoutError:
                        if self._drain(0):  # the kernel finished without connecting: its bridge is gone
                            self.msg_id = None
                            raise SubmissionError("NoAnswer", "the notebook's kernel did not answer the grader") \
                                from None
                        if not self.alive():
                            raise KernelLost("the kernel died while running your code") from None
            finally:
                os.unlink(path)
        return self.sock

    def _wait(self, sock, write: bool = False) -> None:
        """Wait until the socket can be read (or written), within the deadline, while the kernel lives."""
        while True:
            ready = select.select([] if write else [sock], [sock] if write else [], [], min(self._left(), 0.5))
            if ready[1 if write else 0]:
                return
            if not self.alive():
                raise KernelLost("the kernel died while running your code")

    def _read(self, sock, n: int) -> bytes | None:
        """``n`` bytes from the session (None if the kernel closes it first), within the deadline."""
        data = bytearray()
        while len(data) < n:
            self._wait(sock)
            chunk = sock.recv(min(n - len(data), 1 << 20))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    def _exchange(self, sock, message: dict) -> dict | None:
        """Send one message and read the reply (None if the session closed), never waiting past the deadline."""
        data = json.dumps(message).encode()
        out = memoryview(bridge.HEADER.pack(len(data)) + data)
        while out:
            self._wait(sock, write=True)
            out = out[sock.send(out[: 1 << 20]):]
        header = self._read(sock, bridge.HEADER.size)
        if header is None:
            return None
        (size,) = bridge.HEADER.unpack(header)
        if size > MAX_REPLY_BYTES:
            raise ValueError(f"a reply of {size} bytes, more than the {MAX_REPLY_BYTES} allowed")
        body = self._read(sock, size)
        return None if body is None else json.loads(body)

    def request(self, message: dict) -> dict:
        """Send one request in the session and return the kernel's reply, echoing what the student's code printed."""
        sock = self._open()
        try:
            reply = self._exchange(sock, message)
        except OSError:
            reply = None
        except (ValueError, RecursionError) as exc:
            self._drop()
            raise WireError(f"the kernel's answer could not be read: {exc}") from None
        self._drain(0)
        if reply is None:  # the session closed: the kernel died (seen within a moment) or its bridge stopped
            self._drop()
            for _ in range(20):
                if not self.alive():
                    raise KernelLost("the kernel died while running your code")
                time.sleep(0.1)
            raise SubmissionError("NoAnswer", "the notebook's kernel stopped answering the grader")
        return reply

    def finish(self) -> None:
        """End the session: tell the kernel, and wait (within the deadline) until its cell is over."""
        if self.sock is None:
            return
        try:
            self.sock.send(bridge.HEADER.pack(14) + b'{"op": "done"}')  # best effort: closing says the same
        except OSError:
            pass
        self.sock.close()
        self.sock = None
        while self.msg_id is not None and not self._drain(min(max(self.deadline - time.monotonic(), 0), 5.0)):
            if time.monotonic() >= self.deadline or not self.alive():
                break
        self.msg_id = None

    def _drop(self) -> None:
        """Abandon the session (a time limit or a dead kernel): the grader interrupts or restarts the kernel."""
        if self.sock is not None:
            self.sock.close()
        self.sock, self.msg_id = None, None

    def _drain(self, timeout: float) -> bool:
        """Echo the session cell's output that has arrived (waiting up to ``timeout`` s for more); True once the
        kernel is idle again."""
        end = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_iopub_msg(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                return False
            if msg["parent_header"].get("msg_id") != self.msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                self._echo(content["text"])
            elif kind == "status" and content.get("execution_state") == "idle":
                return True

    def _echo(self, text: str) -> None:
        """Show what the student's code printed, up to the output limit."""
        if text and self.printed < self.max_output_chars:
            print(text[: self.max_output_chars - self.printed], end="")
            if self.printed + len(text) > self.max_output_chars:
                print(f"\n[output beyond {self.max_output_chars} characters dropped]")
            self.printed += len(text)

    def answer(self, ref: int) -> Answer:
        """The judge's handle on the kernel's function number ``ref``."""
        return Answer(self, ref=ref)

    def ref_of(self, obj) -> int:
        """The kernel's number for a function passed back to it (only the submission's own functions go back)."""
        if isinstance(obj, Answer) and obj.ref is not None:
            return obj.ref
        raise WireError("only the submission's own functions can be passed to its code")


class Answer:
    """A function of the submission (or a course function that measures it), called in the student's kernel."""

    def __init__(self, conn: Connection, ref: int | None = None, course: str | None = None, name: str = ""):
        """A handle on the kernel's function number ``ref``, or on the course function at dotted path ``course``."""
        self.conn, self.ref, self.course = conn, ref, course
        self.__name__ = name or course or f"function {ref}"

    def __repr__(self) -> str:
        """Say what it stands for."""
        return f"<{self.__name__} of the submission>"

    def __call__(self, *args, **kwargs):
        """Call it in the kernel; copy back what the call changed in the arguments; return its result."""
        target = {"fn": self.ref} if self.ref is not None else {"course": self.course}
        reply = self.conn.request({"op": "call", **target, "args": encode(list(args), self.conn.ref_of),
                                   "kwargs": encode(kwargs, self.conn.ref_of)})
        if "raised" in reply:
            raise SubmissionError(*[str(x) for x in reply["raised"][:3]])
        if "result" not in reply:
            raise WireError(f"{self.__name__}: {reply.get('refused', 'no result')}")
        result = decode(reply["result"], self.conn.answer)
        for old, new in zip(args, decode(reply["args"], self.conn.answer)):
            if _trained(old):
                update(old, new)
        new_kwargs = decode(reply["kwargs"], self.conn.answer)
        for key, old in kwargs.items():
            if _trained(old) and key in new_kwargs:
                update(old, new_kwargs[key])
        return result


def _trained(obj) -> bool:
    """Whether a call's effect on this argument is copied back: only a ``torch.nn`` model (trained in place). Arrays,
    lists and tensors the test passed stay as they were, so an answer cannot rewrite a test's own data."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


class Unreadable:
    """Stands for a value of the submission that cannot cross: any use raises the reason."""

    def __init__(self, name: str, reason: str):
        """Remember why."""
        self._message = f"{name}: {reason}"

    def __getattr__(self, attr):
        """Raise the reason (an AttributeError for Python's own questions, such as ``__array__``)."""
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise WireError(self._message)

    def __call__(self, *args, **kwargs):
        """Raise the reason."""
        raise WireError(self._message)

    def _refuse(self, *args):
        """Raise the reason (comparing, converting or iterating it)."""
        raise WireError(self._message)

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = __float__ = __int__ = __index__ = _refuse
    __len__ = __iter__ = __getitem__ = __array__ = __add__ = __sub__ = __mul__ = __truediv__ = _refuse
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        """Say it is unreadable."""
        return f"<unreadable: {self._message}>"


class Judge:
    """One notebook's test cells, run in this process against the submission's kernel."""

    def __init__(self):
        """Start with an empty namespace and no kernel."""
        self.ns: dict = {"__name__": "__main__", "__builtins__": builtins}
        self.borrowed: dict[str, object] = {}  # names looked up in the kernel, with what they were bound to
        self.reserved: set[str] = set()  # names the notebook's locked cells bind
        self.conn: Connection | None = None

    def connect(self, conn: Connection) -> None:
        """Use ``conn`` for the kernel (a new one after a restart)."""
        if self.conn is not None:
            self.conn.close()
        self.conn = conn

    def close(self) -> None:
        """Disconnect from the kernel."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def reserve(self, source: str) -> None:
        """Names a locked cell binds are the judge's alone: never taken from the kernel (missing, they are missing)."""
        self.reserved |= bound_names(source)

    def _bind(self, source: str) -> None:
        """Look up in the kernel the names ``source`` reads that the judge has not defined itself."""
        wanted = sorted(n for n in free_names(source) - self.reserved if n not in self.ns or n in self.borrowed)
        if not wanted or self.conn is None:
            return
        for name in wanted:
            self.ns.pop(name, None)
            self.borrowed.pop(name, None)
        found = self.conn.request({"op": "lookup", "names": wanted})
        for name, what in found.items():
            if name not in wanted or not isinstance(what, dict):
                continue
            if "module" in what:  # only one the judge has loaded already: naming a module never runs its code here
                module = str(what["module"])
                if module.split(".")[0] in MODULES and module in sys.modules:
                    self.ns[name] = sys.modules[module]
                continue
            try:
                value = decode(what["value"], self.conn.answer) if "value" in what else None
                if isinstance(value, Answer):
                    value.__name__ = name
            except Exception as exc:  # whatever the kernel sent, one unreadable name costs only itself
                value = Unreadable(name, f"{type(exc).__name__}: {exc}")
            if "refused" in what:
                value = Unreadable(name, str(what["refused"]))
            self.ns[name] = self.borrowed[name] = value

    def _measuring(self) -> None:
        """Course functions marked ``runs_with_answers`` (they measure the student's code) run in the kernel."""
        for name, value in list(self.ns.items()):
            if inspect.isfunction(value) and getattr(value, "runs_with_answers", False) and self.conn is not None:
                self.ns[name] = Answer(self.conn, course=f"{value.__module__}.{value.__name__}", name=name)

    def _exec(self, source: str, filename: str) -> None:
        """Execute instructor code in the judge's namespace; forget borrowed names the code rebound."""
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            exec(compile(source, filename, "exec"), self.ns)
        finally:
            for name, value in list(self.borrowed.items()):
                if self.ns.get(name) is not value:
                    del self.borrowed[name]

    def run_locked(self, source: str, name: str, timeout: float) -> str | None:
        """Run a locked cell of the notebook here too, quietly (its outputs are the kernel's); return None, "timeout"
        or "died" (what happened to the kernel), or "failed: <error>"."""
        self.reserve(source)
        if self.conn is not None:
            self.conn.deadline, self.conn.printed = time.monotonic() + timeout, 0
        problem = None
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self._bind(source)
                self._exec(source, f"<locked cell {name}>")
            except CallTimeout:
                problem = "timeout"
            except KernelLost:
                problem = "died"
            except Exception as exc:  # its names stay undefined here, so the tests that read them fail
                problem = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
            finally:
                if self.conn is not None:
                    self.conn.finish()
        self._measuring()
        return problem

    def run_test(self, source: str, name: str, timeout: float) -> tuple[list[NotebookNode], str | None]:
        """Run a test cell; return its outputs and what happened to the kernel (None, "timeout" or "died")."""
        if self.conn is not None:
            self.conn.deadline, self.conn.printed = time.monotonic() + timeout, 0
        text, error, problem = io.StringIO(), None, None
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text), warnings.catch_warnings():
            warnings.simplefilter("default")
            try:
                self._bind(source)
                self._exec(source, f"<cell {name}>")
            except CallTimeout as exc:
                error, problem = error_output("CellTimeoutError", f"stopped after {timeout} s: {exc}"), "timeout"
            except KernelLost as exc:
                error, problem = error_output("KernelDied", f"{exc} (exit, crash or memory); it was restarted "
                                               "for the next cells"), "died"
            except BaseException as exc:  # noqa: B036 (a test's own SystemExit or KeyboardInterrupt fails it)
                error = _test_error(exc)
            finally:
                if self.conn is not None:
                    self.conn.finish()
        outputs = []
        if text.getvalue():
            outputs.append(NotebookNode(output_type="stream", name="stdout", text=text.getvalue()))
        if error is not None:
            outputs.append(error)
        return outputs, problem


def error_output(ename: str, evalue: str, trace: list[str] | None = None) -> NotebookNode:
    """An error output (nbgrader scores the cell 0)."""
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=trace or [f"{ename}: {evalue}"])


def _test_error(exc: BaseException) -> NotebookNode:
    """The error output of a failed test: the frames from the test cell on, and the student's own traceback."""
    here = (str(Path(__file__).parent / "judge.py"), str(Path(__file__).parent / "wire.py"))
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename not in here]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    if isinstance(exc, SubmissionError):
        lines.append(f"raised in your code:\n{exc.trace}")
        return error_output(exc.ename, exc.evalue, lines + [f"{exc.ename}: {exc.evalue}"])
    lines += traceback.format_exception_only(type(exc), exc)
    return error_output(type(exc).__name__, str(exc), lines)
