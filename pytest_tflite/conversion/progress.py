"""What a run says while it converts: a line per conversion that runs and per fine-tune
as it starts (:data:`PROGRESS_LOGGER`), and a line per fine-tune epoch (:data:`EPOCH_LOGGER`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

PROGRESS_LOGGER = "pytest_tflite.progress"
EPOCH_LOGGER = "pytest_tflite.training"
PROGRESS_SECTION = "tflite progress"
"""The report section that carries a pytest-xdist worker's lines to the controller."""


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


def write_progress(config: Any, line: str) -> None:
    """One line on pytest's terminal, past its output capture (as live logging writes)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        if getattr(getattr(reporter, "_tw", None), "width_of_current_line", 0):
            reporter.write("\n")  # after pytest-xdist's progress dots, which write_line does not see
        reporter.write_line(f"tflite: {line}")
