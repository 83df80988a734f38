"""What a run says while it converts: a line per conversion that runs and per fine-tune
as it starts (:data:`PROGRESS_LOGGER`), and a line per fine-tune epoch (:data:`EPOCH_LOGGER`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

PROGRESS_LOGGER = "pytest_tflite.progress"
EPOCH_LOGGER = "pytest_tflite.training"


def echo_progress(write: Callable[[str], None], *, epochs: bool = True) -> Callable[[], None]:
    """Send each conversion line (and with ``epochs`` each fine-tune epoch line) to
    ``write``, pytest's terminal; returns the function that stops it."""

    class _Write(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            write(record.getMessage())

    loggers = [logging.getLogger(PROGRESS_LOGGER)] + ([logging.getLogger(EPOCH_LOGGER)] if epochs else [])
    handler = _Write(logging.INFO)
    levels = [(each, each.level) for each in loggers]
    for each in loggers:
        each.addHandler(handler)
        if each.getEffectiveLevel() > logging.INFO:
            each.setLevel(logging.INFO)

    def stop() -> None:
        for each, level in levels:
            each.removeHandler(handler)
            each.setLevel(level)

    return stop
