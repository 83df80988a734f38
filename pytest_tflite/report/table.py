"""The report's table: its columns, the terminal rendering and the totals line."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable, Sequence

from ..gate.figures import TARGET_FIGURES
from .format import (
    MISSING,
    REASON_WIDTH,
    decibels,
    kilobytes,
    metric_delta,
    metric_text,
    milliseconds,
    operators,
    percent,
    reason_text,
    size_delta,
    verdict_text,
)
from .rows import SKIP, VERDICTS, Row, difference, totals
from .summary import Summary


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]
    right: bool = False
    full_only: bool = False


def columns(rows: Sequence[Row], full: bool, reason_width: int | None = REASON_WIDTH) -> list[Column]:
    """The compact columns, or all of them (``full``)."""
    metric = _metric_column(rows)
    label = metric.header

    every = [
        Column("model", lambda r: r.model),
        Column("mode", lambda r: r.mode),
        Column("target", lambda r: r.target or "-"),
        Column("size", lambda r: kilobytes(r.value("size_bytes")), right=True),
        Column("Δ golden", _size_against_golden, right=True),
        Column("gzip", lambda r: kilobytes(r.value("gzip_size_bytes")), True, full_only=True),
        metric,
        Column("Δ float32", lambda r: _metric_against(r, "float32"), right=True),
        Column("Δ float32 CI", lambda r: _interval(r, "float32"), full_only=True),
        Column(f"{label} Δ golden", lambda r: _metric_against(r, "golden"), True, full_only=True),
        Column(f"{label} Δ golden CI", lambda r: _interval(r, "golden"), full_only=True),
        Column("agreement", lambda r: percent(r.value("fidelity_agreement")), True, full_only=True),
        Column("SQNR", lambda r: decibels(r.value("fidelity_sqnr_db")), True, full_only=True),
        Column("kernels", lambda r: r.value("kernels") or r.value("latency_kernels") or "-", full_only=True),
        Column("ops on target", _placement, right=True),
        Column("target figures", _target_figures, full_only=True),
        Column("latency median", _latency, right=True),
        Column("latency Δ saved run", _latency_change, full_only=True),
        Column("verdict", verdict_text),
        Column("why", lambda r: reason_text(r, reason_width), full_only=True),
    ]
    return [c for c in every if full or not c.full_only]


def _metric_column(rows: Sequence[Row]) -> Column:
    """Named after the rows' metric when they share one; else each cell names its own."""
    names = {row.metric for row in rows if row.metric}
    label = names.pop() if len(names) == 1 else "metric"

    def cell(row: Row) -> str:
        text = metric_text(row.metric_value(), row.metric)
        return text if label != "metric" or row.metric is None else f"{row.metric} {text}"

    return Column(label, cell, right=True)


def _latency(row: Row) -> str:
    return milliseconds(row.value("latency_median_ms"))


def _interval(row: Row, reference: str) -> str:
    """``-0.4 pt, 95 % CI -0.9 to +0.1``; why it is missing is in the failure message and the JSON."""
    found = row.interval(reference)
    if isinstance(found, str):
        return "not paired"
    return MISSING if found is None else found.text()


def _latency_change(row: Row) -> str:
    found = row.latency_change()
    return MISSING if found is None else found.text()


def _size_against_golden(row: Row) -> str:
    golden = row.value("golden_size_bytes")
    return size_delta(difference(row.value("size_bytes"), golden), golden)


def _metric_against(row: Row, reference: str) -> str:
    return metric_delta(difference(row.metric_value(), row.metric_value(reference)), row.metric)


def _target_figures(row: Row) -> str:
    """What the target's tool measured: ``arena 16.8 KB`` or ``SRAM 10.8 KB, 37,131 cycles``."""
    parts = []
    for figure in TARGET_FIGURES:
        value = row.target_value(figure.name)
        if value is None:
            continue
        if figure.unit == "bytes":
            parts.append(f"{figure.label} {kilobytes(value)}")
        elif figure.unit == "cycles":
            parts.append(f"{value:,} cycles")
        else:
            parts.append(f"{value:,.1f} µs")
    return ", ".join(parts) or "-"


def _placement(row: Row) -> str:
    return operators(row.target_value("ops_on_target"), row.target_value("ops_total"))


def table(
    rows: Sequence[Row], *, full: bool = False, fmt: str = "simple", reason_width: int | None = REASON_WIDTH
) -> str:
    """The rows as a tabulate table (``fmt`` "simple" for terminals, "pipe" for Markdown)."""
    return _render(rows, columns(rows, full, reason_width), fmt)


def terminal_table(rows: Sequence[Row]) -> str:
    """The table for a terminal of 100 columns: one block per model under its name, the
    model column left out, and its skipped combinations folded into one line (the other
    columns are in the report files and, with ``-v``, in the full table)."""
    chosen = terminal_columns(rows)
    blocks: list[str] = []
    for model in dict.fromkeys(row.model for row in rows):
        own = [row for row in rows if row.model == model]
        shown = [row for row in own if row.verdict != SKIP]
        lines = [model]
        if shown:
            lines += ["  " + line for line in _render(shown, chosen, NARROW).splitlines()]
        skipped = [row for row in own if row.verdict == SKIP]
        if skipped:
            lines += textwrap.wrap(skipped_text(skipped), TERMINAL_WIDTH, initial_indent="  ", subsequent_indent="    ")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def terminal_columns(rows: Sequence[Row]) -> list[Column]:
    """The compact columns without the model, with short headers and the size change in bytes."""
    return [
        Column("mode", lambda r: r.mode),
        Column("target", lambda r: r.target or "-"),
        Column("size", lambda r: kilobytes(r.value("size_bytes")), right=True),
        Column("Δ size", lambda r: size_delta(difference(r.value("size_bytes"), r.value("golden_size_bytes"))), True),
        _metric_column(rows),
        Column("Δ f32", lambda r: _metric_against(r, "float32"), right=True),
        Column("ops", _placement, right=True),
        Column("latency", _latency, right=True),
        Column("verdict", lambda r: r.verdict),  # which checks failed, pytest's summary lists
    ]


def skipped_text(rows: Sequence[Row]) -> str:
    """``skipped 6: edgetpu (float32, float16), tflm (dynamic_int8)``: which target never
    runs which mode."""
    by_target: dict[str, list[str]] = {}
    for row in rows:
        by_target.setdefault(row.target or "-", []).append(row.mode)
    parts = [f"{target} ({', '.join(modes)})" for target, modes in by_target.items()]
    return f"skipped {len(rows)}: " + "; ".join(parts)


TERMINAL_WIDTH = 98
"""What a terminal line of the table may take (a 100-column terminal, with a margin)."""


NARROW = "narrow"
"""The terminal's format: one space between columns and no extra room for the headers."""


def _render(rows: Sequence[Row], chosen: Sequence[Column], fmt: str) -> str:
    """The rows in tabulate's ``fmt`` ("pipe" escapes the cells' pipes), or :data:`NARROW`."""
    import tabulate as tabulate_module
    from tabulate import DataRow, Line, TableFormat, tabulate

    cells = [[column.cell(row) for column in chosen] for row in rows]
    if fmt == "pipe":
        cells = [[cell.replace("|", "\\|") for cell in line] for line in cells]
    tablefmt: str | TableFormat = fmt
    padding = tabulate_module.MIN_PADDING
    if fmt == NARROW:
        tablefmt = TableFormat(
            lineabove=None, linebelowheader=Line("", "-", " ", ""), linebetweenrows=None, linebelow=None,
            headerrow=DataRow("", " ", ""), datarow=DataRow("", " ", ""), padding=0, with_header_hide=None,
        )
        tabulate_module.MIN_PADDING = 0
    try:
        text: str = tabulate(
            cells,
            headers=[column.header for column in chosen],
            tablefmt=tablefmt,
            colalign=["right" if column.right else "left" for column in chosen],
            disable_numparse=True,
        )
    finally:
        tabulate_module.MIN_PADDING = padding
    return text


def totals_text(summary: Summary) -> str:
    """``4 rows: 3 pass, 1 fail; 10 checks``."""
    counts = totals(summary.rows)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return f"{counts['rows']} rows: {', '.join(parts) or 'none'}; {len(summary.checks)} checks"


def versions_text(summary: Summary) -> str:
    return ", ".join(f"{name} {version}" for name, version in summary.versions.items())
