"""Loading a model's bytes in a child process before this one does.

LiteRT's interpreter is native code: a malformed flatbuffer can kill the process that
loads it (a RESHAPE whose shape input is -1 segfaults ``allocate_tensors``), and with it
a whole pytest session, its summary, its report and its JUnit XML. So the first time a
process meets a model's bytes, a child loads them, allocates and runs one inference on
zeros; only when the child lives does this process load them. A child that dies by a
signal, or is still busy after the timeout, makes a ``ModelCrash`` for that
model alone. Bytes are probed once per process (by digest).
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys

from ..errors import ModelCrash

TIMEOUT_S = 120.0
"""Longest a child may take to load and run a model once (a hang is a failure)."""

_PROBE = """
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter
data = sys.stdin.buffer.read()
try:
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], dtype=d["dtype"]))
    it.invoke()
except Exception as exc:
    print("error:", type(exc).__name__)
else:
    print("ok")
"""

_checked: set[str] = set()
_failed: dict[str, str] = {}


def ensure_loads_safely(content: bytes, *, source: str, mode: str | None, timeout: float = TIMEOUT_S) -> None:
    """Raise :class:`~pytest_tflite.errors.ModelCrash` when loading ``content`` kills or hangs the interpreter.

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


def _probe(content: bytes, timeout: float) -> str | None:
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], input=content, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"did not finish within {timeout:g} s (a hang)"
    except OSError as exc:
        return f"could not be started in a child process ({exc})"
    if done.returncode < 0:
        return f"crashed with {signal_name(-done.returncode)}"
    if done.returncode != 0 and not done.stdout.strip():
        return f"exited with status {done.returncode}"
    return None


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
