"""What a session report holds: the rows, every check, and the run they came from.

Rows come from :mod:`pytest_tflite.report.rows`; :mod:`pytest_tflite.report.table` shows
them on the terminal and :mod:`pytest_tflite.report.files` writes them to files.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence

from .rows import CheckResult, Row


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a report shows: the rows, every check, and the run they came from."""

    rows: Sequence[Row]
    checks: Sequence[CheckResult] = ()
    modes: Sequence[str] = ()
    targets: Sequence[str] = ()
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    created: str = ""


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
