"""The names of the test-report properties a declared model's checks carry.

The checks write them (:mod:`pytest_tflite.declared.checks`, :mod:`pytest_tflite.latency`)
and the session report reads them (:mod:`pytest_tflite.report.rows`): one place for both, so
a figure cannot be written under one name and looked for under another.
"""

from __future__ import annotations

PREFIX = "tflite_"
MODEL_KEY = PREFIX + "model"
MODE_KEY = PREFIX + "mode"
TARGET_KEY = PREFIX + "target"
CHECK_KEY = PREFIX + "check"


def key(name: str) -> str:
    """The property name of a figure: ``size_bytes`` -> ``tflite_size_bytes``."""
    return PREFIX + name


def target_key(target: str, name: str) -> str:
    """The property name of a target's figure: ``tflite_edgetpu_ops_on_target``."""
    return key(f"{target}_{name}")


def interval_key(reference: str, name: str) -> str:
    """The property name of a field of the metric's paired interval against ``reference``
    (``float32`` or ``golden``): ``tflite_golden_interval_low``; ``missing`` says why there
    is none."""
    return key(f"{reference}_interval_{name}")
