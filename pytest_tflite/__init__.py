"""pytest-tflite: convert, check and measure TensorFlow Lite models in pytest.

Names are imported on first use so that loading the plugin stays cheap; TensorFlow is
imported only when a conversion runs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "convert": "conversion",
    "Converter": "conversion",
    "CALIBRATION_SAMPLES": "modes",
    "TFLiteModel": "model",
    "Operator": "model",
    "Tensor": "model",
    "Quantization": "model",
    "Mode": "modes",
    "register_mode": "modes",
    "get_mode": "modes",
    "mode_names": "modes",
    "Target": "targets",
    "CompatibilityReport": "targets",
    "OpPlacement": "targets",
    "assert_compatible": "targets",
    "check": "targets",
    "get_target": "targets",
    "register_target": "targets",
    "target_names": "targets",
    "Budget": "budget",
    "DeclaredModel": "declared",
    "Metric": "evaluate",
    "evaluate": "evaluate",
    "Evaluation": "evaluate",
    "TFLiteError": "errors",
    "SourceError": "errors",
    "ModeError": "errors",
    "DatasetError": "errors",
    "ConversionError": "errors",
    "ModelFormatError": "errors",
    "RuntimeFailure": "errors",
    "TrainingUnavailable": "errors",
    "TargetError": "errors",
    "CompatibilityFailure": "errors",
    "GoldenError": "errors",
    "BudgetError": "errors",
    "EvaluationError": "errors",
    "BaselineFailure": "gate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_tflite' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
