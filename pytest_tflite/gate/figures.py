"""The figures a target measures beyond placement (memory, cycles, time), as one table.

A target that runs a real tool puts these in its report's ``details`` under their
``name``: TFLite Micro's tensor arena, Vela's SRAM, flash and DRAM use, cycles and
estimated inference time. Each has an absolute bound and a golden tolerance in the
:class:`~pytest_tflite.gate.budget.Budget`, and lower is better for all of them, so the
gate judges them like sizes: growth fails, shrinking is an improvement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass(frozen=True)
class TargetFigure:
    """One figure: its key in reports and baselines, and the budget fields that bound it."""

    name: str
    label: str
    unit: str
    limit: str
    """The Budget field of the absolute bound."""
    tolerance: str
    """The Budget field of the growth allowed over the baseline (a fraction)."""

    @property
    def whole(self) -> bool:
        """Counted in whole units (bytes, cycles), not measured in fractions."""
        return self.unit in ("bytes", "cycles")


TARGET_FIGURES = (
    TargetFigure("arena_bytes", "tensor arena", "bytes", "max_arena_bytes", "golden_arena_tolerance"),
    TargetFigure("sram_bytes", "SRAM", "bytes", "max_sram_bytes", "golden_sram_tolerance"),
    TargetFigure("flash_bytes", "flash", "bytes", "max_flash_bytes", "golden_flash_tolerance"),
    TargetFigure("dram_bytes", "DRAM", "bytes", "max_dram_bytes", "golden_dram_tolerance"),
    TargetFigure("cycles", "NPU cycles", "cycles", "max_cycles", "golden_cycles_tolerance"),
    TargetFigure(
        "inference_us", "estimated inference time", "us", "max_inference_us", "golden_inference_tolerance"
    ),
)
FIGURE_NAMES = tuple(figure.name for figure in TARGET_FIGURES)


def figures_of(details: Mapping[str, Any]) -> dict[str, float | int]:
    """The target figures a report's details hold (the others are left out)."""
    return {
        name: value
        for name in FIGURE_NAMES
        if isinstance(value := details.get(name), (int, float)) and not isinstance(value, bool)
    }
