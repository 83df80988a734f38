"""The ``gpu`` target: where the TensorFlow Lite mobile GPU delegate runs each operator.

:mod:`.table` holds the delegate's operators, their checks and fixes; :mod:`.engine`
applies them and partitions the graph; :mod:`.confirm` asks LiteRT on this machine's GPU.
"""

from __future__ import annotations

from .confirm import CONFIRM_MODES, Probe, confirm_on_gpu, gpu_api_available
from .engine import GPU, PRECISIONS, Settings, analyze
from .table import OPS, OpRule

__all__ = [
    "CONFIRM_MODES",
    "GPU",
    "OPS",
    "PRECISIONS",
    "OpRule",
    "Probe",
    "Settings",
    "analyze",
    "confirm_on_gpu",
    "gpu_api_available",
]
