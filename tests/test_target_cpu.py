"""The cpu target on models ai-edge-quantizer quantized: they run in the LiteRT interpreter,
except blockwise int4 weights on kernels that compute them wrongly."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite import check
from pytest_tflite.model import kernels
from pytest_tflite.targets.compatibility import COMPATIBLE, INCOMPATIBLE, NOWHERE, ON_TARGET
from pytest_tflite.targets.cpu import BLOCKWISE_NOTE


@pytest.fixture(scope="module")
def blockwise(tiny_tflite):
    """The tiny model with its first Dense layer's weights in int4 blocks of 32 (the
    second, 16 wide, has int4 weights with a scale per channel)."""
    return tiny_tflite("dynamic_int4_blockwise")


@pytest.fixture
def reference_kernels():
    """The run's kernels are LiteRT's reference ones (``--tflite-kernels reference``)."""
    chosen = kernels.current_kernels()
    kernels.use_kernels("reference")
    yield
    kernels.use_kernels(chosen)


@pytest.mark.parametrize("mode", ["int4_weights", "dynamic_int4", "int16_activations", "recipe"])
def test_ai_edge_quantizer_models_run(tiny_tflite, mode):
    report = check(tiny_tflite(mode), "cpu")
    assert report.verdict == COMPATIBLE and report.details["runs"]
    assert all(op.runs_on == ON_TARGET for op in report.ops)
    assert BLOCKWISE_NOTE not in report.notes


def test_blockwise_weights_run_under_xnnpack_with_a_note(blockwise):
    report = check(blockwise, "cpu")
    assert report.verdict == COMPATIBLE
    dense = [op for op in report.ops if op.op == "FULLY_CONNECTED"]
    assert [op.reason for op in dense] == ["builtin kernel, delegated to XNNPACK"] * 2
    assert BLOCKWISE_NOTE in report.notes


def test_blockwise_weights_are_computed_wrongly_by_the_reference_kernels(
    blockwise, tiny_tflite, test_inputs, reference_kernels
):
    from pytest_tflite import TFLiteModel

    expected = tiny_tflite("float32").predict(test_inputs)
    wrong = TFLiteModel(blockwise.content).predict(test_inputs)  # a runner of the reference kernels
    assert np.abs(wrong - expected).max() > 0.5 * np.ptp(expected)

    report = check(TFLiteModel(blockwise.content, name="blockwise"), "cpu")
    assert report.verdict == INCOMPATIBLE
    first, second = [op for op in report.ops if op.op == "FULLY_CONNECTED"]
    assert first.runs_on == NOWHERE and "computes them wrongly" in first.reason
    assert "xnnpack kernels" in first.fix
    assert second.runs_on == ON_TARGET, "int4 weights with a scale per channel are computed right"


def test_blockwise_weights_under_xnnpack_are_close_to_float32(blockwise, tiny_tflite, test_inputs):
    expected = tiny_tflite("float32").predict(test_inputs)
    assert np.abs(blockwise.predict(test_inputs) - expected).max() < 0.1 * np.ptp(expected)
