"""Targets a converted model is checked against: one package per rule engine, one report shape.

Every engine reads the parsed flatbuffer (:class:`pytest_tflite.TFLiteModel`); none
imports TensorFlow. The rule engines (``gpu``, ``edgetpu``) share :mod:`.engine`: a table
of rules, the findings they make per operator, the partition, then the report.
"""

from __future__ import annotations

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
from .cpu import CPU
from .edgetpu import EDGETPU
from .ethosu import ETHOS_U55, ETHOS_U65, ETHOS_U85
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
from .tflm import TFLM

register_target(CPU)
register_target(GPU)
register_target(EDGETPU)
register_target(ETHOS_U55)
register_target(ETHOS_U65)
register_target(ETHOS_U85)
register_target(TFLM)

__all__ = [
    "COMPATIBLE",
    "CPU",
    "EDGETPU",
    "ETHOS_U55",
    "ETHOS_U65",
    "ETHOS_U85",
    "GPU",
    "INCOMPATIBLE",
    "NOWHERE",
    "ON_CPU",
    "ON_TARGET",
    "PARTIAL",
    "TFLM",
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
