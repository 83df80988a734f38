"""The merge gate: a measurement against its budget and its golden baseline.

A check judges one part of what was measured (the size, the metric, or the placement on
one target) so that each generated test fails for its own reason. With
``--tflite-update-golden`` the gate records instead of comparing, but only values that
keep every absolute budget: updating baselines can never loosen a gate.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import GoldenError, TFLiteError
from .budget import DEFAULT_BUDGET, Budget, budget_for
from .golden import (
    UPDATE_OPTION,
    clear_key,
    golden_path,
    read_golden,
    record,
    update_golden,
    version_differences,
)
from .judging import NEW, OVER_BUDGET, Comparison, format_comparisons, judge
from .measurement import Measurement
from .versions import current_versions

if TYPE_CHECKING:
    from ..targets.compatibility import CompatibilityReport

SIZE, METRIC, PLACEMENT = "size", "metric", "placement"
_SIZE_ROWS = ("size_bytes", "gzip_size_bytes")
_OWNED = {
    SIZE: ("size_bytes", "gzip_size_bytes", "op_histogram"),
    METRIC: ("metric", "float32_value", "fidelity"),
    PLACEMENT: ("targets",),
}
"""The baseline keys each check records: only what it judged, so an update can never
slip in a value another check refused."""
_ALWAYS = ("schema_version", "model", "mode", "versions")
UPDATING = "update_in_progress"
"""Set (to the run's id) by every write of an update run, and dropped when the run
finishes: a baseline that still has it was left half-updated."""


NO_BASELINE_MARK = f"one run with {UPDATE_OPTION} records every missing baseline"
"""Said by every check that failed for want of a baseline, so the run can count them."""


class BaselineFailure(TFLiteError, AssertionError):
    """A measurement over its budget, worse than its golden baseline, or without one."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What a check found: the rows it judged and, when updating, whether it wrote."""

    rows: tuple[Comparison, ...]
    path: Path
    written: bool = False


@dataclasses.dataclass(frozen=True)
class Gate:
    """Where baselines live, whether this run updates them, and the configured budgets."""

    golden_dir: Path
    update: bool = False
    budgets: Mapping[str, Budget] = dataclasses.field(default_factory=dict)
    run_id: str | None = None
    """Marks the baselines an update run writes until it finishes (see :data:`UPDATING`)."""
    controller_pid: int | None = None
    """A pytest-xdist worker's controller: when it is gone, the worker writes nothing."""

    def budget(self, model: str, mode: str | None, declared: Budget | None = None) -> Budget:
        """Defaults, then the model's declared budget, then the ini scopes (most specific last)."""
        return budget_for(self.budgets, model, mode, base=DEFAULT_BUDGET.merged(declared or Budget()))

    def path(self, model: str, mode: str | None) -> Path:
        return golden_path(self.golden_dir, model, mode)

    def baseline(self, model: str, mode: str | None) -> dict[str, Any] | None:
        """The baseline measurements are compared with: none while updating. A baseline
        recorded for another model or mode (two names that map to one file) is refused."""
        if self.update:
            return None
        path = self.path(model, mode)
        data = read_golden(path)
        if data is not None and UPDATING in data:
            raise GoldenError(
                f"the golden baseline {path} was written by an update that did not finish "
                "(killed, interrupted or stopped at a failure): some of its figures may be new "
                "and others old",
                hint=f"Run the update again to the end ({UPDATE_OPTION}) before committing it",
            )
        if data is not None and (data.get("model"), data.get("mode")) != (model, mode):
            raise GoldenError(
                f"the golden baseline {path} was recorded for model {data.get('model')!r}, mode "
                f"{data.get('mode')!r}, not model {model!r}, mode {mode!r}",
                hint="Give the models names that differ in letters or digits (spaces, slashes "
                "and underscores map to one file name), then record the baseline again",
            )
        return data

    def check(
        self,
        model: str,
        mode: str | None,
        measurement: Measurement,
        part: str,
        *,
        budget: Budget,
        nodeid: str,
        op_histogram: Mapping[str, int] | None = None,
        reports: Iterable[CompatibilityReport] = (),
    ) -> Outcome:
        """Judge ``part`` of ``measurement``; record it instead when updating."""
        path = self.path(model, mode)
        if not self.update:
            golden = self.baseline(model, mode)
            rows = tuple(_part(judge(measurement, budget, golden), part))
            if any(row.verdict in (OVER_BUDGET, NEW) for row in rows):
                raise _failure(model, mode, rows, golden, path, nodeid)
            return Outcome(rows, path)
        rows = tuple(_part(judge(measurement, budget, None), part))
        broken = [row for row in rows if row.verdict == OVER_BUDGET]
        if broken:
            raise BaselineFailure(
                f"refusing to record a baseline that breaks its budget ({_names(broken)})",
                source=model,
                mode=mode,
                hint="Updating baselines never loosens a gate: fix the model, or change the "
                "budget in code or in the tflite_budgets ini key on purpose",
                detail=format_comparisons(rows),
            )
        self._refuse_orphaned_write(model, mode)
        changes = _changes(model, mode, measurement, part, op_histogram, list(reports))
        mark = (UPDATING, self.run_id) if self.run_id else None
        return Outcome(rows, path, update_golden(path, changes, discard_invalid=True, mark=mark))

    def _refuse_orphaned_write(self, model: str, mode: str | None) -> None:
        if self.controller_pid is not None and os.getppid() != self.controller_pid:
            raise BaselineFailure(
                "the pytest-xdist controller of this worker has gone, so this worker writes no baseline",
                source=model,
                mode=mode,
                hint="Run the update again; a run whose controller was killed is not finished",
            )

    def finish_update(self, paths: Iterable[str | Path]) -> None:
        """The update ran to its end: the baselines it stood for are whole again (a mark an
        earlier, interrupted update left on them included)."""
        for path in paths:
            clear_key(Path(path), UPDATING)


def _changes(
    model: str,
    mode: str | None,
    measurement: Measurement,
    part: str,
    op_histogram: Mapping[str, int] | None,
    reports: list[CompatibilityReport],
) -> dict[str, Any]:
    """What one check records: its own part, so other checks' values stay as they are."""
    changes = record(
        model,
        mode,
        measurement if part in (SIZE, METRIC) else None,
        op_histogram=op_histogram,
        targets=reports if part == PLACEMENT else (),
    )
    return {k: v for k, v in changes.items() if k in _ALWAYS or k in _OWNED[part]}


def _part(rows: Iterable[Comparison], part: str) -> list[Comparison]:
    """The rows one check is about."""
    if part == SIZE:
        return [row for row in rows if row.metric in _SIZE_ROWS]
    if part == PLACEMENT:
        return [row for row in rows if row.target is not None]
    return [row for row in rows if row.metric not in _SIZE_ROWS and row.target is None]


def _names(rows: Iterable[Comparison]) -> str:
    return ", ".join(row.metric for row in rows)


def _failure(
    model: str,
    mode: str | None,
    rows: tuple[Comparison, ...],
    golden: Mapping[str, Any] | None,
    path: Path,
    nodeid: str,
) -> BaselineFailure:
    command = f"pytest {UPDATE_OPTION} '{nodeid}'"
    path = _shown(path)
    failed = [row for row in rows if row.verdict == OVER_BUDGET]
    missing = [row for row in rows if row.verdict == NEW]
    if failed:
        problem = f"worse than its golden baseline or over budget: {_names(failed)}"
        hint = f"If the change is intended and within budget, record it with {command} and review the diff of {path}"
    else:
        what = "no golden baseline" if golden is None else f"no golden value for {_names(missing)}"
        problem = f"{what} in {path}"
        hint = f"Create it with {command}, then commit {path} ({NO_BASELINE_MARK}: the run's summary names it)"
    detail = format_comparisons(rows)
    versions = version_differences(golden, current_versions())
    if versions:
        detail += "\n\nversions differ from the baseline's:\n" + "\n".join(versions)
    return BaselineFailure(problem, source=model, mode=mode, hint=hint, detail=detail)


def _shown(path: Path) -> Path:
    """The path as the user typed it: relative to where pytest runs, when it is below it."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path
