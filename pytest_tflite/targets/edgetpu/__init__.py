"""The ``edgetpu`` target: the Coral Edge TPU compiler's verdict, predicted from its rules.

:mod:`.table` holds what the compiler accepts (releases, operators, limits) as data;
:mod:`.engine` applies it to a model.
"""

from __future__ import annotations

from .engine import (
    EDGETPU,
    MAPPED,
    MORE_THAN_ONE_SUBGRAPH,
    NOT_ALL_MAPPED,
    NOT_SUPPORTED,
    PARAM_NOT_CONSTANT,
    TWO_D_OUTPUT,
    UNSPECIFIED_LIMITATION,
    UNSUPPORTED_DATA_TYPE,
    UNSUPPORTED_RANK,
    VERSION_NOT_SUPPORTED,
    Settings,
    analyze,
    format_compiler_log,
)
from .table import Compiler, register_compiler, unregister_compiler

__all__ = [
    "EDGETPU",
    "MAPPED",
    "MORE_THAN_ONE_SUBGRAPH",
    "NOT_ALL_MAPPED",
    "NOT_SUPPORTED",
    "PARAM_NOT_CONSTANT",
    "TWO_D_OUTPUT",
    "UNSPECIFIED_LIMITATION",
    "UNSUPPORTED_DATA_TYPE",
    "UNSUPPORTED_RANK",
    "VERSION_NOT_SUPPORTED",
    "Compiler",
    "Settings",
    "analyze",
    "format_compiler_log",
    "register_compiler",
    "unregister_compiler",
]
