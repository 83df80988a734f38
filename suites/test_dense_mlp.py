"""The articles' post-training figures on the dense 128/32/10 classifier: float16 halves
the float model, the int8 modes quarter it, and the Edge TPU form is integer-only.
Accuracy, placement and size budgets are the declared checks' (tflite_models.py)."""

from __future__ import annotations

import pytest

# Size of each mode relative to float32: float16 halves the weights, int8 quarters them.
SIZE_RATIO = {
    "float32": (1.0, 1.0),
    "float16": (0.45, 0.55),
    "dynamic_int8": (0.22, 0.30),
    "int8": (0.22, 0.30),
    "full_int8": (0.22, 0.30),
    "int16x8": (0.22, 0.30),
}


@pytest.mark.tflite(modes=list(SIZE_RATIO))
def test_size_against_float32(tflite_model, tflite_mode, tflite_session, dense_mlp):
    float_size = tflite_session.converter.convert(dense_mlp, "float32").size_bytes
    low, high = SIZE_RATIO[tflite_mode.name]
    assert low <= tflite_model.size_bytes / float_size <= high


@pytest.mark.tflite(modes=["full_int8", "qat_int8"])
def test_edge_tpu_form_is_integer_only(tflite_model):
    float_tensors = [t.name for t in tflite_model.tensors if t.dtype.startswith("float")]
    assert not float_tensors, f"float tensors left in the integer-only model: {float_tensors}"
    assert [t.dtype for t in tflite_model.inputs + tflite_model.outputs] == ["int8", "int8"]
