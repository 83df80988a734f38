"""The one place TensorFlow is imported, on first use rather than at plugin import."""

from __future__ import annotations

import os
from typing import Any


def tensorflow() -> Any:
    """Import TensorFlow quietly (its C++ logging off unless the user set it)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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
