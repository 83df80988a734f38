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
from typing import TYPE_CHECKING

from .format import is_fraction, milliseconds
from .rows import Row

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FIGSIZE = (6.4, 3.6)
LABEL_SIZE = 8
"""Font size (points) of the labels written next to points and bars."""
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
    drawings: list[str] = []
    for model, mode_rows in _by_model(rows).items():
        found = [(r.mode, r.value("size_bytes"), r.metric_value()) for r in mode_rows]
        points = [(mode, size / 1000, value) for mode, size, value in found if size is not None and value is not None]
        if points:
            metric = mode_rows[0].metric or "metric"
            drawings.append(_svg(functools.partial(_scatter, model, metric, points), len(drawings)))
    return drawings


def latency(rows: Sequence[Row]) -> list[str]:
    """One bar chart per model: median latency per mode, each bar labelled with its value.

    No error bars: pytest-benchmark's standard deviation is ruled by a few slow outliers
    (often larger than the median), so bars of it would only hide the medians."""
    drawings: list[str] = []
    for model, mode_rows in _by_model(rows).items():
        bars = [(r.mode, r.value("latency_median_ms")) for r in mode_rows if r.value("latency_median_ms") is not None]
        if bars:
            drawings.append(_svg(functools.partial(_latency_bars, model, bars), 100 + len(drawings)))
    return drawings


def placement(rows: Sequence[Row]) -> list[str]:
    """One grouped bar chart per target: operators on it per model, a bar per mode (a
    mode has the same colour in every chart)."""
    colors = {mode: COLORS[i % len(COLORS)] for i, mode in enumerate(dict.fromkeys(r.mode for r in rows))}
    drawings: list[str] = []
    for target in dict.fromkeys(r.target for r in rows if r.target is not None):
        counts = [
            (r.model, r.mode, r.target_value("ops_on_target"), r.target_value("ops_total"))
            for r in rows
            if r.target == target and r.target_value("ops_total") is not None
        ]
        if counts:
            drawings.append(_svg(functools.partial(_placement_bars, target, counts, colors), 200 + len(drawings)))
    return drawings


def _scatter(model: str, metric: str, points: list[tuple[str, float, float]], figure: Figure) -> None:
    from matplotlib.ticker import PercentFormatter

    axes = figure.add_subplot()
    axes.scatter([p[1] for p in points], [p[2] for p in points], color=COLORS[0], zorder=3)
    axes.set(title=model, xlabel="size (KB)", ylabel=metric)
    axes.grid(alpha=0.3)
    axes.margins(0.15)
    if is_fraction(metric):
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
        low, high = axes.get_ylim()
        axes.set_ylim(low, min(high, 1.0 + 0.05 * (high - low)))  # no room for accuracy over 100 %
    figure.draw_without_rendering()  # lays the axes out, so labels can be placed in points
    _annotate(axes, _labels(points))


def _labels(points: list[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """One label per spot: modes within 2 % of the plot's spans of each other share it
    (int8 and full_int8 often land on the same point)."""
    sizes, values = [p[1] for p in points], [p[2] for p in points]
    spans = [max(found) - min(found) or 1.0 for found in (sizes, values)]
    spots: list[tuple[list[str], float, float]] = []
    for mode, x, y in points:
        near = [s for s in spots if abs(s[1] - x) <= 0.02 * spans[0] and abs(s[2] - y) <= 0.02 * spans[1]]
        if near:
            near[0][0].append(mode)
        else:
            spots.append(([mode], x, y))
    return [(", ".join(modes), x, y) for modes, x, y in spots]


def _annotate(axes: Axes, spots: list[tuple[str, float, float]]) -> None:
    """Write each label beside its spot (left of it near the right edge), moved away from
    the nearer horizontal edge until it is clear of the labels before it; a moved label
    gets a thin line to its spot."""
    scale = 72.0 / axes.figure.dpi  # display pixels -> points
    box = axes.get_window_extent()
    left, right, middle = box.x0 * scale, box.x1 * scale, (box.y0 + box.y1) / 2 * scale
    height = LABEL_SIZE * 1.3
    placed: list[tuple[float, float, float, float]] = []  # x0, x1, y0, y1 in points
    for label, size, value in spots:
        x, y = (coordinate * scale for coordinate in axes.transData.transform((size, value)))
        width = 0.6 * LABEL_SIZE * len(label)  # about a character's width in a sans-serif font
        align = "right" if x + 5 + width > right and x - 5 - width >= left else "left"
        x0 = x - 5 - width if align == "right" else x + 5
        step = -height if y > middle else height
        first = dy = 4.0 if step > 0 else -4.0 - LABEL_SIZE
        while any(x0 < b[1] and b[0] < x0 + width and y + dy < b[3] and b[2] < y + dy + height for b in placed):
            dy += step
        placed.append((x0, x0 + width, y + dy, y + dy + height))
        corner = (1.0 if align == "right" else 0.0, 1.0 if step < 0 else 0.0)  # the label's, nearest its spot
        line: dict[str, object] | None = {
            "arrowstyle": "-", "color": "#999999", "lw": 0.5, "shrinkB": 4, "relpos": corner
        }
        line = None if dy == first else line
        offset = (-5.0 if align == "right" else 5.0, dy)
        axes.annotate(
            label, (size, value), textcoords="offset points", xytext=offset, ha=align,
            fontsize=LABEL_SIZE, arrowprops=line,
        )


def _latency_bars(model: str, bars: list[tuple[str, float]], figure: Figure) -> None:
    """Microseconds when every median is under a millisecond, as is usual for small models."""
    axes = figure.add_subplot()
    modes, medians = zip(*bars)
    scale, unit = (1000.0, "µs") if max(medians) < 1 else (1.0, "ms")
    drawn = axes.barh(modes, [median * scale for median in medians], color=COLORS[1])
    axes.bar_label(drawn, [milliseconds(median) for median in medians], padding=3, fontsize=LABEL_SIZE)
    axes.invert_yaxis()
    axes.margins(x=0.15)  # room for the labels
    axes.set(title=model, xlabel=f"median latency ({unit})")
    axes.grid(axis="x", alpha=0.3)


def _placement_bars(
    target: str, counts: list[tuple[str, str, int, int]], colors: dict[str, str], figure: Figure
) -> None:
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
        axes.bar(xs, [c[2] for c in chosen], width, label=mode, color=colors[mode])
    axes.set_xticks(range(len(models)), models)
    axes.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]  # stubs give Locator no kwargs
    axes.set(title=f"operators on {target} (outline: all operators)", ylabel="operators")
    figure.legend(loc="outside right upper", fontsize=7)


def _by_model(rows: Iterable[Row]) -> dict[str, list[Row]]:
    """Each model's rows, one per mode (mode figures repeat on every target's row)."""
    found: dict[str, dict[str, Row]] = {}
    for row in rows:
        found.setdefault(row.model, {}).setdefault(row.mode, row)
    return {model: list(modes.values()) for model, modes in found.items()}


def _svg(draw: Callable[[Figure], None], index: int) -> str:
    """The figure ``draw`` fills, as an SVG element to inline in HTML: no XML prolog, no
    namespace URLs (HTML knows SVG), ids unique to this figure."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"pytest-tflite-{index}"}):
        figure = Figure(figsize=FIGSIZE, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata=dict.fromkeys(("Date", "Creator", "Format", "Type")))
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    head, rest = text.split(">", 1)
    return re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", head) + ">" + rest
