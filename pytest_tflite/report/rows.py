"""The rows of the session report, built from test reports alone.

Each check of a declared model names its model, mode and (for placement) target in its
report's ``user_properties``, next to what it measured. Reports reach the pytest-xdist
controller with their properties, so rows built from them are the same in serial and
parallel runs. A row is one (model, mode, target): the mode's checks (converts, size,
accuracy, latency) and that target's compatible check. Nothing here imports pytest,
TensorFlow or numpy: the input is anything with a test report's attributes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ..gate.figures import FIGURE_NAMES
from ..gate.significance import Change, LatencyChange, latency_change
from .keys import CHECK_KEY, MODE_KEY, MODEL_KEY, TARGET_KEY, interval_key, key, target_key

PASS, FAIL, SKIP, ERROR = "pass", "fail", "skip", "error"
VERDICTS = (PASS, FAIL, SKIP, ERROR)
PASSED, FAILED, SKIPPED, ERRORED = "passed", "failed", "skipped", "error"
MODE_CHECKS = ("converts", "size", "accuracy", "latency")
"""Checks of a mode as a whole, in the order their figures are merged into a row."""


SortKey = Callable[[str], tuple[int, str]]
"""Where a name sorts: its place in a given order (names not in it last), then the name."""


class TestReportLike(Protocol):
    """What the rows read of a pytest test report (``pytest.TestReport`` has it).

    Read-only properties, so a report whose ``outcome`` is a Literal still matches."""

    @property
    def nodeid(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def user_properties(self) -> Sequence[tuple[str, object]]: ...


@dataclasses.dataclass
class CheckResult:
    """One test of a declared model, its phases (setup, call, teardown) folded together."""

    nodeid: str
    model: str
    mode: str
    target: str | None
    check: str
    outcome: str = PASSED
    message: str | None = None
    duration: float = 0.0
    properties: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Row:
    """One (model, mode, target) of the report; ``target`` None when the mode had no
    target checks. ``properties`` are the raw figures of the row's checks, mode-level
    ones first, so a target's row repeats its mode's size and accuracy."""

    model: str
    mode: str
    target: str | None
    verdict: str
    checks: Mapping[str, str]
    """Check name -> outcome (passed, failed, skipped, error)."""
    failed: tuple[str, ...] = ()
    """Checks that failed or errored, in check order."""
    reason: str | None = None
    """First line of the first failure, or the skip reason."""
    properties: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def value(self, name: str) -> Any:
        """A figure by its property name without the ``tflite_`` prefix (None if absent)."""
        return self.properties.get(key(name))

    @property
    def metric(self) -> str | None:
        metric: str | None = self.value("metric")
        return metric

    def metric_value(self, reference: str = "") -> float | None:
        """The metric measured, or ``reference``'s ("float32", "golden") when given."""
        if self.metric is None:
            return None
        value: float | None = self.value(f"{reference}_{self.metric}" if reference else self.metric)
        return value

    def target_value(self, name: str) -> Any:
        """A figure of this row's target, such as ``ops_on_target``."""
        return None if self.target is None else self.properties.get(target_key(self.target, name))

    def interval(self, reference: str) -> Change | str | None:
        """The paired interval of the metric's change against ``reference`` ("float32",
        "golden"), why it could not be paired, or None when it was not compared."""
        missing: str | None = self.properties.get(interval_key(reference, "missing"))
        if missing is not None:
            return missing
        fields = {f.name: self.properties.get(interval_key(reference, f.name)) for f in dataclasses.fields(Change)}
        try:
            return Change.from_dict(fields)
        except (KeyError, TypeError, ValueError):
            return None  # not compared, or figures of another version

    def latency_change(self) -> LatencyChange | None:
        """The median latency against the saved run ``--benchmark-compare`` compared with."""
        saved = {"median": self.value("latency_saved_median_ms"), "iqr": self.value("latency_saved_iqr_ms")}
        now = {"median": self.value("latency_median_ms"), "iqr": self.value("latency_iqr_ms")}
        try:
            return latency_change(saved, now)
        except ValueError:
            return None

    def values(self) -> dict[str, Any]:
        """The row's figures by plain names, with the deltas the report shows."""
        size, golden_size = self.value("size_bytes"), self.value("golden_size_bytes")
        metric = self.metric_value()
        float32, golden = self.metric_value("float32"), self.metric_value("golden")
        return {
            "size_bytes": size,
            "golden_size_bytes": golden_size,
            "size_delta_bytes": difference(size, golden_size),
            "gzip_size_bytes": self.value("gzip_size_bytes"),
            "golden_gzip_size_bytes": self.value("golden_gzip_size_bytes"),
            "metric": self.metric,
            "metric_value": metric,
            "float32_metric_value": float32,
            "golden_metric_value": golden,
            "metric_delta_float32": difference(metric, float32),
            "metric_delta_golden": difference(metric, golden),
            "top1_agreement": self.value("fidelity_agreement"),
            "sqnr_db": self.value("fidelity_sqnr_db"),
            "ops_on_target": self.target_value("ops_on_target"),
            "ops_total": self.target_value("ops_total"),
            "target_verdict": self.target_value("verdict"),
            **{name: self.target_value(name) for name in FIGURE_NAMES},
            "metric_interval_float32": _interval_value(self.interval("float32")),
            "metric_interval_golden": _interval_value(self.interval("golden")),
            "kernels": self.value("kernels"),
            "latency_median_ms": self.value("latency_median_ms"),
            "latency_change_saved": _latency_value(self.latency_change()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "mode": self.mode,
            "target": self.target,
            "verdict": self.verdict,
            "failed_checks": list(self.failed),
            "reason": self.reason,
            "checks": dict(self.checks),
            "values": self.values(),
            "properties": dict(self.properties),
        }


def _interval_value(found: Change | str | None) -> dict[str, Any] | None:
    if isinstance(found, str):
        return {"missing": found}
    return None if found is None else {**found.to_dict(), "text": found.text()}


def _latency_value(found: LatencyChange | None) -> dict[str, Any] | None:
    return None if found is None else {**found.to_dict(), "text": found.text()}


def difference(value: float | None, reference: float | None) -> float | None:
    """``value - reference``, or None when either is missing."""
    if value is None or reference is None:
        return None
    return value - reference


class Results:
    """Every declared check's outcome and figures in a run, fed one report at a time."""

    def __init__(self) -> None:
        self._checks: dict[str, CheckResult] = {}

    def add(self, report: TestReportLike) -> None:
        """Fold one phase's report in; reports of other tests are ignored."""
        properties = dict(_pairs(report.user_properties))
        model, mode, check = (properties.get(k) for k in (MODEL_KEY, MODE_KEY, CHECK_KEY))
        if not (isinstance(model, str) and isinstance(mode, str) and isinstance(check, str)):
            return
        result = self._checks.get(report.nodeid)
        if result is None:
            target = properties.get(TARGET_KEY)
            target = target if isinstance(target, str) else None
            result = CheckResult(report.nodeid, model, mode, target, check)
            self._checks[report.nodeid] = result
        result.properties.update(properties)
        result.duration += float(getattr(report, "duration", 0.0) or 0.0)
        _fold_outcome(result, report)

    def __bool__(self) -> bool:
        return bool(self._checks)

    def checks(self) -> list[CheckResult]:
        return sorted(self._checks.values(), key=lambda c: c.nodeid)

    def rows(self, mode_order: Sequence[str] = (), target_order: Sequence[str] = ()) -> list[Row]:
        """One row per (model, mode, target), ordered by model name, then the given mode
        and target orders (names not in them after, by name)."""
        groups: dict[tuple[str, str], list[CheckResult]] = {}
        for result in self._checks.values():
            groups.setdefault((result.model, result.mode), []).append(result)
        mode_key = _order(mode_order)
        rows: list[Row] = []
        for model, mode in sorted(groups, key=lambda k: (k[0], mode_key(k[1]))):
            rows.extend(_mode_rows(model, mode, groups[(model, mode)], _order(target_order)))
        return rows


def totals(rows: Iterable[Row]) -> dict[str, int]:
    """How many rows have each verdict, and in all."""
    rows = list(rows)
    counts = {verdict: sum(row.verdict == verdict for row in rows) for verdict in VERDICTS}
    return {"rows": len(rows), **counts}


def _pairs(properties: Iterable[object]) -> Iterable[tuple[str, Any]]:
    """(name, value) pairs; pytest-xdist may deliver them as lists."""
    for item in properties or ():
        if isinstance(item, (tuple, list)) and len(item) == 2:
            yield str(item[0]), item[1]


def _fold_outcome(result: CheckResult, report: TestReportLike) -> None:
    """A failure outside the test body is an error, as pytest counts it; a failed call
    stays failed after a failing teardown."""
    outcome, when = report.outcome, getattr(report, "when", "call")
    if outcome == "passed" or (outcome == "failed" and result.outcome == FAILED):
        return
    if outcome == "skipped":
        result.outcome = SKIPPED
    elif when == "call":
        result.outcome = FAILED
    else:
        result.outcome = ERRORED
    result.message = result.message or _message(report)


def _message(report: TestReportLike) -> str | None:
    """The first line of what went wrong: the exception's message, or the skip reason."""
    longrepr = getattr(report, "longrepr", None)
    if longrepr is None:
        return None
    if isinstance(longrepr, (tuple, list)) and len(longrepr) == 3:  # a skip: (path, line, reason)
        text = str(longrepr[2]).removeprefix("Skipped: ")
    else:
        crash = getattr(longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(longrepr)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else None


def _order(names: Sequence[str]) -> SortKey:
    index = {name: i for i, name in enumerate(names)}
    return lambda name: (index.get(name, len(index)), name)


def _mode_rows(model: str, mode: str, results: list[CheckResult], target_key: SortKey) -> list[Row]:
    mode_checks = sorted(
        (r for r in results if r.target is None),
        key=lambda r: (MODE_CHECKS.index(r.check) if r.check in MODE_CHECKS else len(MODE_CHECKS), r.check),
    )
    by_target: dict[str, list[CheckResult]] = {}
    for result in results:
        if result.target is not None:
            by_target.setdefault(result.target, []).append(result)
    if not by_target:
        return [_row(model, mode, None, mode_checks, [])]
    return [_row(model, mode, t, mode_checks, by_target[t]) for t in sorted(by_target, key=target_key)]


def _row(
    model: str,
    mode: str,
    target: str | None,
    mode_checks: list[CheckResult],
    target_checks: list[CheckResult],
) -> Row:
    checks = mode_checks + target_checks
    properties: dict[str, Any] = {}
    for result in checks:
        properties.update(result.properties)
    properties.pop(CHECK_KEY, None)  # names a check, not the row
    verdict, failed, reason = _verdict(checks, target_checks)
    return Row(
        model=model,
        mode=mode,
        target=target,
        verdict=verdict,
        checks={r.check: r.outcome for r in checks},
        failed=failed,
        reason=reason,
        properties=properties,
    )


def _verdict(
    checks: list[CheckResult], target_checks: list[CheckResult]
) -> tuple[str, tuple[str, ...], str | None]:
    """error or fail when any check did (naming them); skip when the target's check or
    every check skipped; otherwise pass (a mode check may skip, as accuracy does without
    evaluation data)."""
    bad = [c for c in checks if c.outcome in (FAILED, ERRORED)]
    if bad:
        verdict = ERROR if any(c.outcome == ERRORED for c in bad) else FAIL
        return verdict, tuple(dict.fromkeys(c.check for c in bad)), bad[0].message
    skipped = [c for c in target_checks or checks if c.outcome == SKIPPED]
    if skipped and (target_checks or len(skipped) == len(checks)):
        return SKIP, (), skipped[0].message
    return PASS, (), None
