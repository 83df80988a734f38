"""The plots of the HTML session report, drawn with matplotlib as inline SVG.

Each figure is its own ``matplotlib.figure.Figure`` on an Agg canvas: no pyplot, so no
global figure state is touched and nothing leaks between figures or into the user's
tests. matplotlib is imported only here, and only when an HTML report is written.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .results import Row

FIGSIZE = (6.4, 3.6)
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf")
"""matplotlib's tab10 without its grey, which stands for "all operators"."""
Section = tuple[str, list[str], str]
"""A heading, its SVG drawings, and the sentence that stands in when there are none."""


def sections(rows: Sequence[Row]) -> list[Section]:
    """Size against the metric per model, latency per model, operators on target per target."""
    return [
        ("Size and accuracy", size_against_metric(rows), "No model was both sized and evaluated."),
        ("Latency", latency(rows), "No latency was measured in this run."),
        ("Operators on target", placement(rows), "No operator placement was checked in this run."),
    ]


def size_against_metric(rows: Sequence[Row]) -> list[str]:
    """One scatter per model: size (KB) against its metric, a point per mode."""
    drawings = []
    for model, mode_rows in _by_model(rows).items():
        found = [(r.mode, r.value("size_bytes"), r.metric_value()) for r in mode_rows]
        points = [(mode, size / 1000, value) for mode, size, value in found if None not in (size, value)]
        if points:
            metric = mode_rows[0].metric or "metric"
            drawings.append(_svg(functools.partial(_scatter, model, metric, points), len(drawings)))
    return drawings


def latency(rows: Sequence[Row]) -> list[str]:
    """One bar chart per model: median latency per mode (error bars: standard deviation)."""
    drawings = []
    for model, mode_rows in _by_model(rows).items():
        found = [(r.mode, r.value("latency_median_ms"), r.value("latency_stddev_ms")) for r in mode_rows]
        bars = [(mode, median, spread or 0.0) for mode, median, spread in found if median is not None]
        if bars:
            drawings.append(_svg(functools.partial(_latency_bars, model, bars), 100 + len(drawings)))
    return drawings


def placement(rows: Sequence[Row]) -> list[str]:
    """One grouped bar chart per target: operators on it per model, a bar per mode."""
    drawings = []
    for target in dict.fromkeys(r.target for r in rows if r.target is not None):
        counts = [
            (r.model, r.mode, r.target_value("ops_on_target"), r.target_value("ops_total"))
            for r in rows
            if r.target == target and r.target_value("ops_total") is not None
        ]
        if counts:
            drawings.append(_svg(functools.partial(_placement_bars, target, counts), 200 + len(drawings)))
    return drawings


def _scatter(model: str, metric: str, points: list[tuple[str, float, float]], figure: Any) -> None:
    axes = figure.add_subplot()
    axes.scatter([p[1] for p in points], [p[2] for p in points], color=COLORS[0], zorder=3)
    for label, size, value in _labels(points):
        axes.annotate(label, (size, value), textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set(title=model, xlabel="size (KB)", ylabel=metric)
    axes.grid(alpha=0.3)
    axes.margins(0.15)


def _labels(points: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """One label per spot: modes within 2 % of the plot's spans of each other share it
    (int8 and full_int8 often land on the same point)."""
    spans = [max(p[i] for p in points) - min(p[i] for p in points) or 1.0 for i in (1, 2)]
    spots: list[tuple[list[str], float, float]] = []
    for mode, x, y in points:
        near = [s for s in spots if abs(s[1] - x) <= 0.02 * spans[0] and abs(s[2] - y) <= 0.02 * spans[1]]
        if near:
            near[0][0].append(mode)
        else:
            spots.append(([mode], x, y))
    return [(", ".join(modes), x, y) for modes, x, y in spots]


def _latency_bars(model: str, bars: list[tuple[str, float, float]], figure: Any) -> None:
    axes = figure.add_subplot()
    modes, medians, spreads = zip(*bars)
    axes.barh(modes, medians, xerr=spreads, color=COLORS[1], capsize=3)
    axes.invert_yaxis()
    axes.set(title=model, xlabel="median latency (ms)")
    axes.grid(axis="x", alpha=0.3)


def _placement_bars(target: str, counts: list[tuple[str, str, int, int]], figure: Any) -> None:
    """Filled: operators on the target; outlined behind: all operators of the model."""
    axes = figure.add_subplot()
    models = list(dict.fromkeys(c[0] for c in counts))
    modes = list(dict.fromkeys(c[1] for c in counts))
    width = 0.8 / len(modes)
    for i, mode in enumerate(modes):
        found = {c[0]: c for c in counts if c[1] == mode}
        offset = (i - (len(modes) - 1) / 2) * width
        xs = [m + offset for m, name in enumerate(models) if name in found]
        chosen = [found[name] for name in models if name in found]
        axes.bar(xs, [c[3] for c in chosen], width, fill=False, edgecolor="#bbbbbb")
        axes.bar(xs, [c[2] for c in chosen], width, label=mode, color=COLORS[i % len(COLORS)])
    axes.set_xticks(range(len(models)), models)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.set(title=f"operators on {target} (outline: all operators)", ylabel="operators")
    figure.legend(loc="outside right upper", fontsize=7)


def _by_model(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Each model's rows, one per mode (mode figures repeat on every target's row)."""
    found: dict[str, dict[str, Row]] = {}
    for row in rows:
        found.setdefault(row.model, {}).setdefault(row.mode, row)
    return {model: list(modes.values()) for model, modes in found.items()}


def _svg(draw: Callable[[Any], None], index: int) -> str:
    """The figure ``draw`` fills, as an SVG element to inline in HTML: no XML prolog, no
    namespace URLs (HTML knows SVG), ids unique to this figure."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    settings = {"svg.fonttype": "none", "svg.hashsalt": f"pytest-tflite-{index}"}
    with matplotlib.rc_context(settings):
        figure = Figure(figsize=FIGSIZE, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    head, rest = text.split(">", 1)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", head) + ">" + rest
