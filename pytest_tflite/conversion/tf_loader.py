"""The one place TensorFlow is imported, on first use rather than at plugin import."""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import SourceError
from ..nativelog import kept

INSTALL_HINT = (
    "Install the TensorFlow extra: pip install 'pytest-tflite[tensorflow]'. A repository of "
    ".tflite files needs none of it: .tflite sources and the ai-edge-quantizer modes run "
    "without TensorFlow"
)


def tensorflow() -> Any:
    """Import TensorFlow quietly: its C++ start-up lines go to the native log."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        with kept():
            try:
                import tensorflow
            except ImportError as exc:
                raise SourceError(
                    f"converting this source needs TensorFlow, which is not installed ({exc})",
                    hint=INSTALL_HINT,
                ) from exc

            tensorflow.config.list_physical_devices()  # looks for CUDA now, saying so on stderr
    import tensorflow as tf

    return tf


def keras_flavor(obj: Any) -> str | None:
    """'tf_keras' (Keras 2), 'keras3', or None, read from the class without importing Keras."""
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        if cls.__name__ != "Model":
            continue
        if module.startswith("tf_keras."):
            return "tf_keras"
        if module.startswith("keras."):
            return "keras3"
    return None
