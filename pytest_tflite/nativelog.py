"""What native code (TensorFlow, the converter, LiteRT) writes to the process's stderr,
kept off the terminal.

TensorFlow's start-up lines, the converter's ``fully_quantize: 0, ...`` and LiteRT's
"Created TensorFlow Lite XNNPACK delegate" go straight to file descriptor 2, past
Python and past pytest's capture outside tests. During a :func:`kept` block they go to a
file instead, and are kept in this process's :func:`lines`; ``PYTEST_TFLITE_NATIVE_LOG=show``
(or ``--tflite-native-log``) lets them through as they are.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

SHOW_ENV = "PYTEST_TFLITE_NATIVE_LOG"
SHOW = "show"
_kept: list[str] = []


@contextlib.contextmanager
def kept() -> Iterator[None]:
    """Native stderr written during the block goes to this process's native log."""
    if os.environ.get(SHOW_ENV) == SHOW:
        yield
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
                if text.strip():
                    _kept.append(text)
    finally:
        os.close(saved)


def lines() -> list[str]:
    """Everything kept so far, line by line."""
    return [line for text in _kept for line in text.splitlines() if line.strip()]
