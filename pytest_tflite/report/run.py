"""The session report of one run: fed every test report, summed up once at the end.

On the pytest-xdist controller the workers' test reports arrive too, so the rows are the
same as in a serial run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..gate.versions import run_versions
from .rows import Results, TestReportLike
from .summary import Summary, now


class RunReport:
    """The run's checks of declared models, and the report files asked for."""

    def __init__(self, paths: Sequence[Path] = ()) -> None:
        self.results = Results()
        self.paths = list(paths)
        self.lines: list[str] = []
        """What writing the files said, for the terminal summary."""
        self._summary: Summary | None = None

    def add(self, report: TestReportLike) -> None:
        self.results.add(report)

    def summary(self, modes: Sequence[str], targets: Sequence[str]) -> Summary:
        """Rows and run details, built once every report is in."""
        if self._summary is None:
            self._summary = Summary(
                rows=self.results.rows(modes, targets),
                checks=self.results.checks(),
                modes=modes,
                targets=targets,
                versions=run_versions(),
                created=now(),
            )
        return self._summary

    def write(self, summary: Summary, shown_from: Path) -> None:
        """Write every report file; a file that cannot be written is said, not raised."""
        from .files import write_report

        for path in self.paths:
            shown = relative(path, shown_from)
            try:
                write_report(summary, path)
            except OSError as exc:
                self.lines.append(f"tflite: could not write the report {shown}: {exc}")
            else:
                self.lines.append(f"tflite: report written to {shown}")


def relative(path: Path, root: Path) -> Path:
    """``path`` from ``root`` when it lies inside it, else as it is."""
    return path.relative_to(root) if path.is_relative_to(root) else path
