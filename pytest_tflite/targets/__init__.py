"""Targets a converted model is checked against: one module per target, one report shape.

Every engine reads the parsed flatbuffer (:class:`pytest_tflite.TFLiteModel`); none
imports TensorFlow.
"""

from __future__ import annotations

from .cpu import CPU
from .edgetpu import EDGETPU
from .gpu import GPU
from .registry import (
    Target,
    assert_compatible,
    check,
    get_target,
    iter_targets,
    register_target,
    target_names,
)

register_target(CPU)
register_target(GPU)
register_target(EDGETPU)

from .compatibility import (
    COMPATIBLE,
    INCOMPATIBLE,
    NOWHERE,
    ON_CPU,
    ON_TARGET,
    PARTIAL,
    CompatibilityReport,
    OpPlacement,
)

__all__ = [
    "COMPATIBLE",
    "INCOMPATIBLE",
    "NOWHERE",
    "ON_CPU",
    "ON_TARGET",
    "PARTIAL",
    "CompatibilityReport",
    "OpPlacement",
    "Target",
    "assert_compatible",
    "check",
    "get_target",
    "iter_targets",
    "register_target",
    "target_names",
]
