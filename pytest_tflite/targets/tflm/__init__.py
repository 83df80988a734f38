"""The ``tflm`` target: microcontrollers, through the real TFLite Micro interpreter.

:mod:`.micro` runs a model in TFLite Micro in a child process; :mod:`.engine` makes the
report (kernels, smallest arena, outputs against LiteRT's reference kernels).
"""

from __future__ import annotations

from .engine import TFLM, Settings, analyze, compare_with_reference, reference_outputs, seeded_inputs
from .micro import MicroRun, micro_available, run_on_micro

__all__ = [
    "TFLM",
    "MicroRun",
    "Settings",
    "analyze",
    "compare_with_reference",
    "micro_available",
    "reference_outputs",
    "run_on_micro",
    "seeded_inputs",
]
