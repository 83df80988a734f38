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
from .figures import TARGET_FIGURES

DEFAULT_SCOPE = "*"


@dataclasses.dataclass(frozen=True)
class Budget:
    """Thresholds for one model and mode; None leaves a quantity unchecked.

    ``min_accuracy`` is the worst acceptable metric value: a floor when higher is
    better, a ceiling when lower is better (a loss). ``max_accuracy_drop`` and
    ``golden_accuracy_tolerance`` are in metric units (0.02 = 2 accuracy points);
    ``golden_*size_tolerance`` are relative growth (0.01 = 1 %); ``min_on_target`` is
    a fraction of operators; ``golden_on_target_tolerance`` a count of operators. The
    target figures (:data:`~pytest_tflite.gate.figures.TARGET_FIGURES`: tensor arena,
    SRAM, flash, DRAM, NPU cycles, estimated time) each have a ``max_*`` bound and a
    relative ``golden_*_tolerance``, like sizes.

    ``significance`` (such as 0.05) makes the two accuracy change thresholds statistical:
    a change then fails only when the whole ``1 - significance`` confidence interval of it
    (paired over the evaluation samples, see :mod:`~pytest_tflite.gate.significance`) lies
    beyond ``max_accuracy_drop`` or ``golden_accuracy_tolerance``, so a few predictions that
    flip do not fail while a real loss does. Without per-sample scores to pair (a metric
    without them, a baseline recorded before they were kept) the thresholds apply as given.
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
    max_arena_bytes: int | None = None
    golden_arena_tolerance: float | None = None
    max_sram_bytes: int | None = None
    golden_sram_tolerance: float | None = None
    max_flash_bytes: int | None = None
    golden_flash_tolerance: float | None = None
    max_dram_bytes: int | None = None
    golden_dram_tolerance: float | None = None
    max_cycles: int | None = None
    golden_cycles_tolerance: float | None = None
    max_inference_us: float | None = None
    golden_inference_tolerance: float | None = None
    significance: float | None = None

    def __post_init__(self) -> None:
        value = self.significance
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if value is not None and not (number and (0 < value < 1 or value == math.inf)):
            raise BudgetError(
                f"significance is a probability between 0 and 1, not {self.significance!r}",
                hint="Write Budget(significance=0.05) for a 95 % confidence interval",
            )

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
    golden_arena_tolerance=0.01,
    golden_sram_tolerance=0.01,
    golden_flash_tolerance=0.01,
    golden_dram_tolerance=0.01,
    golden_cycles_tolerance=0.01,
    golden_inference_tolerance=0.01,
)
"""What applies when nothing is configured: no absolute bound, but a golden baseline may
not lose more than half an accuracy point, grow more than 1 % (raw or gzipped), lose any
operator from the target, or need 1 % more arena, memory, cycles or time on a target."""

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
    **{figure.limit: "bytes" if figure.unit == "bytes" else "count" if figure.whole else "amount"
       for figure in TARGET_FIGURES},
    **{figure.tolerance: "fraction" for figure in TARGET_FIGURES},
    "significance": "probability",
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
    outside = (key == "min_on_target" and value > 1) or (kind == "probability" and not 0 < value < 1)
    if not math.isfinite(value) or negative or outside:
        raise _line_error(line, f"{key} = {text!r} is out of range", allowed)
    return value


_ALLOWED = {
    "bytes": "a byte count (an integer, optionally with B, KB, KiB, MB or MiB)",
    "fraction": "a fraction such as 0.01 or a percentage such as 1%",
    "metric": "a number in the metric's units, such as 0.02 (not negative, but for min_accuracy)",
    "count": "a whole number (of operators, or of cycles)",
    "amount": "a positive number in the figure's units (microseconds)",
    "probability": "a probability between 0 and 1 such as 0.05 or 5%",
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
    if kind in ("fraction", "probability") and text.endswith("%"):
        return float(text[:-1]) / 100
    return float(text)


def _line_error(line: str, problem: str, hint: str) -> BudgetError:
    return BudgetError(f"in the budget line {line!r}, {problem}", hint=hint)
