"""Numbers for people: how the report's table shows sizes, metrics, deltas and times.

Formatting happens here and only here; the JSON report keeps every figure raw.
"""

from __future__ import annotations

import re

from ..gate.significance import signed  # one sign rule for the table and the gate's intervals
from .rows import ERROR, FAIL, SKIP, Row

MISSING = "—"
REASON_WIDTH = 80


def kilobytes(size: float | None) -> str:
    """421936 -> ``421.9 KB`` (1 KB = 1000 bytes, as budgets read ``KB``)."""
    return MISSING if size is None else f"{size / 1000:,.1f} KB"


def size_delta(delta: float | None, reference: float | None = None) -> str:
    """A size change: ``+48 B``, ``-6.5 KB``, with its share of ``reference`` when known."""
    if delta is None:
        return MISSING
    text = signed(delta / 1000, ",.1f") + " KB" if abs(delta) >= 1000 else signed(delta, ",.0f") + " B"
    if reference:
        text += f" ({signed(delta / reference * 100, '.1f')}%)"
    return text


def is_fraction(metric: str | None) -> bool:
    """Metrics shown as percentages (top-1 accuracy and its kin)."""
    return metric is not None and metric.endswith("accuracy")


def metric_text(value: float | None, metric: str | None) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:.2f}%" if is_fraction(metric) else f"{value:.4g}"


def metric_delta(delta: float | None, metric: str | None) -> str:
    """A metric change: accuracy in percentage points (``-0.44 pt``), others as numbers."""
    if delta is None:
        return MISSING
    return signed(delta * 100, ".2f") + " pt" if is_fraction(metric) else signed(delta, ".4g")


def percent(fraction: float | None) -> str:
    return MISSING if fraction is None else f"{fraction * 100:.1f}%"


def decibels(db: float | None) -> str:
    """Signal-to-noise ratio (300 dB: identical outputs)."""
    return MISSING if db is None else f"{db:.1f} dB"


def milliseconds(ms: float | None) -> str:
    """A latency to about three digits: ``12.3 ms``, ``1.00 ms``, ``821 µs`` below 1 ms."""
    if ms is None:
        return MISSING
    value, unit = (ms, "ms") if ms >= 1 else (ms * 1000, "µs")
    spec = ",.0f" if value >= 100 else ".1f" if value >= 10 else ".2f"
    return f"{format(value, spec)} {unit}"


def operators(on: int | None, total: int | None) -> str:
    return MISSING if on is None or total is None else f"{on}/{total}"


def verdict_text(row: Row) -> str:
    """``fail (size)``: the verdict, and the checks that did not pass."""
    return f"{row.verdict} ({', '.join(row.failed)})" if row.failed else row.verdict


def reason_text(row: Row, width: int | None = REASON_WIDTH) -> str:
    """Why a row failed or skipped: the first sentence, without the model and mode the
    row already names (the JSON report keeps the whole message)."""
    if not row.reason or row.verdict not in (FAIL, SKIP, ERROR):
        return ""
    text = re.sub(r"model '[^']*'(, mode '[^']*')?: ", "", row.reason)
    text = re.split(r"(?<=\.)\s+(?=[A-Z])", text, maxsplit=1)[0]
    return text if width is None or len(text) <= width else text[: width - 1] + "…"
