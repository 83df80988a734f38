"""The report as files: Markdown for ``$GITHUB_STEP_SUMMARY``, JSON with every raw figure
for tools, and a self-contained HTML page with plots."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..atomicfile import write_atomic
from .format import REASON_WIDTH
from .rows import Row, totals
from .summary import Summary
from .table import columns, table, totals_text, versions_text

REPORT_SCHEMA_VERSION = 1
"""The JSON report's format; raised when a field changes meaning or goes."""


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
        "schema_version": REPORT_SCHEMA_VERSION,
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
        *_html_drill_downs(summary.rows),
    ]
    for heading, drawings, empty in sections(summary.rows):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts += [f"<figure>{svg}</figure>" for svg in drawings] or [f"<p>{html.escape(empty)}</p>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(rows: Sequence[Row]) -> str:
    """Every column; a reason is cut to its first sentence's start, as in a terminal (a
    skip names every mode that would fit, which would fill the page; the JSON keeps it)."""
    chosen = columns(rows, full=True, reason_width=REASON_WIDTH)
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in chosen)
    body = []
    for row in rows:
        cells = "".join(_html_cell(c.cell(row), c.right) for c in chosen)
        body.append(f'<tr class="{html.escape(row.verdict)}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


DRILL_DOWN_COLUMNS = (
    ("#", "op_index", "{}"), ("operator", "op_name", "{}"), ("layer", "tensor", "{}"), ("type", "dtype", "{}"),
    ("SQNR dB", "sqnr_db", "{:.1f}"), ("added dB", "added_sqnr_db", "{:.1f}"), ("RMSE", "rmse", "{:.4g}"),
    ("cosine", "cosine", "{:.4f}"), ("clip", "clipped", "{:.1%}"),
)
"""The per-layer table's columns: header, field of a layer's record, format."""


def _html_drill_downs(rows: Sequence[Row]) -> list[str]:
    """Every layer of each measured (model, mode): the failure message shows five."""
    parts: list[str] = []
    seen: set[tuple[str, str]] = set()
    for row in rows:
        found = row.value("drill_down")
        if not isinstance(found, dict) or (row.model, row.mode) in seen:
            continue
        seen.add((row.model, row.mode))
        if not parts:
            parts.append("<h2>Quantization error per layer</h2>")
        samples = found.get("samples")
        parts.append(f"<h3>{html.escape(row.model)}, {html.escape(row.mode)}: against "
                     f"{html.escape(str(found.get('reference_mode')))} on {samples} samples</h3>")
        fix = row.value("drill_down_fix_text")
        if fix:
            parts.append(f"<p>Fix to try: {html.escape(str(fix))}</p>")
        head = "".join(f"<th>{html.escape(header)}</th>" for header, _, _ in DRILL_DOWN_COLUMNS)
        body = "".join(
            "<tr>" + "".join(
                _html_cell(_layer_cell(layer.get(field), form), field not in ("op_name", "tensor", "dtype"))
                for _, field, form in DRILL_DOWN_COLUMNS
            ) + "</tr>"
            for layer in found.get("layers") or []
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    return parts


def _layer_cell(value: Any, form: str) -> str:
    if value is None:
        return "-"
    try:
        return form.format(value)
    except (ValueError, TypeError):
        return str(value)


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
