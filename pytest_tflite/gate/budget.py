"""Budgets: how good, how small and how well placed a converted model must be.

The vocabulary follows TensorFlow Model Analysis: *value thresholds* bound a measured
value on its own (``min_accuracy``, ``max_size_bytes``, ``min_on_target``), *change
thresholds* bound its change against a reference, the float32 conversion
(``max_accuracy_drop``) or the golden baseline (``golden_*_tolerance``). Change
thresholds have a direction, so an improvement never fails: more accuracy, fewer bytes
and more operators on the target are reported as "improved", never as a failure.

Setting a field to None means "not checked". In the ini form ``off`` disables a check
a wider scope (or ``DEFAULT_BUDGET``) turned on.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import BudgetError
from .golden import round_value

PASS, FAIL, IMPROVED, NEW = "pass", "fail", "improved", "new"
DEFAULT_SCOPE = "*"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Thresholds for one model and mode; None leaves a quantity unchecked.

    ``min_accuracy`` is the worst acceptable metric value: a floor when higher is
    better, a ceiling when lower is better (a loss). ``max_accuracy_drop`` and
    ``golden_accuracy_tolerance`` are in metric units (0.02 = 2 accuracy points);
    ``golden_*size_tolerance`` are relative growth (0.01 = 1 %); ``min_on_target`` is
    a fraction of operators; ``golden_on_target_tolerance`` a count of operators.
    """

    min_accuracy: float | None = None
    max_size_bytes: int | None = None
    max_gzip_size_bytes: int | None = None
    max_accuracy_drop: float | None = None
    golden_accuracy_tolerance: float | None = None
    golden_size_tolerance: float | None = None
    golden_gzip_size_tolerance: float | None = None
    min_on_target: float | None = None
    golden_on_target_tolerance: int | None = None

    def merged(self, other: Budget) -> Budget:
        """This budget with every field ``other`` sets taking its place."""
        changes = {f.name: getattr(other, f.name) for f in _FIELDS}
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


_FIELDS = dataclasses.fields(Budget)

DEFAULT_BUDGET = Budget(
    golden_accuracy_tolerance=0.005,
    golden_size_tolerance=0.01,
    golden_gzip_size_tolerance=0.01,
    golden_on_target_tolerance=0,
)
"""What applies when nothing is configured: no absolute bound, but a golden baseline may
not lose more than half an accuracy point, grow more than 1 % (raw or gzipped), or
lose any operator from the target."""

# Kind of value each key takes: a byte count, a fraction (``%`` allowed), a metric
# amount, or an operator count. Minimums are disabled with -inf, the rest with +inf.
_KINDS = {
    "min_accuracy": "metric",
    "max_size_bytes": "bytes",
    "max_gzip_size_bytes": "bytes",
    "max_accuracy_drop": "metric",
    "golden_accuracy_tolerance": "metric",
    "golden_size_tolerance": "fraction",
    "golden_gzip_size_tolerance": "fraction",
    "min_on_target": "fraction",
    "golden_on_target_tolerance": "count",
}
_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2}
_OFF = "off"
LINE_FORM = "[scope:] key=value[, key=value]  (scope: *, a mode, a model, or model/mode)"


# --- the ini form ---------------------------------------------------------------------


def parse_budget_lines(lines: Iterable[str]) -> dict[str, Budget]:
    """Scope -> Budget from ``tflite_budget`` ini lines; later lines win within a scope.

    Blank lines and lines starting with ``#`` are skipped.
    """
    scopes: dict[str, Budget] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        scope, budget = parse_budget_line(line)
        scopes[scope] = scopes.get(scope, Budget()).merged(budget)
    return scopes


def parse_budget_line(line: str) -> tuple[str, Budget]:
    """One ``[scope:] key=value, ...`` line as its scope and budget."""
    head, colon, rest = line.partition(":")
    if colon and "=" not in head:
        scope, body = head.strip(), rest
    else:
        scope, body = DEFAULT_SCOPE, line
    if not scope or " " in scope:
        raise _line_error(
            line, f"the scope {scope!r} is not a name", "Name the scope without spaces"
        )
    values: dict[str, Any] = {}
    for item in (part.strip() for part in body.split(",")):
        if not item:
            continue
        key, eq, text = (s.strip() for s in item.partition("="))
        if not eq:
            raise _line_error(line, f"{item!r} is not key=value", f"Write budgets as {LINE_FORM}")
        if key not in _KINDS:
            allowed = f"Use one of: {', '.join(_KINDS)}"
            raise _line_error(line, f"unknown budget key {key!r}", allowed)
        values[key] = _parse_value(key, text, line)
    if not values:
        raise _line_error(line, "the line sets no budget", f"Write budgets as {LINE_FORM}")
    return scope, Budget(**values)


def budget_for(
    scopes: Mapping[str, Budget], model: str, mode: str | None, base: Budget = DEFAULT_BUDGET
) -> Budget:
    """``base`` (the defaults, or the defaults with a model's declared budget), then ``*``,
    the mode, the model, ``model/mode``: most specific wins."""
    budget = base
    for scope in (DEFAULT_SCOPE, mode, model, f"{model}/{mode}"):
        if scope is not None and scope in scopes:
            budget = budget.merged(scopes[scope])
    return budget


def _parse_value(key: str, text: str, line: str) -> float | int:
    kind = _KINDS[key]
    if text.lower() == _OFF:
        return -math.inf if key.startswith("min_") else math.inf
    allowed = f"Give {key} {_ALLOWED[kind]}, or 'off'"
    try:
        value = _number(kind, text)
    except ValueError:
        raise _line_error(line, f"{key} = {text!r} is not {_ALLOWED[kind]}", allowed) from None
    negative = value < 0 and key != "min_accuracy"  # a metric such as a log-likelihood may be
    if not math.isfinite(value) or negative or (key == "min_on_target" and value > 1):
        raise _line_error(line, f"{key} = {text!r} is out of range", allowed)
    return value


_ALLOWED = {
    "bytes": "a byte count (an integer, optionally with B, KB, KiB, MB or MiB)",
    "fraction": "a fraction such as 0.01 or a percentage such as 1%",
    "metric": "a number in the metric's units, such as 0.02 (not negative, but for min_accuracy)",
    "count": "a whole number of operators",
}


def _number(kind: str, text: str) -> float | int:
    if kind == "bytes":
        match = re.fullmatch(r"([0-9.]+)\s*([a-zA-Z]*)", text)
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(text)
        amount = float(match.group(1)) * _UNITS[match.group(2).lower()]
        if amount != int(amount):
            raise ValueError(text)
        return int(amount)
    if kind == "count":
        return int(text)
    if kind == "fraction" and text.endswith("%"):
        return float(text[:-1]) / 100
    return float(text)


def _line_error(line: str, problem: str, hint: str) -> BudgetError:
    return BudgetError(f"in the budget line {line!r}, {problem}", hint=hint)


# --- measuring and judging ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Measurement:
    """What was measured for one model and mode (and the targets it was placed on)."""

    size_bytes: int
    gzip_size_bytes: int
    metric: str | None = None
    value: float | None = None
    higher_is_better: bool = True
    float32_value: float | None = None
    fidelity: Mapping[str, float] | None = None
    on_target: Mapping[str, tuple[int, int]] = dataclasses.field(default_factory=dict)
    """Target -> (operators on the target, operators in all)."""


def measure(
    model: Any,
    evaluation: Any = None,
    *,
    float32_value: float | None = None,
    reports: Iterable[Any] = (),
) -> Measurement:
    """A Measurement from a TFLiteModel, its Evaluation and CompatibilityReports."""
    return Measurement(
        size_bytes=model.size_bytes,
        gzip_size_bytes=model.gzip_size_bytes,
        metric=evaluation.metric if evaluation else None,
        value=evaluation.value if evaluation else None,
        higher_is_better=evaluation.higher_is_better if evaluation else True,
        float32_value=float32_value,
        fidelity=evaluation.fidelity.to_dict() if evaluation and evaluation.fidelity else None,
        on_target={r.target: (r.ops_on_target, r.ops_total) for r in reports},
    )


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the comparison table; ``unit`` is "bytes" for sizes."""

    metric: str
    golden: float | int | str | None
    measured: float | int | str | None
    delta: float | int | None
    budget_text: str
    verdict: str
    unit: str = ""


def judge(measurement: Measurement, budget: Budget, golden: Mapping[str, Any] | None) -> list[Row]:
    """Rows comparing the measurement with the budget and the golden baseline (if any)."""
    golden = golden or {}
    rows: list[Row] = []
    if measurement.value is not None:
        rows.append(_metric_row(measurement, budget, golden))
        if _active(budget.max_accuracy_drop) and measurement.float32_value is not None:
            rows.append(_drop_row(measurement, budget, golden))
    rows.append(
        _size_row("size_bytes", measurement.size_bytes, golden.get("size_bytes"),
                  budget.max_size_bytes, budget.golden_size_tolerance)
    )
    rows.append(
        _size_row("gzip_size_bytes", measurement.gzip_size_bytes, golden.get("gzip_size_bytes"),
                  budget.max_gzip_size_bytes, budget.golden_gzip_size_tolerance)
    )
    targets = golden.get("targets") or {}
    for target in sorted(measurement.on_target):
        rows.append(_target_row(target, measurement.on_target[target], targets.get(target), budget))
    return rows


def failures(rows: Iterable[Row]) -> list[Row]:
    return [row for row in rows if row.verdict == FAIL]


def format_rows(rows: Iterable[Row]) -> str:
    """The rows as a table: metric, golden, measured, delta, budget, verdict."""
    from tabulate import tabulate

    table = [
        [
            row.metric,
            _text(row.golden),
            _text(row.measured),
            _delta_text(row),
            row.budget_text or "-",
            row.verdict,
        ]
        for row in rows
    ]
    headers = ["metric", "golden", "measured", "delta", "budget", "verdict"]
    return tabulate(table, headers=headers, disable_numparse=True)


def _active(bound: float | None) -> bool:
    return bound is not None and math.isfinite(bound)


def _metric_row(m: Measurement, budget: Budget, golden: Mapping[str, Any]) -> Row:
    value = m.value
    assert value is not None
    sign = 1.0 if m.higher_is_better else -1.0
    word = ">=" if m.higher_is_better else "<="
    rules: list[str] = []
    failed = False
    if _active(budget.min_accuracy):
        rules.append(f"{word} {_text(budget.min_accuracy)}")
        failed |= sign * (value - budget.min_accuracy) < 0
    recorded = golden.get("metric") or {}
    reference = recorded.get("value") if recorded.get("name") == m.metric else None
    gain = 0.0  # how much better than the baseline, at the precision it is stored with
    if reference is not None:
        gain = sign * (round_value(value) - round_value(reference))
        if _active(budget.golden_accuracy_tolerance):
            slack = f"{'-' if sign > 0 else '+'} {_text(budget.golden_accuracy_tolerance)}"
            rules.append(f"{word} golden {slack}")
            failed |= gain < -budget.golden_accuracy_tolerance - 1e-12
    return Row(
        m.metric or "metric",
        reference,
        value,
        None if reference is None else value - reference,
        ", ".join(rules),
        _verdict(failed, reference, gain),
    )


def _drop_row(m: Measurement, budget: Budget, golden: Mapping[str, Any]) -> Row:
    """How much worse than the float32 conversion, now and in the baseline."""
    sign = 1.0 if m.higher_is_better else -1.0
    drop = sign * (m.float32_value - m.value)
    recorded = golden.get("metric") or {}
    reference = None
    golden_values = (recorded.get("value"), golden.get("float32_value"))
    if recorded.get("name") == m.metric and None not in golden_values:
        reference = sign * (golden_values[1] - golden_values[0])
    failed = round_value(drop) > budget.max_accuracy_drop + 1e-12
    improvement = round_value(reference) - round_value(drop) if reference is not None else 0
    return Row(
        f"{m.metric or 'metric'} drop vs float32",
        reference,
        drop,
        None if reference is None else drop - reference,
        f"<= {_text(budget.max_accuracy_drop)}",
        _verdict(failed, reference, improvement),
    )


def _size_row(
    name: str, size: int, reference: int | None, limit: int | None, tolerance: float | None
) -> Row:
    rules: list[str] = []
    failed = False
    if _active(limit):
        rules.append(f"<= {limit}")
        failed |= size > limit
    if reference is not None and _active(tolerance):
        rules.append(f"<= golden + {_percent(tolerance)}")
        failed |= size > reference * (1 + tolerance) + 1e-9
    return Row(
        name,
        reference,
        size,
        None if reference is None else size - reference,
        ", ".join(rules),
        _verdict(failed, reference, reference - size if reference is not None else 0),
        unit="bytes",
    )


def _target_row(
    target: str, counts: tuple[int, int], recorded: Mapping[str, Any] | None, budget: Budget
) -> Row:
    on, total = counts
    reference = recorded.get("ops_on_target") if recorded else None
    rules: list[str] = []
    failed = False
    if _active(budget.min_on_target):
        rules.append(f">= {_percent(budget.min_on_target)} of ops")
        fraction = on / total if total else 1.0
        failed |= fraction < budget.min_on_target - 1e-12
    if reference is not None and _active(budget.golden_on_target_tolerance):
        tolerance = budget.golden_on_target_tolerance
        rules.append(f">= golden - {tolerance:g}" if tolerance else ">= golden")
        failed |= on < reference - tolerance
    golden_text = None if reference is None else f"{reference}/{recorded.get('ops_total', '?')}"
    return Row(
        f"ops on {target}",
        golden_text,
        f"{on}/{total}",
        None if reference is None else on - reference,
        ", ".join(rules),
        _verdict(failed, reference, on - reference if reference is not None else 0),
    )


def _verdict(failed: bool, reference: Any, improvement: float) -> str:
    """``improvement`` > 0 means better than the baseline, whatever the direction."""
    if failed:
        return FAIL
    if reference is None:
        return NEW
    return IMPROVED if improvement > 0 else PASS


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.6g}%"


def _delta_text(row: Row) -> str:
    if row.delta is None:
        return "-"
    text = f"{row.delta:+.6g}" if isinstance(row.delta, float) else f"{row.delta:+d}"
    if row.unit == "bytes" and isinstance(row.golden, (int, float)) and row.golden:
        text += f" ({row.delta / row.golden:+.2%})"
    return text
