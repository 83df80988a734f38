"""Fine-tunes in a process of their own, so a long run does not grow by every one of them.

TensorFlow keeps part of what each fine-tune builds (traced functions, the converter's
graphs) for the life of the process, however the Keras session is cleared: about 35 MiB
per fine-tune of a small CNN, several GiB over a repository's models and modes. A
fine-tune of a model file under a built-in mode therefore runs, with its conversion, in
a child process that is replaced once it holds more than :data:`PROCESS_LIMIT_MIB`.
Its epoch and progress lines reach this process's loggers as they are written; its
errors come back as the errors they were; a child that dies (a crash in native code, the
memory killer) fails that conversion only, and the next fine-tune starts a new one.

Sources held in memory (a Keras model object) and modes registered outside the plugin
cannot be given to another process and are fine-tuned in this one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConversionError
from ..nativelog import SHOW, SHOW_ENV
from .modes import Mode, get_mode
from .progress import EPOCH_LOGGER, PROGRESS_LOGGER

if TYPE_CHECKING:
    from .datasets import Sample
    from .sources import Source
    from .training import Training

PROCESS_LIMIT_MIB = 1400
"""A fine-tuning process holding more than this after a fine-tune is replaced by a new one."""
_PACKAGE = __name__.split(".")[0]
APART_ENV = "PYTEST_TFLITE_FINE_TUNE_APART"
"""Set to ``0`` to fine-tune in the test process itself (to debug a fine-tune in place)."""


def runs_apart(src: Source, mode: Mode, training: Training) -> bool:
    """Whether this fine-tune can run in a child process: the source is a model file, the
    mode (and the mode it converts like) is one of the plugin's as registered, and the
    loss and metrics can be sent (names and configurations can, most objects too)."""
    if src.kind != "keras_file" or os.environ.get(APART_ENV) == "0":
        return False
    modes = [mode] + ([get_mode(mode.options["then"])] if "then" in mode.options else [])
    if not all(_builtin(each) for each in modes):
        return False
    try:
        pickle.dumps((training.loss, training.metrics))
    except Exception:  # noqa: BLE001 - whatever cannot be pickled stays in this process
        return False
    return True


def _builtin(mode: Mode) -> bool:
    try:
        registered = get_mode(mode.name)
    except Exception:  # noqa: BLE001 - an unknown mode is simply not one of ours
        return False
    functions = [registered.configure, registered.fine_tune]
    ours = all(f is None or getattr(f, "__module__", "").split(".")[0] == _PACKAGE for f in functions)
    return ours and registered.configure is mode.configure and registered.fine_tune is mode.fine_tune


class Trainer:
    """One child process at a time that fine-tunes and converts, started when first needed
    and spoken to in pickled frames over its standard input and output."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def fine_tune_and_convert(
        self, src: Source, mode: Mode, training: Training, samples: list[Sample] | None, cache_dir: Path | None
    ) -> tuple[bytes, Counter[str]]:
        """The converted bytes of ``src`` fine-tuned under ``mode``, and the stage counts."""
        request = (src.kind, src.name, str(src.obj), mode.name, dict(mode.options), training, samples, cache_dir)
        with self._lock:
            process = self._started()
            try:
                _send(process.stdin, request)
                answer = self._answer(process)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                code = self.close()
                raise ConversionError(
                    f"the process fine-tuning this model stopped before it finished ({_ended(code)}: a "
                    "crash in native code, or the system ran out of memory)",
                    source=src.name,
                    mode=mode.name,
                    hint=f"Run this test alone with {APART_ENV}=0 to see where it stops",
                    detail=f"{type(exc).__name__}: {exc}",
                ) from None
        if isinstance(answer, BaseException):
            raise answer
        content, stats, resident_mib = answer
        if resident_mib > PROCESS_LIMIT_MIB:
            self.close()
        return content, Counter(stats)

    def close(self) -> int | None:
        """Stop the child (it ends when its input closes); its exit status, if it had one."""
        process, self._process = self._process, None
        if process is None:
            return None
        with contextlib.suppress(OSError):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def _answer(self, process: subprocess.Popen[bytes]) -> Any:
        """Relay the child's log records until its answer comes."""
        while True:
            kind, payload = _received(process.stdout)
            if kind == "log":
                logging.getLogger(payload.name).handle(payload)
            else:
                return payload

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            shown = os.environ.get(SHOW_ENV) == SHOW
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
            self._process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=None if shown else subprocess.DEVNULL,
                env=env,
            )
        return self._process


def _send(stream: Any, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _received(stream: Any) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError("the child process closed its output")
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        from ..model.isolation import signal_name

        return f"it was killed by {signal_name(-code)}"
    return f"it exited with status {code}"


# --- the child -------------------------------------------------------------------------


class _Forward(logging.Handler):
    """A log record of the child, sent to the parent as it is written."""

    def __init__(self, channel: Any) -> None:
        super().__init__(logging.INFO)
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        record.msg, record.args, record.exc_info = record.getMessage(), None, None
        _send(self.channel, ("log", record))


def _serve() -> None:
    """Answer requests on stdin until it closes; stdout carries only the answers (what
    TensorFlow prints goes to stderr)."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for name in (EPOCH_LOGGER, PROGRESS_LOGGER):
        logger = logging.getLogger(name)
        logger.addHandler(_Forward(channel))
        logger.setLevel(logging.INFO)
        logger.propagate = False
    while True:
        try:
            request = _received(sys.stdin.buffer)
        except EOFError:
            return
        try:
            answer: Any = _run(*request)
        except Exception as exc:  # noqa: BLE001 - every error goes back to the caller
            answer = exc
        _send(channel, ("answer", answer))


def _run(
    kind: str,
    name: str,
    path: str,
    mode_name: str,
    options: dict[str, Any],
    training: Training,
    samples: list[Sample] | None,
    cache_dir: Path | None,
) -> tuple[bytes, dict[str, int], float]:
    """Fine-tune, convert, and say how much memory the process now holds."""
    from .cache import ConversionCache
    from .sources import Source
    from .tf_convert import release_keras_state, run_converter
    from .training import Stages, fine_tuned_source

    stats: Counter[str] = Counter()
    src = Source(kind=kind, name=name, obj=path)
    mode = get_mode(mode_name).with_options(**options)
    tuned = fine_tuned_source(src, mode, training, Stages(ConversionCache(cache_dir), stats))
    content = run_converter(tuned, mode, samples)
    del tuned
    release_keras_state()
    return content, dict(stats), _resident_mib()


def _resident_mib() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


if __name__ == "__main__":
    _serve()
