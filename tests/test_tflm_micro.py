"""TFLite Micro's own interpreter on tiny models converted by the real converter: what it
runs, the smallest arena it runs in, and what it refuses, in its own words."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from support import edited_model, operators_named

from pytest_tflite.targets.tflm import micro

needs_micro = pytest.mark.skipif(micro.micro_available() is not None, reason="tflite-micro is not installed")

SAMPLES = 8


@pytest.fixture(scope="module")
def conv_net(tf_keras):
    """8x8x1 -> Conv2D(8) -> Conv2D(16) -> Dense(4). The second convolution and the dense
    layer have 1024 weights or more, so dynamic-range quantization quantizes them; the
    first convolution (72 weights) stays float."""
    layers = tf_keras.layers
    tf_keras.utils.set_random_seed(0)
    return tf_keras.Sequential(
        [
            tf_keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, activation="relu"),
            layers.Conv2D(16, 3),
            layers.Flatten(),
            layers.Dense(4),
        ],
        name="conv_net",
    )


@pytest.fixture(scope="module")
def calibration():
    return np.random.default_rng(0).random((32, 8, 8, 1), dtype=np.float32)


def _full_int8(converter, tf, calibration):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[None]] for x in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8


def _dynamic_range(converter, tf, calibration):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float16(converter, tf, calibration):
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


SETTINGS = {
    "float32": lambda converter, tf, calibration: None,
    "full_int8": _full_int8,
    "dynamic_range": _dynamic_range,
    "float16": _float16,
}


@pytest.fixture(scope="module")
def convert(tf, conv_net, calibration):
    """``convert(mode)``: the conv net's flatbuffer under one of :data:`SETTINGS` (memoised)."""
    done: dict[str, bytes] = {}

    def run(mode):
        if mode not in done:
            converter = tf.lite.TFLiteConverter.from_keras_model(conv_net)
            SETTINGS[mode](converter, tf, calibration)
            done[mode] = converter.convert()
        return done[mode]

    return run


@pytest.fixture(scope="module")
def int8_inputs():
    return np.random.default_rng(3).integers(-128, 128, size=(SAMPLES, 8, 8, 1), dtype=np.int8)


@pytest.fixture(scope="module")
def int8_run(convert, int8_inputs):
    return micro.run_on_micro(convert("full_int8"), [int8_inputs])


@pytest.fixture(scope="module")
def lacking(tf):
    """A model with two operator kinds TFLite Micro has no kernel for (TOPK_V2, SIGN)
    around one it has (MUL)."""

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def lacking(x):
        return tf.math.top_k(x, k=4).values * 2.0, tf.math.sign(x)

    concrete = lacking.get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], lacking).convert()


@pytest.fixture(scope="module")
def wide(tf, tf_keras):
    """Two ReLUs on a 512x512x3 float input: 6 MiB of activations, more than the first
    arena tried."""
    model = tf_keras.Sequential([tf_keras.Input((512, 512, 3)), tf_keras.layers.ReLU(), tf_keras.layers.ReLU(6.0)])
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def reference(content, inputs):
    """LiteRT's reference kernels' outputs, one inference per sample, samples on axis 0."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=content, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    rows = []
    for k in range(len(inputs[0])):
        for detail, x in zip(it.get_input_details(), inputs):
            it.set_tensor(detail["index"], x[k].reshape(detail["shape"]))
        it.invoke()
        rows.append([it.get_tensor(d["index"]) for d in it.get_output_details()])
    return [np.concatenate(column) for column in zip(*rows)]


def operator_kinds(content):
    """The kind of each operator of the main subgraph (a custom one's by its code)."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    kinds = []
    for op in model.subgraphs[0].operators:
        code = model.operatorCodes[op.opcodeIndex]
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        kinds.append(code.customCode.decode() if builtin == schema.BuiltinOperator.CUSTOM else names[builtin])
    return kinds


def in_model_order(content, kinds):
    """``kinds`` in the order the model's operators first use them."""
    return tuple(k for k in dict.fromkeys(operator_kinds(content)) if k in kinds)


def first_hybrid_operator(content):
    """Index of the first operator with int8 weights and a float32 input."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.ModelT.InitFromPackedBuf(bytearray(content), 0).subgraphs[0]
    types = [t.type for t in graph.tensors]
    return next(
        i
        for i, op in enumerate(graph.operators)
        if len(op.inputs) > 1
        and types[op.inputs[0]] == schema.TensorType.FLOAT32
        and types[op.inputs[1]] == schema.TensorType.INT8
    )


# --- models TFLite Micro runs ---------------------------------------------------------


@needs_micro
def test_full_int8_model_runs_in_the_smallest_arena_found(convert, int8_run):
    content = convert("full_int8")
    assert int8_run.ok, int8_run.failure
    assert (int8_run.failure, int8_run.unresolved, dict(int8_run.refused), int8_run.crashed) == (None, (), {}, False)
    arena = int8_run.arena_bytes
    assert arena is not None and arena % micro.ALIGN == 0
    assert micro.allocates(content, arena)
    assert not micro.allocates(content, arena - micro.ALIGN)
    assert int8_run.reported_arena_bytes is not None and 0 < int8_run.reported_arena_bytes <= arena
    assert "Arena allocation total" in int8_run.log
    assert int8_run.version and int8_run.version.startswith("0.")


@needs_micro
def test_int8_outputs_match_litert_reference_kernels(convert, int8_run, int8_inputs):
    expected = reference(convert("full_int8"), [int8_inputs])
    assert int8_run.outputs is not None and len(int8_run.outputs) == len(expected) == 1
    got = int8_run.outputs[0]
    assert got.dtype == np.int8 and got.shape == (SAMPLES, 4)
    assert np.max(np.abs(got.astype(np.int32) - expected[0].astype(np.int32))) <= 1
    assert len({row.tobytes() for row in got}) > 1, "every sample gave the same output"


@needs_micro
def test_rows_may_keep_the_batch_dimension(convert, int8_run, int8_inputs):
    run = micro.run_on_micro(convert("full_int8"), [int8_inputs[:, None]], search_arena=False)
    assert run.ok, run.failure
    assert run.arena_bytes is None and run.reported_arena_bytes == int8_run.reported_arena_bytes
    assert run.outputs is not None and int8_run.outputs is not None
    np.testing.assert_array_equal(run.outputs[0], int8_run.outputs[0])


@needs_micro
def test_no_inputs_runs_once_on_zeros(convert):
    run = micro.run_on_micro(convert("full_int8"), search_arena=False)
    assert run.ok, run.failure
    assert run.outputs is not None and run.outputs[0].shape == (1, 4)


@needs_micro
@pytest.mark.parametrize(
    ("inputs", "words"),
    [
        (lambda x: [x.astype(np.float32)], "dtype int8"),
        (lambda x: [x[:, :4]], "rows of shape [1, 8, 8, 1] or [8, 8, 1]"),
        (lambda x: [x, x], "takes 1 inputs"),
        (lambda x: [x, x[:2]], "same number of samples"),
    ],
)
def test_inputs_that_do_not_fit_the_model_raise(convert, int8_inputs, inputs, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[")):
        micro.run_on_micro(convert("full_int8"), inputs(int8_inputs), search_arena=False)


@needs_micro
def test_float_model_runs_like_litert(convert):
    content = convert("float32")
    x = np.random.default_rng(4).random((4, 8, 8, 1), dtype=np.float32)
    run = micro.run_on_micro(content, [x])
    assert run.ok, run.failure
    assert run.arena_bytes is not None and micro.allocates(content, run.arena_bytes)
    assert run.outputs is not None and run.outputs[0].dtype == np.float32
    np.testing.assert_allclose(run.outputs[0], reference(content, [x])[0], rtol=1e-5, atol=1e-5)


@needs_micro
def test_an_arena_larger_than_the_first_one_tried_is_found(wide):
    run = micro.run_on_micro(wide)
    assert run.ok, run.failure
    assert run.arena_bytes is not None and run.arena_bytes > 4 * micro.ARENA_FLOOR
    assert micro.allocates(wide, run.arena_bytes)
    assert not micro.allocates(wide, run.arena_bytes - micro.ALIGN)


# --- models TFLite Micro refuses ------------------------------------------------------


@needs_micro
def test_dynamic_range_model_is_refused_in_the_kernels_words(convert):
    content = convert("dynamic_range")
    run = micro.run_on_micro(content)
    assert not run.ok and not run.crashed
    assert dict(run.refused) == {first_hybrid_operator(content): "Hybrid models are not supported on TFLite Micro."}
    assert run.unresolved == () and run.outputs is None and run.arena_bytes is None
    assert run.failure is not None
    assert "dynamic-range" in run.failure and "full integer quantization" in run.failure
    assert "Hybrid models are not supported" in run.log


@needs_micro
def test_float16_model_is_refused_at_its_first_dequantize(convert):
    content = convert("float16")
    run = micro.run_on_micro(content)
    assert not run.ok and not run.crashed
    dequantize = operator_kinds(content).index("DEQUANTIZE")
    assert list(run.refused) == [dequantize]
    assert run.refused[dequantize].startswith("input->type == kTfLiteInt8")
    assert run.refused[dequantize].endswith("was not true.")
    assert run.failure is not None and "float16" in run.failure and "full integer quantization" in run.failure


@needs_micro
def test_every_kind_without_a_kernel_is_named(lacking):
    run = micro.run_on_micro(lacking)
    assert not run.ok and not run.crashed
    assert run.unresolved == in_model_order(lacking, {"TOPK_V2", "SIGN"})
    assert len(run.unresolved) == 2
    assert run.failure is not None and all(kind in run.failure for kind in run.unresolved)


@needs_micro
def test_a_custom_operator_is_named_by_its_code(lacking):
    from ai_edge_litert import schema_py_generated as schema

    def make_mul_custom(model):
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
        code.customCode = "Acme.Gain"
        model.operatorCodes.append(code)
        for op in operators_named(model, "MUL"):
            op.opcodeIndex = len(model.operatorCodes) - 1

    content = edited_model(lacking, make_mul_custom)
    run = micro.run_on_micro(content)
    kinds = operator_kinds(content)
    assert "Acme.Gain" in kinds and "MUL" not in kinds
    assert run.unresolved == in_model_order(content, {"TOPK_V2", "SIGN", "Acme.Gain"})
    assert len(run.unresolved) == 3
    assert run.failure is not None and "AddCustom" in run.failure


@needs_micro
def test_a_model_that_needs_more_than_the_largest_arena_is_refused(wide, monkeypatch):
    monkeypatch.setattr(micro, "ARENA_CAP", 2 << 20)
    run = micro.run_on_micro(wide)
    assert not run.ok and not run.crashed
    assert run.failure is not None and "does not fit in a 2 MiB tensor arena" in run.failure


# --- crashes and hangs ----------------------------------------------------------------


@needs_micro
def test_a_model_that_crashes_tflm_is_contained(convert):
    def point_outside_the_tensors(model):
        model.subgraphs[0].operators[0].inputs[0] = 2**30

    run = micro.run_on_micro(edited_model(convert("full_int8"), point_outside_the_tensors))
    assert not run.ok and run.crashed
    assert run.failure is not None and "SIGSEGV" in run.failure


@needs_micro
def test_an_arena_too_small_for_tflm_itself_is_contained(convert):
    """An arena too small for TFLM's own allocator crashes it; the probe says no."""
    assert not micro.allocates(convert("full_int8"), micro.ALIGN)


@needs_micro
def test_a_child_that_dies_is_reported_not_raised(convert, monkeypatch):
    monkeypatch.setattr(micro, "_SCRIPT", "import os; os.abort()")
    run = micro.run_on_micro(convert("full_int8"))
    assert not run.ok and run.crashed
    assert run.failure is not None and "SIGABRT" in run.failure


@needs_micro
def test_a_hang_is_reported_after_the_timeout(convert, monkeypatch):
    monkeypatch.setattr(micro, "_SCRIPT", "import time; time.sleep(60)")
    run = micro.run_on_micro(convert("full_int8"), timeout=1)
    assert not run.ok and run.crashed
    assert run.failure is not None and "did not finish within 1 s" in run.failure
    assert run.seconds < 30


def test_without_tflite_micro_the_install_command_is_named(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "tflite_micro" else find_spec(name))
    missing = micro.micro_available()
    assert missing is not None and "pip install --pre tflite-micro" in missing
    run = micro.run_on_micro(b"not a model")
    assert (run.ok, run.crashed, run.failure) == (False, False, missing)
