"""pytest-tflite: convert, check and measure TensorFlow Lite models in pytest.

Names are imported on first use so that loading the plugin stays cheap; TensorFlow is
imported only when a conversion runs.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "convert": "conversion.converter",
    "Converter": "conversion.converter",
    "CALIBRATION_SAMPLES": "conversion.modes",
    "TorchModule": "conversion.torch_source",
    "TFLiteModel": "model.flatbuffer",
    "Operator": "model.flatbuffer",
    "Tensor": "model.flatbuffer",
    "Quantization": "model.flatbuffer",
    "Mode": "conversion.modes",
    "register_mode": "conversion.modes",
    "get_mode": "conversion.modes",
    "mode_names": "conversion.modes",
    "Target": "targets",
    "CompatibilityReport": "targets",
    "OpPlacement": "targets",
    "assert_compatible": "targets",
    "check": "targets",
    "get_target": "targets",
    "register_target": "targets",
    "target_names": "targets",
    "Budget": "gate.budget",
    "DeclaredModel": "declared.checks",
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
    "ModelCrash": "errors",
    "ModeUnavailable": "errors",
    "TrainingUnavailable": "errors",
    "TargetError": "errors",
    "CompatibilityFailure": "errors",
    "GoldenError": "errors",
    "BudgetError": "errors",
    "EvaluationError": "errors",
    "BaselineFailure": "gate.baseline",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_tflite' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
