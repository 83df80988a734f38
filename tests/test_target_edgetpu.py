"""The edgetpu target: Coral's rules applied to real converted models, the partition
rule, whole-compile failures, the compiler-style log, and the rule table's consistency."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from support import int4_int8_recipe

from pytest_tflite import TargetError
from pytest_tflite.conversion.modes import Mode, get_mode
from pytest_tflite.targets.compatibility import COMPATIBLE, INCOMPATIBLE, ON_CPU, ON_TARGET, PARTIAL
from pytest_tflite.targets.edgetpu import table
from pytest_tflite.targets.edgetpu.engine import (
    CHECKS,
    EDGETPU,
    FIX_QUANTIZE,
    MAPPED,
    MORE_THAN_ONE_SUBGRAPH,
    NOT_ALL_MAPPED,
    NOT_SUPPORTED,
    PARAM_NOT_CONSTANT,
    UNSPECIFIED_LIMITATION,
    UNSUPPORTED_DATA_TYPE,
    UNSUPPORTED_RANK,
    Graph,
    Settings,
    format_compiler_log,
    unpreparable_op,
)

DYNAMIC_ERROR = (
    "Attempting to use a delegate that only supports static-sized tensors with a graph "
    "that has dynamic-sized tensors"
)


# --- models ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((16, 8, 8, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def build(tf_keras):
    """``build(name, *layers, shape=..., batch=None)``: a functional model, seeded."""

    def make(name, *layers, shape=(8, 8, 3), batch=None):
        tf_keras.utils.set_random_seed(0)
        inputs = tf_keras.Input(shape, batch_size=batch)
        outputs = inputs
        for layer in layers:
            outputs = layer(outputs)
        return tf_keras.Model(inputs, outputs, name=name)

    return make


@pytest.fixture(scope="module")
def convert(shared_converter, images):
    def run(keras_model, mode, data=None):
        data = images if data is None else data
        return shared_converter.convert(keras_model, mode, representative_data=data)

    return run


@pytest.fixture(scope="module")
def conv_net(build, tf_keras):
    layers = tf_keras.layers
    return build(
        "etpu_conv",
        layers.Conv2D(4, 3, padding="same", activation="relu"),
        layers.DepthwiseConv2D(3, padding="same"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(4),
        layers.Softmax(),
    )


@pytest.fixture(scope="module")
def conv_full_int8(convert, conv_net):
    return convert(conv_net, "full_int8")


@pytest.fixture(scope="module")
def conv_int8(convert, conv_net):
    return convert(conv_net, "int8")


@pytest.fixture(scope="module")
def leaky_net(build, tf_keras):
    layers = tf_keras.layers
    return build(
        "etpu_leaky",
        layers.Conv2D(4, 3, padding="same"),
        layers.LeakyReLU(),
        layers.Conv2D(4, 3, padding="same"),
        layers.Flatten(),
        layers.Dense(4),
    )


@pytest.fixture(scope="module")
def leaky_int8(convert, leaky_net):
    return convert(leaky_net, "int8")


@pytest.fixture(scope="module")
def transpose_full_int8(build, tf_keras, convert):
    layers = tf_keras.layers
    model = build("etpu_transpose", layers.Permute((2, 1, 3)), layers.Conv2D(2, 1))
    return convert(model, "full_int8")


@pytest.fixture(scope="module")
def reshape_net(build, tf_keras):
    """A Keras Reshape with a None batch keeps SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE."""

    def make(batch):
        layers = tf_keras.layers
        name = f"etpu_reshape_{batch or 'none'}"
        conv, reshape = layers.Conv2D(4, 3, padding="same"), layers.Reshape((-1, 4))
        return build(name, conv, reshape, batch=batch)

    return make


@pytest.fixture(scope="module")
def five_d(build, tf_keras, convert):
    """[1, 2, 4, 4, 3]: a dimension outside the 3 innermost is 2."""
    layers = tf_keras.layers
    model = build(
        "etpu_5d", layers.ReLU(), layers.Flatten(), layers.Dense(2), shape=(2, 4, 4, 3), batch=1
    )
    data = np.random.default_rng(2).random((16, 2, 4, 4, 3), dtype=np.float32)
    return convert(model, "full_int8", data)


def _reasons(report):
    return [op.reason for op in report.ops]


def _names(report):
    return [op.op for op in report.ops]


# --- fully mapped models -------------------------------------------------------------------


def test_full_int8_dense_model_maps_fully(tiny_tflite):
    model = tiny_tflite("full_int8")
    report = EDGETPU.check(model)
    assert _names(report) == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert _reasons(report) == [MAPPED] * 3
    assert report.verdict == COMPATIBLE
    assert report.failure is None and report.static
    # a None batch stays in the signature, but every shape is constant: not dynamic
    assert model.inputs[0].shape_signature[0] == -1


def test_full_int8_conv_model_maps_fully(conv_full_int8):
    report = EDGETPU.check(conv_full_int8)
    assert _names(report) == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"
    ]
    assert all(op.runs_on == ON_TARGET and op.reason == MAPPED for op in report.ops)
    assert report.verdict == COMPATIBLE
    assert report.target == "edgetpu" and report.target_title == "Edge TPU"
    assert dict(report.details) == {
        "compiler_version": "16.0.384591198",
        "runtime_version": 14,
        "compiler_flags": [],
        "edgetpu_subgraphs": 1,
    }
    assert any("predicted for edgetpu_compiler 16.0.384591198 / runtime 14" in note for note in report.notes)


def test_uint8_io_adds_requantizing_quantize_ops_that_map(convert, conv_net):
    model = convert(conv_net, get_mode("full_int8").with_options(io_dtype="uint8"))
    report = EDGETPU.check(model)
    assert _names(report)[0] == _names(report)[-1] == "QUANTIZE"
    assert report.verdict == COMPATIBLE
    # QUANTIZE arrived with runtime 13 (edgetpu CHANGES.md)
    old = EDGETPU.with_options(runtime_version=12).check(model)
    assert old.ops[0].reason == old.ops[-1].reason == NOT_SUPPORTED
    assert "runtime 13" in old.ops[0].fix
    assert old.verdict == PARTIAL


# --- float input and output ---------------------------------------------------------------


@pytest.mark.parametrize("which", ["dense", "conv"])
def test_float_io_leaves_quantize_and_dequantize_on_the_cpu(which, tiny_tflite, conv_int8):
    model = tiny_tflite("int8") if which == "dense" else conv_int8
    report = EDGETPU.check(model)
    first, *body, last = report.ops
    assert (first.op, first.runs_on, first.reason) == ("QUANTIZE", ON_CPU, UNSPECIFIED_LIMITATION)
    assert (last.op, last.runs_on, last.reason) == ("DEQUANTIZE", ON_CPU, UNSUPPORTED_DATA_TYPE)
    assert body and all(op.reason == MAPPED for op in body)
    assert report.verdict == PARTIAL
    assert report.details["edgetpu_subgraphs"] == 1
    assert "full_int8" in first.fix and "full_int8" in last.fix
    assert report.fixes() == [first.fix]


# --- the partition rule -----------------------------------------------------------------------


def test_leaky_relu_breaks_the_edge_tpu_subgraph(leaky_int8):
    report = EDGETPU.check(leaky_int8)
    assert _names(report) == [
        "QUANTIZE", "CONV_2D", "LEAKY_RELU", "CONV_2D", "RESHAPE", "FULLY_CONNECTED", "DEQUANTIZE"
    ]
    assert _reasons(report) == [
        UNSPECIFIED_LIMITATION,
        MAPPED,
        NOT_SUPPORTED,
        MORE_THAN_ONE_SUBGRAPH,
        MORE_THAN_ONE_SUBGRAPH,
        MORE_THAN_ONE_SUBGRAPH,
        UNSUPPORTED_DATA_TYPE,
    ]
    assert report.verdict == PARTIAL
    assert report.first_break.op == "QUANTIZE"
    leaky = report.ops[2]
    assert "ReLU, ReLU6 or PReLU" in leaky.fix
    assert "operator 2 (LEAKY_RELU)" in report.ops[3].fix
    assert "multiple_subgraphs=True" in report.ops[3].fix


def test_multiple_subgraphs_maps_every_candidate_region(leaky_int8):
    report = EDGETPU.with_options(multiple_subgraphs=True).check(leaky_int8)
    assert [op.op for op in report.ops if op.on_target] == [
        "CONV_2D", "CONV_2D", "RESHAPE", "FULLY_CONNECTED"
    ]
    assert MORE_THAN_ONE_SUBGRAPH not in _reasons(report)
    assert report.ops[2].reason == NOT_SUPPORTED
    assert report.details["edgetpu_subgraphs"] == 2
    assert report.details["compiler_flags"] == ["-a"]


def test_a_quantize_after_the_break_gets_the_unspecified_text(convert, leaky_net):
    """Supported QUANTIZE ops outside the subgraph are not "More than one subgraph"
    (edgetpu#461): here the int8 -> uint8 output QUANTIZE of a uint8-I/O model."""
    model = convert(leaky_net, get_mode("full_int8").with_options(io_dtype="uint8"))
    report = EDGETPU.check(model)
    assert _names(report)[0] == _names(report)[-1] == "QUANTIZE"
    assert report.ops[0].reason == MAPPED
    assert report.ops[-2].reason == MORE_THAN_ONE_SUBGRAPH
    assert report.ops[-1].reason == UNSPECIFIED_LIMITATION
    assert "LEAKY_RELU" in report.ops[-1].fix


def test_a_float_island_splits_the_graph(build, tf_keras, tf, convert):
    """An ELU without an int8 kernel stays float between DEQUANTIZE and QUANTIZE; the
    float QUANTIZE back into int8 gets the unspecified-limitation text (edgetpu#309)."""
    layers = tf_keras.layers
    model = build(
        "etpu_elu", layers.Conv2D(4, 1), layers.Activation(tf.nn.elu), layers.Conv2D(2, 1)
    )
    report = EDGETPU.check(convert(model, "full_int8"))
    by_name = {op.op: op for op in report.ops}
    if "DEQUANTIZE" not in by_name:
        pytest.skip("this converter gave ELU an integer kernel")
    assert report.ops[0].reason == MAPPED
    assert by_name["ELU"].reason == UNSUPPORTED_DATA_TYPE
    assert "ReLU" in by_name["ELU"].fix
    assert by_name["QUANTIZE"].reason == UNSPECIFIED_LIMITATION
    assert "middle of the graph" in by_name["QUANTIZE"].fix
    assert report.ops[-1].reason == MORE_THAN_ONE_SUBGRAPH


# --- whole-compile failures ------------------------------------------------------------------


def test_dynamic_batch_in_a_reshape_fails_the_whole_compile(reshape_net, convert):
    model = convert(reshape_net(None), "full_int8")
    report = EDGETPU.check(model)
    assert "SHAPE" in _names(report)
    assert DYNAMIC_ERROR in report.failure
    assert "Model failed in Tflite interpreter" in report.failure
    assert report.verdict == INCOMPATIBLE
    assert all(op.runs_on == ON_CPU for op in report.ops)
    assert report.ops[0].reason == "Not mapped: the graph has dynamic-sized tensors"
    assert report.details["edgetpu_subgraphs"] == 0
    assert any("RESHAPE" in note and "run time" in note for note in report.notes)
    assert any("batch size to 1" in fix for fix in report.fixes())


def test_a_fixed_batch_of_one_makes_the_same_model_compile(reshape_net, convert):
    model = convert(reshape_net(1), "full_int8")
    report = EDGETPU.check(model)
    assert report.failure is None
    assert _names(report) == ["CONV_2D", "RESHAPE"]
    assert report.verdict == COMPATIBLE


def test_float32_model_is_not_quantized(tiny_tflite):
    report = EDGETPU.check(tiny_tflite("float32"))
    assert report.failure.endswith("Model not quantized")
    assert _reasons(report) == [UNSUPPORTED_DATA_TYPE] * 3
    assert all(op.runs_on == ON_CPU for op in report.ops)
    assert report.verdict == INCOMPATIBLE
    assert report.fixes() == ["Quantize the whole model: convert with the int8 or full_int8 mode"]


def _select_tf_ops(converter, tf, options):
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS
    ]


def test_flex_ops_fail_to_prepare(build, tf_keras, tf, convert):
    """Calibration cannot run Flex ops, so the real model is float: validation rejects it
    first, and the Flex check on its own finds the op TFLite cannot prepare."""
    layers = tf_keras.layers
    keras_model = build(
        "etpu_flex",
        layers.Conv2D(4, 1),
        layers.Lambda(lambda t: tf.math.cumprod(t, axis=1)),
        batch=1,
    )
    model = convert(keras_model, Mode("etpu_select_tf", "float with Flex ops", _select_tf_ops))
    assert [op.name for op in model.operators] == ["CONV_2D", "FlexCumprod"]
    assert EDGETPU.check(model).failure.endswith("Model not quantized")
    failure = unpreparable_op(Graph(model), Settings(runtime_version=14))
    assert failure.log[:2] == (
        "ERROR: Regular TensorFlow ops are not supported by this interpreter. "
        "Make sure you apply/link the Flex delegate before inference.",
        "ERROR: Node number 1 (FlexCumprod) failed to prepare.",
    )
    assert "SELECT_TF_OPS" in failure.fix


def test_unparseable_op_version_on_an_old_compiler(five_d):
    """Compiler 2.0 cannot read RELU version 2 (edgetpu#34): nothing comes out."""
    assert ("RELU", 2) in [(op.name, op.version) for op in five_d.operators]
    report = EDGETPU.with_options(runtime_version=12).check(five_d)
    assert report.details["compiler_version"] == "2.0.267685300"
    assert "Didn't find op for builtin opcode 'RELU' version '2'" in report.failure
    assert report.verdict == INCOMPATIBLE
    assert "Model could not be parsed" in format_compiler_log(report)


# --- per-operator rules ---------------------------------------------------------------------


def test_five_d_tensor_with_an_outer_dim_above_one_gets_the_rank_status(five_d):
    report = EDGETPU.check(five_d)
    assert _names(report) == ["RELU", "RESHAPE", "FULLY_CONNECTED"]
    assert _reasons(report) == [UNSUPPORTED_RANK, UNSUPPORTED_RANK, MAPPED]
    assert "3 dimensions" in report.ops[0].fix


def test_batch_above_one_gets_the_rank_status(build, tf_keras, convert):
    model = convert(build("etpu_batch2", tf_keras.layers.Conv2D(4, 1), batch=2), "full_int8")
    assert model.inputs[0].shape[0] == 2
    report = EDGETPU.check(model)
    assert _reasons(report) == [UNSUPPORTED_RANK]
    assert "batch size 1" in report.ops[0].fix
    assert report.verdict == INCOMPATIBLE


def test_int16x8_operators_work_on_an_unsupported_data_type(tiny_tflite):
    report = EDGETPU.check(tiny_tflite("int16x8"))
    assert _reasons(report) == [UNSUPPORTED_DATA_TYPE] * len(report.ops)
    assert report.failure is None  # int16 is quantized, just not 8-bit
    assert report.verdict == INCOMPATIBLE
    assert all("int16x8" in op.fix for op in report.ops)


def test_int8_needs_runtime_12(tiny_tflite):
    report = EDGETPU.with_options(runtime_version=11).check(tiny_tflite("full_int8"))
    assert _reasons(report) == [UNSUPPORTED_DATA_TYPE] * 3
    assert "runtime 12" in report.ops[0].fix
    assert report.details["compiler_flags"] == ["-m 11"]


def test_transpose_needs_runtime_14(transpose_full_int8):
    assert _names(EDGETPU.check(transpose_full_int8)) == ["TRANSPOSE", "CONV_2D"]
    assert _reasons(EDGETPU.check(transpose_full_int8)) == [MAPPED, MAPPED]
    old = EDGETPU.with_options(runtime_version=13).check(transpose_full_int8)
    assert old.details["compiler_version"] == "15.0.340273435"
    assert _reasons(old) == [NOT_SUPPORTED, MAPPED]
    assert "runtime 14 (compiler 16.0)" in old.ops[0].fix


@pytest.mark.parametrize(
    ("name", "make_layers", "op", "fix"),
    [
        ("etpu_prelu", lambda L: [L.Conv2D(4, 1), L.PReLU()], "PRELU", "shared_axes=[1, 2]"),
        (
            "etpu_stride2",
            lambda L: [L.Conv2D(4, 1), L.Lambda(lambda t: t[:, ::2]), L.Conv2D(4, 1)],
            "STRIDED_SLICE",
            "stride 1",
        ),
    ],
)
def test_op_restrictions_leave_the_op_on_the_cpu(
    name, make_layers, op, fix, build, tf_keras, convert
):
    report = EDGETPU.check(convert(build(name, *make_layers(tf_keras.layers)), "full_int8"))
    placed = next(p for p in report.ops if p.op == op)
    assert placed.reason == UNSPECIFIED_LIMITATION
    assert fix in placed.fix
    assert report.ops[0].reason == MAPPED


@pytest.mark.parametrize(("fill", "reason"), [(0.0, MAPPED), (1.0, UNSPECIFIED_LIMITATION)])
def test_concatenating_a_constant_maps_only_as_zero_padding(
    fill, reason, build, tf_keras, tf, convert
):
    layers = tf_keras.layers
    pad = tf.fill((1, 8, 8, 1), fill)
    model = build(
        f"etpu_concat_{fill:g}",
        layers.Conv2D(4, 1),
        layers.Lambda(lambda t: tf.concat([t, pad], -1)),
        batch=1,
    )
    report = EDGETPU.check(convert(model, "full_int8"))
    assert _names(report) == ["CONV_2D", "CONCATENATION"]
    assert report.ops[1].reason == reason


@pytest.mark.parametrize(
    ("channels", "runtime", "reason"),
    [(4, 14, MAPPED), (3, 14, UNSPECIFIED_LIMITATION), (4, 12, UNSPECIFIED_LIMITATION)],
)
def test_mean_over_channels(channels, runtime, reason, build, tf_keras, tf, convert):
    """Runtime 13+: a channel reduction needs a multiple of 4; up to 12 only x and y."""
    layers = tf_keras.layers
    model = build(
        f"etpu_mean_{channels}",
        layers.Conv2D(channels, 1),
        layers.Lambda(lambda t: tf.reduce_mean(t, axis=-1, keepdims=True)),
    )
    report = EDGETPU.with_options(runtime_version=runtime).check(convert(model, "full_int8"))
    assert _names(report) == ["CONV_2D", "MEAN"]
    assert report.ops[1].reason == reason


def test_prelu_with_shared_alpha_maps_from_runtime_13(build, tf_keras, convert):
    layers = tf_keras.layers
    model = convert(
        build("etpu_prelu_shared", layers.Conv2D(4, 1), layers.PReLU(shared_axes=[1, 2])),
        "full_int8",
    )
    assert _reasons(EDGETPU.check(model)) == [MAPPED, MAPPED]
    old = EDGETPU.with_options(runtime_version=12).check(model)
    assert _reasons(old) == [MAPPED, NOT_SUPPORTED]


# --- rules bounded by real compilations ---------------------------------------------------


def _with_custom_op(model, index, code="MyDecoderOp"):
    """``model`` with operator ``index`` turned into the custom operator ``code``, as a
    model carrying its own post-processing op arrives from its authors."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    from pytest_tflite.model.flatbuffer import TFLiteModel

    raw = schema.ModelT.InitFromPackedBuf(model.content, 0)
    opcode = schema.OperatorCodeT()
    opcode.builtinCode = opcode.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    opcode.customCode, opcode.version = code, 1
    raw.operatorCodes.append(opcode)
    op = raw.subgraphs[0].operators[index]
    op.opcodeIndex, op.builtinOptionsType, op.builtinOptions = len(raw.operatorCodes) - 1, 0, None
    builder = flatbuffers.Builder(0)
    builder.Finish(raw.Pack(builder), file_identifier=b"TFL3")
    return TFLiteModel(bytes(builder.Output()), name=f"{model.name}_custom")


def test_an_unknown_custom_op_stays_on_the_cpu_and_the_ops_before_it_map(conv_full_int8):
    """Compiled twins of models ending in PosenetDecoderOp map everything before it."""
    model = _with_custom_op(conv_full_int8, 5)
    report = EDGETPU.check(model)
    assert _names(report)[-1] == "MyDecoderOp"
    assert report.failure is None
    assert _reasons(report) == [MAPPED] * 5 + [NOT_SUPPORTED]
    assert "end of the graph" in report.ops[-1].fix and "evidence" in report.ops[-1].fix
    assert report.details["edgetpu_subgraphs"] == 1
    log = format_compiler_log(report, operation_log=True).splitlines()
    assert f"{'CUSTOM':<31}{'1':<11}{NOT_SUPPORTED}" in log


def test_a_custom_op_in_the_middle_ends_the_edge_tpu_subgraph(conv_full_int8):
    report = EDGETPU.check(_with_custom_op(conv_full_int8, 3))
    assert report.failure is None
    assert _reasons(report) == [MAPPED] * 3 + [NOT_SUPPORTED] + [MORE_THAN_ONE_SUBGRAPH] * 2


def test_a_wide_fully_connected_maps_under_compiler_16(wide_full_int8):
    """94,400 inputs map under 16 (its log); edgetpu#663's ~8,192 is kept for 15 and older."""
    assert _reasons(EDGETPU.check(wide_full_int8)) == [MAPPED]
    old = EDGETPU.with_options(compiler_version="15.0.340273435").check(wide_full_int8)
    assert _reasons(old) == [UNSPECIFIED_LIMITATION]
    assert "edgetpu#663" in old.ops[0].fix and "compilers up to 15.0.340273435" in old.ops[0].fix


@pytest.mark.parametrize(
    ("kernel", "dilation", "reason"),
    [((3, 1), (2, 1), MAPPED), ((3, 1), (4, 1), MAPPED), ((3, 3), (2, 1), UNSPECIFIED_LIMITATION)],
)
def test_dilation_is_compared_only_where_the_kernel_spans(
    kernel, dilation, reason, build, tf_keras, convert
):
    """A 3x1 kernel dilated (2,1) or (4,1) maps (compiler 16 log); a 3x3 one must not differ."""
    layers = tf_keras.layers
    name = f"etpu_dilated_{kernel[1]}_{dilation[0]}"
    conv = layers.Conv2D(4, kernel, dilation_rate=dilation, padding="same")
    model = build(name, layers.Conv2D(4, 1), conv, batch=1)  # a None batch becomes SPACE_TO_BATCH_ND
    report = EDGETPU.check(convert(model, "full_int8"))
    assert _names(report) == ["CONV_2D", "CONV_2D"]
    assert report.ops[1].reason == reason
    if reason != MAPPED:
        assert "same dilation" in report.ops[1].fix


def test_a_split_into_one_output_along_the_batch_maps(build, tf_keras, tf, convert):
    """A SPLIT on axis 0 with one output maps (a compiled YAMNet twin)."""
    layers = tf_keras.layers
    model = build(
        "etpu_split_one",
        layers.Conv2D(4, 1),
        layers.Lambda(lambda t: tf.split(t, 1, axis=0)[0]),
        layers.Conv2D(2, 1),
        batch=1,
    )
    report = EDGETPU.check(convert(model, "full_int8"))
    if "SPLIT" not in _names(report):
        pytest.skip("this converter folded the one-way SPLIT away")
    assert _reasons(report) == [MAPPED] * len(report.ops)


def test_a_large_transpose_stays_off_and_a_small_one_maps(big_transpose_full_int8, transpose_full_int8):
    report = EDGETPU.check(big_transpose_full_int8)
    assert _reasons(report) == [UNSPECIFIED_LIMITATION]
    assert "its input holds 259,200 elements" in report.ops[0].fix
    assert "compiler 16.0.384591198 and newer" in report.ops[0].fix
    assert _reasons(EDGETPU.check(transpose_full_int8)) == [MAPPED, MAPPED]


@pytest.mark.parametrize(("rows", "reason"), [(100, MAPPED), (150, UNSPECIFIED_LIMITATION)])
def test_wide_rows_get_the_unspecified_limitation_under_compiler_16(
    rows, reason, build, tf_keras, convert
):
    """[1, 1917, 91] maps and [1, 144, 1600] does not (compiler 16): the two innermost
    dimensions together are what is limited."""
    model = build(f"etpu_rows_{rows}", tf_keras.layers.ReLU(6.0), shape=(rows, 1600), batch=1)
    data = np.random.default_rng(5).random((4, rows, 1600), dtype=np.float32)
    report = EDGETPU.check(convert(model, "full_int8", data))
    assert report.ops[0].reason == reason


# --- options ------------------------------------------------------------------------------


def test_compiler_version_selects_the_release_and_the_report_names_it(transpose_full_int8):
    """TRANSPOSE arrived with compiler 16 (edgetpu#193, #242)."""
    report = EDGETPU.with_options(compiler_version="15.0.340273435").check(transpose_full_int8)
    assert _reasons(report) == [NOT_SUPPORTED, MAPPED]
    assert report.details["compiler_version"] == "15.0.340273435"
    assert report.details["runtime_version"] == 13
    assert any("predicted for edgetpu_compiler 15.0.340273435" in note for note in report.notes)
    assert format_compiler_log(report).startswith("Edge TPU Compiler version 15.0.340273435\n")


@pytest.mark.parametrize("release", ["15.0", 15.0])
def test_compiler_version_takes_the_release_as_coral_writes_it(transpose_full_int8, release):
    """``--option compiler_version=15.0`` arrives as a number; Coral's documents say "15.0"."""
    report = EDGETPU.with_options(compiler_version=release).check(transpose_full_int8)
    assert report.details["compiler_version"] == "15.0.340273435"
    assert _reasons(report) == [NOT_SUPPORTED, MAPPED]


def test_compiler_version_with_an_older_runtime_is_its_m_flag(transpose_full_int8):
    report = EDGETPU.with_options(compiler_version="16.0.384591198", runtime_version=13).check(
        transpose_full_int8
    )
    assert report.details["compiler_flags"] == ["-m 13"]
    assert _reasons(report) == [NOT_SUPPORTED, MAPPED]


@pytest.mark.parametrize("version", ["17.0", "16", 17.0, "", True])
def test_a_bad_compiler_version_is_a_clear_error(version, tiny_tflite):
    with pytest.raises(TargetError, match="must be a registered edgetpu_compiler version") as error:
        EDGETPU.with_options(compiler_version=version).check(tiny_tflite("full_int8"))
    assert "16.0.384591198" in str(error.value.hint)


def test_a_compiler_cannot_target_a_newer_runtime(tiny_tflite):
    with pytest.raises(TargetError, match="makes models for runtime 13"):
        EDGETPU.with_options(compiler_version="15.0.340273435", runtime_version=14).check(
            tiny_tflite("full_int8")
        )





@pytest.mark.parametrize("runtime", [9, 15, "14", True, 13.0])
def test_runtime_version_must_be_10_to_14(runtime, tiny_tflite):
    with pytest.raises(TargetError, match="must be an Edge TPU runtime from 10 to 14"):
        EDGETPU.with_options(runtime_version=runtime).check(tiny_tflite("full_int8"))


def test_multiple_subgraphs_needs_a_compiler_with_the_flag(tiny_tflite):
    with pytest.raises(TargetError, match="needs compiler 15.0 or newer"):
        EDGETPU.with_options(runtime_version=12, multiple_subgraphs=True).check(
            tiny_tflite("full_int8")
        )
    with pytest.raises(TargetError, match="True or False"):
        EDGETPU.with_options(multiple_subgraphs="yes").check(tiny_tflite("full_int8"))


def test_the_target_object():
    assert EDGETPU.name == "edgetpu" and EDGETPU.title == "Edge TPU"
    assert EDGETPU.accepts == ("int8",)
    assert dict(EDGETPU.options) == {
        "compiler_version": None,
        "runtime_version": None,
        "multiple_subgraphs": False,
        "compiler_path": "auto",
        "compiler_timeout": None,
    }
    assert EDGETPU.skip_reason("full_int8") is None
    assert "full_int8" in EDGETPU.skip_reason("float32")


@pytest.mark.parametrize(
    ("runtime", "version", "flags"),
    [
        (14, "16.0.384591198", ()),
        (13, "15.0.340273435", ()),
        (12, "2.0.267685300", ()),
        (11, "16.0.384591198", ("-m 11",)),
        (10, "1.0.249710469", ()),
    ],
)
def test_compiler_for_each_runtime(runtime, version, flags):
    compiler, chosen = table.compiler_for(runtime)
    assert (compiler.version, chosen) == (version, flags)


# --- a compiler release is a row of the table ------------------------------------------


@pytest.fixture
def add_compiler():
    """``add_compiler(compiler)``: a release in the table for this test only."""
    added = []

    def add(compiler):
        added.append(table.register_compiler(compiler).version)
        return compiler

    yield add
    for version in added:
        table.unregister_compiler(version)


@pytest.fixture(scope="module")
def wide_full_int8(build, tf_keras, convert):
    """A Dense layer reading 9000 values."""
    model = build("etpu_wide", tf_keras.layers.Dense(4), shape=(9000,))
    return convert(model, "full_int8", np.random.default_rng(3).random((16, 9000), dtype=np.float32))


@pytest.fixture(scope="module")
def big_transpose_full_int8(build, tf_keras, convert):
    """A channels-to-height TRANSPOSE of 1x60x60x72 = 259,200 elements."""
    layers = tf_keras.layers
    model = build("etpu_big_transpose", layers.Permute((3, 1, 2)), shape=(60, 60, 72), batch=1)
    data = np.random.default_rng(4).random((4, 60, 60, 72), dtype=np.float32)
    return convert(model, "full_int8", data)


def test_a_new_compiler_release_is_one_table_row(big_transpose_full_int8, add_compiler):
    """A fake compiler 17 for runtime 14 that transposes larger tensors: its row alone
    changes the placement, the compiler chosen, and the log."""
    report = EDGETPU.check(big_transpose_full_int8)
    assert _names(report) == ["TRANSPOSE"]
    assert report.ops[0].reason == UNSPECIFIED_LIMITATION
    assert "above ~65,536" in report.ops[0].fix

    sixteen = table.compiler_for(14)[0]
    larger = tuple(
        dataclasses.replace(limit, limit=1_000_000) if limit.op == "TRANSPOSE" else limit
        for limit in sixteen.size_limits
    )
    add_compiler(dataclasses.replace(sixteen, version="17.0.0", size_limits=larger, timeout_seconds=300))

    report = EDGETPU.check(big_transpose_full_int8)
    assert _reasons(report) == [MAPPED]
    assert report.details["compiler_version"] == "17.0.0"
    assert report.details["compiler_flags"] == []
    assert format_compiler_log(report).splitlines()[:2] == [
        "Edge TPU Compiler version 17.0.0",
        "Started a compilation timeout timer of 300 seconds.",
    ]
    assert table.compiler_for(11) == (table.compiler_named("17.0.0"), ("-m 11",))
    sixteen_again = EDGETPU.with_options(compiler_version="16.0.384591198").check(big_transpose_full_int8)
    assert _reasons(sixteen_again) == [UNSPECIFIED_LIMITATION]


def test_a_compiler_release_is_in_the_table_once():
    with pytest.raises(TargetError, match="already in the table"):
        table.register_compiler(table.compiler_for(14)[0])


# --- compiler-style output ----------------------------------------------------------------


def test_format_table_groups_ops_by_status_in_fixed_columns(leaky_int8):
    lines = EDGETPU.check(leaky_int8).format_table().splitlines()
    assert lines[0] == "Operator                       Count      Status"
    assert lines[1] == ""
    assert f"{'CONV_2D':<31}{'1':<11}{MAPPED}" in lines
    assert f"{'CONV_2D':<31}{'1':<11}{MORE_THAN_ONE_SUBGRAPH}" in lines
    assert f"{'LEAKY_RELU':<31}{'1':<11}{NOT_SUPPORTED}" in lines
    assert len(lines) == 2 + 7


def test_compiler_log_of_a_partial_model(conv_int8):
    report = EDGETPU.check(conv_int8)
    log = format_compiler_log(report).splitlines()
    assert log[:2] == [
        "Edge TPU Compiler version 16.0.384591198",
        "Started a compilation timeout timer of 180 seconds.",
    ]
    assert "Input model: etpu_conv.tflite" in log
    assert "Number of Edge TPU subgraphs: 1" in log
    assert "Total number of operations: 8" in log
    assert NOT_ALL_MAPPED in log
    at = log.index(NOT_ALL_MAPPED)
    assert log[at + 1: at + 3] == [
        "Number of operations that will run on Edge TPU: 6",
        "Number of operations that will run on CPU: 2",
    ]
    assert report.format_table() in "\n".join(log)
    assert log[-2:] == [
        "Compilation child process completed within timeout period.",
        "Compilation succeeded!",
    ]
    short = format_compiler_log(report, show_operations=False)
    assert "See the operation log file for individual operation details." in short
    assert "Count      Status" not in short


def test_compiler_log_of_a_fully_mapped_model_and_an_old_compiler(conv_full_int8):
    log = format_compiler_log(EDGETPU.check(conv_full_int8))
    assert NOT_ALL_MAPPED not in log and "run on CPU" not in log
    old = format_compiler_log(EDGETPU.with_options(runtime_version=13).check(conv_full_int8))
    assert old.startswith("Edge TPU Compiler version 15.0.340273435\n\n")
    assert "timeout" not in old and "Compilation succeeded!" not in old


def test_compiler_log_of_a_failed_compile(reshape_net, convert):
    log = format_compiler_log(EDGETPU.check(convert(reshape_net(None), "full_int8")))
    assert log.splitlines()[2:] == [
        f"ERROR: {DYNAMIC_ERROR}.",
        "Compilation failed: Model failed in Tflite interpreter. "
        "Please ensure model can be loaded/run in Tflite interpreter.",
        "Compilation child process completed within timeout period.",
        "Compilation failed!",
    ]


def test_operation_log_reads_like_the_compilers_log_file(leaky_int8):
    report = EDGETPU.check(leaky_int8)
    log = format_compiler_log(report, "models/etpu_leaky.tflite", operation_log=True, out_dir="out")
    lines = log.splitlines()
    assert lines[:6] == [
        "Edge TPU Compiler version 16.0.384591198",
        "Input: models/etpu_leaky.tflite",
        "Output: out/etpu_leaky_edgetpu.tflite",
        "",
        "Operator                       Count      Status",
        "",
    ]
    assert lines[6:] == report.format_table().splitlines()[2:]
    plain = format_compiler_log(report, operation_log=True).splitlines()
    assert plain[1:3] == ["Input: etpu_leaky.tflite", "Output: etpu_leaky_edgetpu.tflite"]


def test_report_serialises_to_json(leaky_int8):
    data = json.loads(EDGETPU.check(leaky_int8).to_json())
    assert data["details"]["edgetpu_subgraphs"] == 1
    assert data["ops_on_target"] == 1 and data["static"] is True


# --- the table's consistency -----------------------------------------------------------------


def _builtin_names():
    from ai_edge_litert import schema_py_generated

    return {k for k in vars(schema_py_generated.BuiltinOperator) if not k.startswith("_")}


def test_every_table_op_is_a_tflite_builtin():
    names = _builtin_names()
    rows = [r.op for r in table.SUPPORTED_OPS]
    others = [*table.CONSTANT_OPERANDS, *table.SHAPE_OPERANDS, *table.REPLACEMENTS]
    others += [v.op for v in (*table.UNPARSEABLE_OP_VERSIONS, *table.UNSUPPORTED_OP_VERSIONS)]
    others += [s.op for s in table.SIZE_LIMITS if s.op != table.ANY_OP]
    others += list(table.CONFIRMED_UNSUPPORTED)
    assert set(rows + others) <= names


def test_the_coral_table_has_its_40_operations():
    assert len({r.coral_name for r in table.SUPPORTED_OPS}) == 40


def test_rows_of_one_op_cover_its_runtimes_without_overlap():
    for op in {r.op for r in table.SUPPORTED_OPS}:
        rows = sorted((r for r in table.SUPPORTED_OPS if r.op == op), key=lambda r: r.min_runtime)
        assert rows[-1].max_runtime == table.MAX_RUNTIME, op
        for before, after in zip(rows, rows[1:]):
            assert after.min_runtime == before.max_runtime + 1, op
        assert all(table.MIN_RUNTIME <= r.min_runtime <= r.max_runtime for r in rows), op
        assert all(r.confidence in "CPIU" for r in rows), op


def test_every_check_named_in_the_table_exists_and_is_used():
    named = {c for r in table.SUPPORTED_OPS for c in r.checks}
    assert named == set(CHECKS)


def test_every_restriction_and_size_limit_carries_evidence_and_compilers():
    assert set(table.RESTRICTIONS) == set(CHECKS)
    newest, oldest = table.COMPILERS[-1], table.COMPILERS[0]
    for rule in (*table.RESTRICTIONS.values(), *table.SIZE_LIMITS):
        assert rule.evidence and all(rule.evidence), rule
        assert rule.holds_for(newest) or rule.holds_for(oldest), rule
        for bound in (rule.since, rule.until):
            assert bound is None or table.compiler_named(bound), rule
    for limit in table.SIZE_LIMITS:
        assert limit.mapped <= limit.limit and (not limit.rejected or limit.limit < limit.rejected)


def test_limits_the_real_compilations_contradict_hold_only_for_old_compilers():
    sixteen = table.compiler_named("16.0.384591198")
    fifteen = table.compiler_named("15.0.340273435")
    for op in ("CONCATENATION", "FULLY_CONNECTED"):
        (limit,) = [s for s in table.SIZE_LIMITS if s.op == op]
        assert limit.holds_for(fifteen) and not limit.holds_for(sixteen), op


def test_confirmed_unsupported_ops_are_not_in_the_table():
    supported = {r.op for r in table.SUPPORTED_OPS}
    assert not supported & set(table.CONFIRMED_UNSUPPORTED)


def test_runtime_gates_confirmed_by_coral():
    for op in ("EXPAND_DIMS", "PACK", "QUANTIZE", "SUM", "TRANSPOSE_CONV"):
        assert table.first_runtime(op) == 13, op
    for op in ("TRANSPOSE", "UNIDIRECTIONAL_SEQUENCE_LSTM"):
        assert table.first_runtime(op) == 14, op
    assert table.first_runtime("RESIZE_NEAREST_NEIGHBOR") == table.MIN_RUNTIME
    assert table.rule_for("TRANSPOSE", 13) is None and table.rule_for("TRANSPOSE", 14)
    assert table.rule_for("DEPTHWISE_CONV_2D", 12).checks != table.rule_for(
        "DEPTHWISE_CONV_2D", 13
    ).checks
    assert table.rule_for("LEAKY_RELU", 14) is None


def test_compilers_cover_every_runtime_in_order():
    keys = [c.key for c in table.COMPILERS]
    assert keys == sorted(keys)
    for runtime in range(table.MIN_RUNTIME, table.MAX_RUNTIME + 1):
        compiler, flags = table.compiler_for(runtime)
        assert compiler.runtime == runtime or (compiler.min_runtime_flag and flags)
    assert table.compiler_for(table.DEFAULT_RUNTIME)[0].version == "16.0.384591198"


def test_version_limits_name_compilers_in_order():
    for limit in (*table.UNPARSEABLE_OP_VERSIONS, *table.UNSUPPORTED_OP_VERSIONS):
        assert limit.version >= 2 and limit.source.startswith("edgetpu#")
        assert table.version_key(limit.last_compiler) < (16,)
    newest = table.compiler_for(14)[0]
    assert not any(
        v.applies(v.op, v.version, newest) for v in table.UNPARSEABLE_OP_VERSIONS
    )


def test_status_texts_are_the_compilers_words():
    assert MAPPED == "Mapped to Edge TPU"
    assert UNSPECIFIED_LIMITATION == (
        "Operation is otherwise supported, but not mapped due to some unspecified limitation"
    )
    assert UNSUPPORTED_RANK == "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
    assert PARAM_NOT_CONSTANT == "Filter, bias, or other param is not constant at compile-time"


def test_importing_the_engine_does_not_import_tensorflow():
    code = (
        "import sys; import pytest_tflite.targets.edgetpu; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- models ai-edge-quantizer quantized ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["int4_weights", "dynamic_int4"])
def test_int4_weights_under_float_computation_are_judged_as_a_float_model(tiny_tflite, mode):
    report, float_report = EDGETPU.check(tiny_tflite(mode)), EDGETPU.check(tiny_tflite("float32"))
    assert report.failure.endswith("Model not quantized") and report.verdict == INCOMPATIBLE
    assert all(op.runs_on == ON_CPU and op.reason == UNSUPPORTED_DATA_TYPE for op in report.ops)
    assert report.fixes() == float_report.fixes() == [FIX_QUANTIZE]
    assert "float32 arithmetic" in EDGETPU.skip_reason(mode)


def test_int16_activations_stay_on_the_cpu_with_the_8_bit_fix(tiny_tflite):
    report = EDGETPU.check(tiny_tflite("int16_activations"))
    assert report.failure is None and report.verdict == INCOMPATIBLE
    assert all(op.runs_on == ON_CPU and op.reason == UNSUPPORTED_DATA_TYPE for op in report.ops)
    assert all("not int16x8 or int16_activations" in op.fix for op in report.ops)
    assert "int16 arithmetic" in EDGETPU.skip_reason("int16_activations")


def test_int4_weights_in_an_int8_model_keep_their_operators_on_the_cpu(
    shared_converter, tiny_tf_keras, calibration_data
):
    mode = get_mode("recipe").with_options(recipe=int4_int8_recipe())
    model = shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)
    report = EDGETPU.check(model)
    dense = [op for op in report.ops if op.op == "FULLY_CONNECTED"]
    assert len(dense) == 2 and all(op.runs_on == ON_CPU and op.reason == UNSUPPORTED_DATA_TYPE for op in dense)
    assert all(op.fix.startswith("The Edge TPU takes 8-bit weights only") for op in dense)
    assert [op.runs_on for op in report.ops if op.op == "RESHAPE"] == [ON_TARGET]
    assert report.verdict == PARTIAL

