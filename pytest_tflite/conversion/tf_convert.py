"""Calling the TensorFlow Lite converter, and letting go of what a fine-tune left behind.

Apart from :mod:`.converter` (which decides what to convert and caches it), so the child
process that fine-tunes (:mod:`.trainer`) converts the same way without importing it.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from typing import TYPE_CHECKING

from ..errors import ConversionError, TFLiteError
from ..nativelog import kept
from .modes import Mode
from .tf_loader import tensorflow

if TYPE_CHECKING:
    from .datasets import Sample
    from .sources import Source


def run_converter(src: Source, mode: Mode, samples: list[Sample] | None) -> bytes:
    """Call the TensorFlow Lite converter, turning its failures into a readable error."""
    tf = tensorflow()
    try:
        converter = src.make_converter()
        mode.configure(converter, tf, mode.options)
        if samples is not None:
            converter.representative_dataset = src.calibration_feed(samples, src.input_specs())
        with src.conversion_scope(), contextlib.redirect_stdout(io.StringIO()), kept(), warnings.catch_warnings():
            # Both come from the converter's own internals, not from the user's model.
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            warnings.filterwarnings("ignore", message=r"\s*Warning: tf.lite.Interpreter is deprecated")
            return bytes(converter.convert())
    except TFLiteError:
        raise
    except Exception as exc:  # noqa: BLE001 - the converter raises many types; all are reported
        message = f"{type(exc).__name__}: {exc}"
        raise ConversionError(
            "the TensorFlow Lite converter rejected the model",
            source=src.name,
            mode=mode.name,
            hint=conversion_hint(message, mode),
            detail=message,
        ) from exc


def conversion_hint(message: str, mode: Mode) -> str:
    """What to try next, read from the converter's message."""
    unsupported = sorted(set(re.findall(r"'tf\.(\w+)' op is neither a custom op nor a flex op", message)))
    if unsupported:
        return (
            f"TensorFlow Lite has no builtin operator for {', '.join(unsupported)}; replace "
            "the layer that uses it, or enable Select TF ops for a CPU-only build"
        )
    if "quantiz" in message.lower() and mode.name != "int8":
        return (
            "An operator has no integer kernel in this mode; mode 'int8' allows a float "
            "fallback, or replace the operator with one that quantizes"
        )
    if mode.name == "float32":
        return "Read the converter's message below: it names the operation or layer it stopped at"
    return (
        "Read the converter's message below; converting under 'float32' shows whether the "
        "model converts at all before quantization"
    )


def release_keras_state() -> None:
    """Let go of what a fine-tune left in tf-keras's global state (its graphs, the
    optimizer's slots, tfmot's wrappers): kept, they grow a process by every fine-tune."""
    import gc

    import tf_keras

    tf_keras.backend.clear_session()
    gc.collect()
    _trim_heap()


def _trim_heap() -> None:
    """Give the C heap's free pages back to the system (glibc keeps them otherwise)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return
