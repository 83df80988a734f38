"""Loading a model's bytes in a child process before this one does.

LiteRT's interpreter is native code: a malformed flatbuffer can kill the process that
loads it (a RESHAPE whose shape input is -1 segfaults ``allocate_tensors``), and with it
a whole pytest session, its summary, its report and its JUnit XML. So the first time a
process meets a model's bytes, a child loads them, allocates and runs one inference on
zeros; only when the child lives does this process load them. A child that dies by a
signal, or is still busy after the timeout, makes a ``ModelCrash`` for that
model alone, and the next model gets a new child. Bytes are probed once per process (by
digest), by one child that stays for the process's life.
"""

from __future__ import annotations

import hashlib
import selectors
import signal
import struct
import subprocess
import sys

from ..errors import ModelCrash

TIMEOUT_S = 120.0
"""Longest a child may take to load and run a model once (a hang is a failure)."""

_SERVER = """
import struct, sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
read, write = sys.stdin.buffer, sys.stdout
while True:
    head = read.read(8)
    if len(head) < 8:
        break
    data = read.read(struct.unpack("<Q", head)[0])
    it = None
    try:
        it = Interpreter(model_content=data)
        it.allocate_tensors()
        for d in it.get_input_details():
            it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
        it.invoke()
        answer = "ok"
    except Exception as exc:
        answer = "error " + type(exc).__name__
    it = None
    write.write(answer + "\\n")
    write.flush()
"""
"""A child that loads model after model: started once, started again after a crash."""

_checked: set[str] = set()
_failed: dict[str, str] = {}


def ensure_loads_safely(content: bytes, *, source: str, mode: str | None, timeout: float = TIMEOUT_S) -> None:
    """Raise :class:`~pytest_tflite.errors.ModelCrash` when loading ``content`` kills or
    hangs the interpreter.

    A Python exception in the child is not a crash: the caller's own load raises it again,
    with its usual words.
    """
    digest = hashlib.sha256(content).hexdigest()
    if digest in _checked:
        return
    problem = _failed.get(digest) or _probe(content, timeout)
    if problem is None:
        _checked.add(digest)
        return
    _failed[digest] = problem
    raise ModelCrash(
        f"the LiteRT interpreter {problem} when loading and running the model",
        source=source,
        mode=mode,
        hint="The model file is malformed or triggers a LiteRT bug; convert it again, or "
        "inspect it with `python -m pytest_tflite inspect MODEL`",
    )


class _Server:
    """The probing child of this process."""

    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def ask(cls, content: bytes, timeout: float) -> str | None:
        process = cls._running()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(struct.pack("<Q", len(content)) + content)
            process.stdin.flush()
        except OSError:
            return cls._died()
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                cls._stop()
                return f"did not finish within {timeout:g} s (a hang)"
        line = process.stdout.readline()
        return None if line else cls._died()

    @classmethod
    def _running(cls) -> subprocess.Popen[bytes]:
        if cls.process is None or cls.process.poll() is not None:
            cls.process = subprocess.Popen(
                [sys.executable, "-c", _SERVER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return cls.process

    @classmethod
    def _died(cls) -> str:
        assert cls.process is not None
        code = cls.process.wait()
        cls.process = None
        if code < 0:
            return f"crashed with {signal_name(-code)}"
        return f"exited with status {code}"

    @classmethod
    def _stop(cls) -> None:
        if cls.process is not None:
            cls.process.kill()
            cls.process.wait()
            cls.process = None


def _probe(content: bytes, timeout: float) -> str | None:
    try:
        return _Server.ask(content, timeout)
    except OSError as exc:
        return f"could not be started in a child process ({exc})"


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
