"""The session report: the table at the end of a run, and the same figures as files.

Rows come from :mod:`pytest_tflite.report.rows`. The terminal shows a compact table (a full
one with ``-v``); ``--tflite-report`` writes Markdown (for ``$GITHUB_STEP_SUMMARY``), JSON
(every raw figure, for tools) or a self-contained HTML page with plots. Numbers are
formatted for people here and only here; the JSON keeps them raw.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import json
import math
import platform
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..atomicfile import write_atomic
from .rows import ERROR, FAIL, SKIP, VERDICTS, CheckResult, Row, difference, totals

SCHEMA_VERSION = 1
MISSING = "—"
REASON_WIDTH = 80


@dataclasses.dataclass(frozen=True)
class Summary:
    """What a report shows: the rows, every check, and the run they came from."""

    rows: Sequence[Row]
    checks: Sequence[CheckResult] = ()
    modes: Sequence[str] = ()
    targets: Sequence[str] = ()
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    created: str = ""


def run_versions() -> dict[str, str]:
    """The tools a run's figures depend on: those baselines record, Python and pytest."""
    from ..conversion.cache import package_version
    from ..gate.golden import current_versions

    return {**current_versions(), "python": platform.python_version(), "pytest": package_version("pytest")}


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --- numbers for people -----------------------------------------------------------------


def signed(value: float, spec: str) -> str:
    """``value`` with its sign; ``±`` when it rounds to zero."""
    text = format(abs(value), spec)
    if not any(ch in "123456789" for ch in text):
        return "±" + text
    return ("+" if value > 0 else "-") + text


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
    return bool(metric) and metric.endswith("accuracy")


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


# --- the table ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]
    right: bool = False
    full_only: bool = False


def columns(rows: Sequence[Row], full: bool, reason_width: int | None = REASON_WIDTH) -> list[Column]:
    """The compact columns, or all of them (``full``)."""
    names = {row.metric for row in rows if row.metric}
    label = names.pop() if len(names) == 1 else "metric"

    def metric_cell(row: Row) -> str:
        text = metric_text(row.metric_value(), row.metric)
        return text if label != "metric" or row.metric is None else f"{row.metric} {text}"

    every = [
        Column("model", lambda r: r.model),
        Column("mode", lambda r: r.mode),
        Column("target", lambda r: r.target or "-"),
        Column("size", lambda r: kilobytes(r.value("size_bytes")), right=True),
        Column("Δ golden", _size_against_golden, right=True),
        Column("gzip", lambda r: kilobytes(r.value("gzip_size_bytes")), True, full_only=True),
        Column(label, metric_cell, right=True),
        Column("Δ float32", lambda r: _metric_against(r, "float32"), right=True),
        Column(f"{label} Δ golden", lambda r: _metric_against(r, "golden"), True, full_only=True),
        Column("agreement", lambda r: percent(r.value("fidelity_agreement")), True, full_only=True),
        Column("SQNR", lambda r: decibels(r.value("fidelity_sqnr_db")), True, full_only=True),
        Column("ops on target", _placement, right=True),
        Column("latency median", lambda r: milliseconds(r.value("latency_median_ms")), right=True),
        Column("verdict", verdict_text),
        Column("why", lambda r: reason_text(r, reason_width), full_only=True),
    ]
    return [c for c in every if full or not c.full_only]


def _size_against_golden(row: Row) -> str:
    golden = row.value("golden_size_bytes")
    return size_delta(difference(row.value("size_bytes"), golden), golden)


def _metric_against(row: Row, reference: str) -> str:
    return metric_delta(difference(row.metric_value(), row.metric_value(reference)), row.metric)


def _placement(row: Row) -> str:
    return operators(row.target_value("ops_on_target"), row.target_value("ops_total"))


def table(
    rows: Sequence[Row], *, full: bool = False, fmt: str = "simple", reason_width: int | None = REASON_WIDTH
) -> str:
    """The rows as a tabulate table (``fmt`` "simple" for terminals, "pipe" for Markdown)."""
    from tabulate import tabulate

    chosen = columns(rows, full, reason_width)
    cells = [[column.cell(row) for column in chosen] for row in rows]
    if fmt == "pipe":
        cells = [[cell.replace("|", "\\|") for cell in line] for line in cells]
    return tabulate(
        cells,
        headers=[column.header for column in chosen],
        tablefmt=fmt,
        colalign=["right" if column.right else "left" for column in chosen],
        disable_numparse=True,
    )


def totals_text(summary: Summary) -> str:
    """``4 rows: 3 pass, 1 fail; 10 checks``."""
    counts = totals(summary.rows)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return f"{counts['rows']} rows: {', '.join(parts) or 'none'}; {len(summary.checks)} checks"


def versions_text(summary: Summary) -> str:
    return ", ".join(f"{name} {version}" for name, version in summary.versions.items())


# --- the files ---------------------------------------------------------------------------


def to_markdown(summary: Summary) -> str:
    """GitHub Markdown: a heading, the versions, the full table, the totals."""
    lines = ["## pytest-tflite report", "", f"Versions: {versions_text(summary)}.", ""]
    if summary.rows:
        lines += [table(summary.rows, full=True, fmt="pipe", reason_width=None), ""]
    else:
        lines += ["No checks of declared models ran.", ""]
    lines.append(f"**Totals:** {totals_text(summary)}.")
    return "\n".join(lines) + "\n"


def to_dict(summary: Summary) -> dict[str, Any]:
    """Every measurement, raw: rows with their values and properties, and every check."""
    return {
        "schema_version": SCHEMA_VERSION,
        "created": summary.created,
        "versions": dict(summary.versions),
        "selection": {"modes": list(summary.modes), "targets": list(summary.targets)},
        "totals": {**totals(summary.rows), "checks": len(summary.checks)},
        "rows": [row.to_dict() for row in summary.rows],
        "checks": [check.to_dict() for check in summary.checks],
    }


def to_json(summary: Summary) -> str:
    return json.dumps(_plain(to_dict(summary)), indent=2, allow_nan=False) + "\n"


def _plain(value: Any) -> Any:
    """JSON types only: non-finite floats become None, unknown objects their text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f4f4f4; }
td.right { text-align: right; font-variant-numeric: tabular-nums; }
tr.fail td, tr.error td { background: #fde8e8; }
tr.skip td { color: #777; }
figure { display: inline-block; margin: 0.5em; }
svg { max-width: 100%; height: auto; }
"""


def to_html(summary: Summary) -> str:
    """A self-contained page: styles inline, plots as inline SVG, no outside resource."""
    from .plots import sections

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>pytest-tflite report</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>pytest-tflite report</h1>",
        f"<p>Created {html.escape(summary.created)}. Versions: {html.escape(versions_text(summary))}.</p>",
        f"<p><strong>Totals:</strong> {html.escape(totals_text(summary))}.</p>",
        _html_table(summary.rows) if summary.rows else "<p>No checks of declared models ran.</p>",
    ]
    for heading, drawings, empty in sections(summary.rows):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts += [f"<figure>{svg}</figure>" for svg in drawings] or [f"<p>{html.escape(empty)}</p>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(rows: Sequence[Row]) -> str:
    chosen = columns(rows, full=True, reason_width=None)
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in chosen)
    body = []
    for row in rows:
        cells = "".join(_html_cell(c.cell(row), c.right) for c in chosen)
        body.append(f'<tr class="{html.escape(row.verdict)}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_cell(text: str, right: bool) -> str:
    attribute = ' class="right"' if right else ""
    return f"<td{attribute}>{html.escape(text)}</td>"


FORMATS: dict[str, Callable[[Summary], str]] = {".md": to_markdown, ".json": to_json, ".html": to_html}
"""Report file suffix -> what writes it."""


def report_path_problem(path: Path) -> str | None:
    """Why ``path`` cannot take a report, or None: checked before any model converts."""
    if path.suffix.lower() not in FORMATS:
        found = f"the suffix {path.suffix!r}" if path.suffix else "no suffix"
        return f"a report file ends in {', '.join(FORMATS)}, not {found}"
    if path.is_dir():
        return "this is a folder; name a file in it"
    if not path.parent.is_dir():
        return f"the folder {path.parent} does not exist; create it first"
    return None


def write_report(summary: Summary, path: Path) -> None:
    """Write the report its suffix names, atomically."""
    write_atomic(path, FORMATS[path.suffix.lower()](summary).encode("utf-8"))
