"""Judging a measurement: each figure against its budget and its golden baseline.

A figure is within its budget, over it, improved on its baseline (better, never a
failure), or new (no baseline to compare with yet). A metric with per-sample scores gets a
paired confidence interval of its change against the float32 conversion and the baseline,
which a budget's ``significance`` judges instead of the change alone.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard, TypeVar

from .budget import Budget
from .figures import TARGET_FIGURES
from .golden import UPDATE_OPTION, recorded_scores, round_value
from .measurement import Measurement
from .significance import CONFIDENCE, Change, is_binary, paired_change

WITHIN_BUDGET, OVER_BUDGET, IMPROVED, NEW = "pass", "fail", "improved", "new"
Bound = TypeVar("Bound", int, float)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One figure against its budget and its baseline: a line of the table a failed check
    shows; ``unit`` is "bytes" for sizes."""

    metric: str
    golden: float | int | str | None
    measured: float | int | str | None
    delta: float | int | None
    budget_text: str
    verdict: str
    unit: str = ""
    target: str | None = None
    """The target a placement or target-figure row is about (None for the model's own)."""
    interval: Change | None = None
    """The paired interval of a metric's change against the row's reference."""
    note: str | None = None
    """Why a metric row has no interval, when it matters."""


def judge(measurement: Measurement, budget: Budget, golden: Mapping[str, Any] | None) -> list[Comparison]:
    """Rows comparing the measurement with the budget and the golden baseline (if any)."""
    golden = golden or {}
    rows: list[Comparison] = []
    if measurement.value is not None:
        intervals = paired(measurement, golden, _confidence(budget))
        rows.append(_metric_row(measurement, budget, golden, intervals))
        if _active(budget.max_accuracy_drop) and measurement.float32_value is not None:
            rows.append(_drop_row(measurement, budget, golden, intervals))
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
        recorded = targets.get(target) or {}
        rows.append(_target_row(target, measurement.on_target[target], recorded, budget))
        rows += _figure_rows(target, measurement.target_figures.get(target) or {}, recorded, budget)
    return rows


def _figure_rows(
    target: str, measured: Mapping[str, float | int], recorded: Mapping[str, Any], budget: Budget
) -> list[Comparison]:
    """One row per figure the target measured: lower is better, like a size."""
    rows = []
    for figure in TARGET_FIGURES:
        if figure.name not in measured:
            continue
        row = _size_row(
            f"{figure.name} on {target}",
            measured[figure.name],
            recorded.get(figure.name),
            getattr(budget, figure.limit),
            getattr(budget, figure.tolerance),
        )
        rows.append(dataclasses.replace(row, unit=figure.unit, target=target))
    return rows


FLOAT32, GOLDEN = "float32", "golden"


def paired(
    m: Measurement, golden: Mapping[str, Any] | None, confidence: float = CONFIDENCE
) -> dict[str, Change | str]:
    """The paired intervals of the metric's change against the float32 conversion and the
    golden baseline, or why one cannot be paired; a reference the metric is not compared
    with, or a metric without per-sample scores, is left out."""
    found: dict[str, Change | str] = {}
    if m.per_sample is None or m.value is None:
        return found
    if m.float32_per_sample is not None:
        found[FLOAT32] = _change(m, m.float32_per_sample, m.float32_labels_digest, confidence, "the float32 conversion")
    recorded: Mapping[str, Any] = (golden or {}).get("metric") or {}
    if recorded.get("name") == m.metric and recorded.get("value") is not None:
        found[GOLDEN] = _golden_change(m, recorded, confidence)
    return found


def _golden_change(m: Measurement, recorded: Mapping[str, Any], confidence: float) -> Change | str:
    if m.per_sample is None or not is_binary(m.per_sample):
        return "no paired interval: baselines keep per-sample scores only when they are 0/1"
    kept = recorded_scores(recorded)
    if kept is None:
        return f"no paired interval: the baseline has no per-sample scores ({UPDATE_OPTION} records them)"
    return _change(m, kept, recorded.get("labels_digest"), confidence, "the baseline")


def _change(
    m: Measurement, reference: tuple[float, ...], reference_labels: str | None, confidence: float, what: str
) -> Change | str:
    scores = m.per_sample or ()
    if len(scores) != len(reference):
        return (
            f"no paired interval: {what} scored {len(reference)} samples, this run {len(scores)} "
            f"(the evaluation data changed; {UPDATE_OPTION} records the new ones)"
        )
    if reference_labels is not None and m.labels_digest is not None and reference_labels != m.labels_digest:
        return (
            f"no paired interval: {what} scored other samples or the same in another order (the labels "
            "differ); pairing needs the evaluation data in a fixed order, not shuffled"
        )
    return paired_change(scores, reference, confidence=confidence, higher_is_better=m.higher_is_better)


def failures(rows: Iterable[Comparison]) -> list[Comparison]:
    return [row for row in rows if row.verdict == OVER_BUDGET]


def format_comparisons(rows: Iterable[Comparison]) -> str:
    """The rows as a table: metric, golden, measured, delta, budget, verdict."""
    from tabulate import tabulate

    rows = list(rows)
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
    if any(row.interval or row.note for row in rows):
        headers.append("paired change")
        for line, row in zip(table, rows):
            line.append(row.interval.text(p_value=True) if row.interval else row.note or "-")
    text: str = tabulate(table, headers=headers, disable_numparse=True)
    return text


def _active(bound: Bound | None) -> TypeGuard[Bound]:
    """A bound that is set and finite (infinity switches a default bound off)."""
    return bound is not None and math.isfinite(bound)


def _metric_row(
    m: Measurement, budget: Budget, golden: Mapping[str, Any], intervals: Mapping[str, Change | str]
) -> Comparison:
    value = m.value
    assert value is not None
    sign = 1.0 if m.higher_is_better else -1.0
    word = ">=" if m.higher_is_better else "<="
    rules: list[str] = []
    failed = False
    if _active(budget.min_accuracy):
        rules.append(f"{word} {_text(budget.min_accuracy)}")
        failed |= sign * (value - budget.min_accuracy) < 0
    recorded: Mapping[str, Any] = golden.get("metric") or {}
    reference = recorded.get("value") if recorded.get("name") == m.metric else None
    gain = 0.0  # how much better than the baseline, at the precision it is stored with
    interval, note = _interval(m, budget, intervals.get(GOLDEN))
    if reference is not None:
        gain = sign * (round_value(value) - round_value(reference))
        tolerance = budget.golden_accuracy_tolerance
        if _active(tolerance):
            slack = f"{'-' if sign > 0 else '+'} {_text(tolerance)}"
            rules.append(f"{word} golden {slack}{_confidence_text(budget, interval)}")
            failed |= _worse_than(gain, interval, m.higher_is_better, budget, tolerance)
    return Comparison(
        m.metric or "metric",
        reference,
        value,
        None if reference is None else value - reference,
        ", ".join(rules),
        _judgement(failed, reference, gain),
        interval=interval,
        note=note if reference is not None else None,
    )


def _interval(m: Measurement, budget: Budget, found: Change | str | None) -> tuple[Change | None, str | None]:
    """A row's paired interval, or why it has none: said always when a baseline could be
    paired, and when a significance budget falls back to the change alone."""
    if isinstance(found, Change):
        return found, None
    if found is None and _active(budget.significance):
        found = "no paired interval: " + (
            f"the metric {m.metric!r} gives no per-sample scores (Metric(per_sample=...))"
            if m.per_sample is None
            else "the float32 conversion's per-sample scores are not known"
        )
    return None, found


def _confidence(budget: Budget) -> float:
    return 1 - budget.significance if _active(budget.significance) else CONFIDENCE


def _confidence_text(budget: Budget, interval: Change | None) -> str:
    """What a significance budget adds to a rule it judges by the interval."""
    return f" at {interval.confidence * 100:g} % confidence" if interval and _active(budget.significance) else ""


def _worse_than(gain: float, interval: Change | None, higher_is_better: bool, budget: Budget, allowed: float) -> bool:
    """Whether the change lost more than ``allowed``: the whole interval of it, under a
    significance budget with an interval to judge; the change itself otherwise."""
    if interval is not None and _active(budget.significance):
        gain = interval.gain(higher_is_better)[1]
    return gain < -allowed - 1e-12


def _drop_row(
    m: Measurement, budget: Budget, golden: Mapping[str, Any], intervals: Mapping[str, Change | str]
) -> Comparison:
    """How much worse than the float32 conversion, now and in the baseline."""
    value, float32_value, limit = m.value, m.float32_value, budget.max_accuracy_drop
    assert value is not None and float32_value is not None and limit is not None
    sign = 1.0 if m.higher_is_better else -1.0
    drop = sign * (float32_value - value)
    recorded: Mapping[str, Any] = golden.get("metric") or {}
    reference: float | None = None
    golden_value, golden_float32 = recorded.get("value"), golden.get("float32_value")
    if recorded.get("name") == m.metric and golden_value is not None and golden_float32 is not None:
        reference = sign * (golden_float32 - golden_value)
    interval, note = _interval(m, budget, intervals.get(FLOAT32))
    failed = _worse_than(-round_value(drop), interval, m.higher_is_better, budget, limit)
    improvement = round_value(reference) - round_value(drop) if reference is not None else 0
    return Comparison(
        f"{m.metric or 'metric'} drop vs float32",
        reference,
        drop,
        None if reference is None else drop - reference,
        f"<= {_text(limit)}{_confidence_text(budget, interval)}",
        _judgement(failed, reference, improvement),
        interval=interval,
        note=note,
    )


def _size_row(
    name: str,
    size: float | int,
    reference: float | int | None,
    limit: float | int | None,
    tolerance: float | None,
) -> Comparison:
    rules: list[str] = []
    failed = False
    if _active(limit):
        rules.append(f"<= {limit}")
        failed |= size > limit
    if reference is not None and _active(tolerance):
        rules.append(f"<= golden + {_percent(tolerance)}")
        failed |= size > reference * (1 + tolerance) + 1e-9
    return Comparison(
        name,
        reference,
        size,
        None if reference is None else size - reference,
        ", ".join(rules),
        _judgement(failed, reference, reference - size if reference is not None else 0),
        unit="bytes",
    )


def _target_row(
    target: str, counts: tuple[int, int], recorded: Mapping[str, Any] | None, budget: Budget
) -> Comparison:
    on, total = counts
    recorded = recorded or {}
    reference = recorded.get("ops_on_target")
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
    return Comparison(
        f"ops on {target}",
        golden_text,
        f"{on}/{total}",
        None if reference is None else on - reference,
        ", ".join(rules),
        _judgement(failed, reference, on - reference if reference is not None else 0),
        target=target,
    )


def _judgement(failed: bool, reference: object, improvement: float) -> str:
    """``improvement`` > 0 means better than the baseline, whatever the direction."""
    if failed:
        return OVER_BUDGET
    if reference is None:
        return NEW
    return IMPROVED if improvement > 0 else WITHIN_BUDGET


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.6g}%"


def _delta_text(row: Comparison) -> str:
    if row.delta is None:
        return "-"
    text = f"{row.delta:+.6g}" if isinstance(row.delta, float) else f"{row.delta:+d}"
    if row.unit in ("bytes", "cycles", "us") and isinstance(row.golden, (int, float)) and row.golden:
        text += f" ({row.delta / row.golden:+.2%})"
    return text
