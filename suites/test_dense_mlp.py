"""The dense 128/32/10 classifier under every quantization mode and target."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite import assert_compatible

# Size of each mode relative to float32: float16 halves the weights, int8 quarters them.
SIZE_RATIO = {
    "float32": (1.0, 1.0),
    "float16": (0.45, 0.55),
    "dynamic_int8": (0.22, 0.30),
    "int8": (0.22, 0.30),
    "full_int8": (0.22, 0.30),
    "int16x8": (0.22, 0.30),
}
# Share of operators each target must take where not all of them can: the int8 mode's
# float QUANTIZE/DEQUANTIZE ends stay on the Edge TPU host CPU, and the GPU delegate has
# no kernel for dynamic-range (hybrid) FULLY_CONNECTED.
MIN_ON_TARGET = {("int8", "edgetpu"): 4 / 6, ("dynamic_int8", "gpu"): 1 / 4}
MIN_ACCURACY = 0.93
MAX_ACCURACY_DROP = 0.02


def test_accuracy(tflite_model, digits):
    _, _, x_test, y_test = digits
    accuracy = float(np.mean(tflite_model.predict(x_test).argmax(axis=1) == y_test))
    assert accuracy >= MIN_ACCURACY, f"{tflite_model.mode}: accuracy {accuracy:.4f}"


def test_accuracy_drop_against_keras(tflite_model, dense_mlp, digits):
    _, _, x_test, y_test = digits
    keras_accuracy = float(np.mean(dense_mlp.predict(x_test, verbose=0).argmax(axis=1) == y_test))
    accuracy = float(np.mean(tflite_model.predict(x_test).argmax(axis=1) == y_test))
    assert keras_accuracy - accuracy <= MAX_ACCURACY_DROP


def test_size_against_float32(tflite_model, tflite_mode, tflite_session, dense_mlp):
    if tflite_mode.name not in SIZE_RATIO:
        pytest.skip(f"no size expectation for mode {tflite_mode.name}")
    float_size = tflite_session.converter.convert(dense_mlp, "float32").size_bytes
    low, high = SIZE_RATIO[tflite_mode.name]
    assert low <= tflite_model.size_bytes / float_size <= high


@pytest.mark.tflite(modes=["full_int8"])
def test_edge_tpu_form_is_integer_only(tflite_model):
    float_tensors = [t.name for t in tflite_model.tensors if t.dtype.startswith("float")]
    assert not float_tensors, f"float tensors left in the integer-only model: {float_tensors}"
    assert [t.dtype for t in tflite_model.inputs + tflite_model.outputs] == ["int8", "int8"]


def test_runs_on_target(tflite_model, tflite_mode, tflite_target):
    share = MIN_ON_TARGET.get((tflite_mode.name, tflite_target.name), 1.0)
    assert_compatible(tflite_model, tflite_target, min_on_target=share)
