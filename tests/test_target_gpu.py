"""The ``gpu`` target's rule engine, on tiny tf-keras models converted by the real converter.

Most tests here pin ``delegate="classic"``: they check the rules read from the TFLite GPU
delegate's source (tensorflow/lite/delegates/gpu). The default rules, LiteRT's GPU
accelerator's, are checked against the accelerator itself in ``test_gpu_devset.py``.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from pytest_tflite import TFLiteModel
from pytest_tflite.errors import TargetError
from pytest_tflite.targets.compatibility import COMPATIBLE, ON_CPU, ON_TARGET
from pytest_tflite.targets.gpu import GPU, table

NEVER = GPU.with_options(confirm="never", delegate="classic")
LITERT = GPU.with_options(confirm="never")


@pytest.fixture(scope="module")
def build(tf_keras):
    """``build(input_shapes, body)``: a functional model; ``body`` maps the inputs to the output."""

    def make(input_shapes, body, name):
        tf_keras.utils.set_random_seed(0)
        inputs = [tf_keras.Input(shape) for shape in input_shapes]
        output = body(*inputs)
        return tf_keras.Model(inputs if len(inputs) > 1 else inputs[0], output, name=name)

    return make


@pytest.fixture(scope="module")
def convert(shared_converter):
    def run(keras_model, mode="float32", **kwargs):
        return shared_converter.convert(keras_model, mode, **kwargs)

    return run


@pytest.fixture(scope="module")
def conv_dense(build, tf_keras):
    layers = tf_keras.layers
    return build(
        [(8, 8, 3)],
        lambda x: layers.Dense(8)(layers.Flatten()(layers.Conv2D(4, 3, activation="relu")(x))),
        "conv_dense",
    )


@pytest.fixture(scope="module")
def conv_dense_data():
    return np.random.default_rng(0).random((8, 8, 8, 3), dtype=np.float32)


def placements(report):
    return {p.op: p for p in report.ops}


def one(report, op):
    found = [p for p in report.ops if p.op == op]
    assert len(found) == 1, report.render()
    return found[0]


# --- whole models ---------------------------------------------------------------------


def test_float_conv_dense_model_is_compatible(conv_dense, convert):
    report = NEVER.check(convert(conv_dense))
    assert [p.op for p in report.ops] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert all(p.runs_on == ON_TARGET for p in report.ops), report.render()
    assert report.verdict == COMPATIBLE
    data = json.loads(json.dumps(report.to_dict()))
    assert data["verdict"] == "compatible"
    assert data["target"] == "gpu"
    assert data["details"]["delegated_partitions"] == 1


def test_float16_precision_is_the_default(conv_dense, convert):
    report = NEVER.check(convert(conv_dense))
    assert GPU.options["precision"] == "float16"
    assert report.details["precision"] == "float16"
    assert any("float16" in note for note in report.notes)
    report32 = NEVER.with_options(precision="float32").check(convert(conv_dense))
    assert report32.details["precision"] == "float32"


def test_float16_weights_dequantize_joins_the_gpu_partition(conv_dense, convert):
    report = NEVER.check(convert(conv_dense, "float16"))
    dequant = [p for p in report.ops if p.op == "DEQUANTIZE"]
    assert dequant, report.render()
    assert all(p.runs_on == ON_TARGET for p in dequant), report.render()
    # They are left out while partitioning, so only the three real ops form the partition.
    assert report.details["partition_sizes"] == [3]
    assert report.compatible


def test_full_int8_model_runs_on_the_gpu(conv_dense, convert, conv_dense_data):
    report = NEVER.check(convert(conv_dense, "full_int8", representative_data=conv_dense_data))
    assert report.compatible, report.render()
    assert any("quantized model" in note for note in report.notes)


def test_int8_model_quantize_and_dequantize_need_quantized_models(
    conv_dense, convert, conv_dense_data
):
    model = convert(conv_dense, "int8", representative_data=conv_dense_data)
    assert NEVER.check(model).compatible
    report = NEVER.with_options(quantized_models=False).check(model)
    assert "quantized models are allowed" in one(report, "QUANTIZE").reason
    assert one(report, "CONV_2D").runs_on == ON_CPU
    assert "quantized models are switched off" in one(report, "CONV_2D").reason


def test_int16x8_model_stays_on_the_cpu(conv_dense, convert, conv_dense_data):
    report = NEVER.check(convert(conv_dense, "int16x8", representative_data=conv_dense_data))
    assert report.ops_on_target == 0, report.render()
    assert report.verdict == "incompatible"
    assert "int16" in one(report, "CONV_2D").reason
    assert "float16 or full_int8" in one(report, "CONV_2D").fix


def test_dynamic_range_fully_connected_falls_back(conv_dense, convert):
    report = NEVER.check(convert(conv_dense, "dynamic_int8"))
    fc = one(report, "FULLY_CONNECTED")
    assert fc.runs_on == ON_CPU
    assert fc.reason.startswith("dynamic-range (hybrid) FULLY_CONNECTED")
    assert "up to version 9" in fc.reason
    assert "dynamic_int8" in fc.fix
    assert one(report, "CONV_2D").runs_on == ON_TARGET


# --- operators the delegate has no kernel for, or takes only in some forms ------------


def test_topk_is_not_supported(build, convert, tf, tf_keras):
    model = build(
        [(8,)],
        lambda x: tf_keras.layers.Lambda(lambda v: tf.math.top_k(v, k=3).values)(
            tf_keras.layers.Dense(8)(x)
        ),
        "topk",
    )
    topk = one(NEVER.check(convert(model)), "TOPK_V2")
    assert topk.runs_on == ON_CPU
    assert topk.reason == "TOPK_V2 is not supported by the GPU delegate"
    assert "top-k" in topk.fix


def test_float_cumsum_with_constant_axis_is_supported(build, convert, tf, tf_keras):
    """The delegate has a CUMSUM kernel for float data with a constant int32 axis."""
    model = build(
        [(8,)], lambda x: tf_keras.layers.Lambda(lambda v: tf.math.cumsum(v, axis=1))(x), "cumsum"
    )
    assert one(NEVER.check(convert(model)), "CUMSUM").runs_on == ON_TARGET


def test_integer_cumsum_is_not_supported(build, convert, tf, tf_keras):
    def body(x):
        as_int = tf.cast(x, tf.int32)
        return tf.cast(tf.math.cumsum(as_int, axis=1), tf.float32)

    model = build([(8,)], lambda x: tf_keras.layers.Lambda(body)(x), "int_cumsum")
    report = NEVER.check(convert(model))
    cumsum = one(report, "CUMSUM")
    assert cumsum.runs_on == ON_CPU
    assert cumsum.reason.startswith("CUMSUM of int32 data")
    # CAST between float32 and int32 has a GPU kernel either way; the two casts form
    # partitions of one op each, and the delegate takes the first of those.
    casts = [p for p in report.ops if p.op == "CAST"]
    assert [p.runs_on for p in casts] == [ON_TARGET, ON_CPU], report.render()
    assert casts[1].reason.startswith("supported, but outside the GPU partition")


def test_floor_mod_depends_on_the_tensor_type(build, convert, tf, tf_keras):
    float_model = build(
        [(8,)], lambda x: tf_keras.layers.Lambda(lambda v: tf.math.floormod(v, 3.0))(x), "fmod"
    )
    assert one(NEVER.check(convert(float_model)), "FLOOR_MOD").runs_on == ON_TARGET

    def int_body(v):
        return tf.cast(tf.math.floormod(tf.cast(v, tf.int32), 3), tf.float32)

    int_model = build([(8,)], lambda x: tf_keras.layers.Lambda(int_body)(x), "int_fmod")
    floor_mod = one(NEVER.check(convert(int_model)), "FLOOR_MOD")
    assert floor_mod.runs_on == ON_CPU
    assert floor_mod.reason.startswith("FLOOR_MOD with an int32 runtime input")


def test_five_dimensional_tensors_stay_on_the_cpu(build, convert, tf_keras):
    layers = tf_keras.layers

    def body(x):
        y = layers.Reshape((2, 2, 4, 3))(x)
        y = layers.Lambda(lambda v: v * 2.0 + 1.0)(y)
        return layers.Reshape((4, 4, 3))(y)

    report = NEVER.check(convert(build([(4, 4, 3)], body, "five_d")))
    five_d = [p for p in report.ops if "5-D" in p.reason]
    assert five_d, report.render()
    assert all(p.runs_on == ON_CPU for p in five_d)
    assert "up to 4 dimensions" in five_d[0].reason
    assert "4 dimensions or fewer" in five_d[0].fix


def test_add_broadcast_of_different_ranks_is_limited(build, convert, tf, tf_keras):
    layers = tf_keras.layers
    offset = np.arange(12, dtype=np.float32).reshape(4, 3)

    def body(x):
        y = layers.Conv2D(3, 1)(x)
        y = layers.Lambda(lambda v: v + tf.constant(offset))(y)
        return layers.Conv2D(3, 1)(y)

    report = NEVER.check(convert(build([(2, 4, 3)], body, "broadcast")))
    add = one(report, "ADD")
    assert add.runs_on == ON_CPU
    assert add.reason.startswith("ADD broadcasting [1, 2, 4, 3] with [4, 3]")
    assert "same rank" in add.fix


def test_mul_outer_product_is_not_supported(build, convert, tf_keras):
    model = build(
        [(4, 1), (1, 4)],
        lambda a, b: tf_keras.layers.Multiply()([a, b]),
        "outer",
    )
    mul = one(NEVER.check(convert(model)), "MUL")
    assert mul.runs_on == ON_CPU
    assert "outer product" in mul.reason


def test_depthwise_multiplier_needs_a_single_input_channel(build, convert, tf_keras):
    layers = tf_keras.layers
    multiplied = build(
        [(6, 6, 3)], lambda x: layers.DepthwiseConv2D(3, depth_multiplier=2)(x), "dw_mult"
    )
    dw = one(NEVER.check(convert(multiplied)), "DEPTHWISE_CONV_2D")
    assert dw.runs_on == ON_CPU
    assert "depth_multiplier 2 on 3 input channels" in dw.reason
    plain = build([(6, 6, 3)], lambda x: layers.DepthwiseConv2D(3)(x), "dw_plain")
    assert one(NEVER.check(convert(plain)), "DEPTHWISE_CONV_2D").runs_on == ON_TARGET


def test_dilated_conv_needs_a_fixed_batch_size(convert, tf_keras):
    layers = tf_keras.layers

    def dilated(batch_size):
        x = tf_keras.Input((8, 8, 3), batch_size=batch_size)
        return tf_keras.Model(x, layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x))

    report = NEVER.check(convert(dilated(None)))
    assert [p.op for p in report.ops] == ["SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND"]
    space_to_batch = report.ops[0]
    assert space_to_batch.runs_on == ON_CPU
    assert space_to_batch.reason.startswith("SPACE_TO_BATCH_ND is not supported by the GPU")
    assert "batch_size" in space_to_batch.fix
    fixed = NEVER.check(convert(dilated(1)))
    assert [p.op for p in fixed.ops] == ["CONV_2D"]
    assert fixed.compatible


def test_strided_slice_with_integer_index_is_not_supported(build, convert, tf_keras):
    layers = tf_keras.layers
    model = build(
        [(4, 3)], lambda x: layers.Dense(2)(layers.Lambda(lambda v: v[:, 0])(x)), "index"
    )
    sliced = one(NEVER.check(convert(model)), "STRIDED_SLICE")
    assert sliced.runs_on == ON_CPU
    assert "shrink_axis_mask" in sliced.reason


def test_comparison_needs_a_cast_to_float_after_it(build, convert, tf, tf_keras):
    as_mask = build(
        [(8,)],
        lambda x: tf_keras.layers.Lambda(lambda v: tf.cast(v > 0.5, tf.float32))(x),
        "mask",
    )
    report = NEVER.check(convert(as_mask))
    assert one(report, "GREATER").runs_on == ON_TARGET, report.render()
    assert one(report, "CAST").runs_on == ON_TARGET

    selecting = build(
        [(8,)],
        lambda x: tf_keras.layers.Lambda(lambda v: tf.where(v > 0.5, v, 0.0 * v))(x),
        "select",
    )
    greater = one(NEVER.check(convert(selecting)), "GREATER")
    assert greater.runs_on == ON_CPU
    assert "single CAST to float" in greater.reason


# --- a new operator is one table entry -----------------------------------------------


@pytest.fixture(scope="module")
def ceil_model(build, convert, tf, tf_keras):
    """Dense -> CEIL -> Dense: CEIL has no GPU kernel, so it splits the GPU partition."""
    layers = tf_keras.layers
    return convert(
        build([(8,)], lambda x: layers.Dense(4)(layers.Lambda(tf.math.ceil)(layers.Dense(8)(x))), "ceil")
    )


def test_a_new_operator_is_one_table_entry(ceil_model, monkeypatch):
    ceil = one(NEVER.check(ceil_model), "CEIL")
    assert ceil.runs_on == ON_CPU
    assert "has no kernel for it" in ceil.reason

    monkeypatch.setitem(table.OPS, "CEIL", table.OpRule(2, (table.inputs_consts_outputs(1, 0, 1),)))
    report = NEVER.check(ceil_model)
    assert one(report, "CEIL").runs_on == ON_TARGET
    assert report.compatible, report.render()


def test_an_entry_carries_its_checks_and_their_fix(ceil_model, monkeypatch):
    def narrow(op, graph):
        return f"CEIL of {graph.input(op, 0).shape[-1]} values" if graph.input(op, 0).shape[-1] > 4 else None

    monkeypatch.setitem(table.OPS, "CEIL", table.OpRule(2, (narrow,), "Round at most 4 values"))
    ceil = one(NEVER.check(ceil_model), "CEIL")
    assert (ceil.runs_on, ceil.reason, ceil.fix) == (ON_CPU, "CEIL of 8 values", "Round at most 4 values")


# --- partitions -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def split_keras(build, tf, tf_keras):
    """Dense, then TOPK_V2, then three Dense layers."""
    layers = tf_keras.layers

    def body(x):
        y = layers.Dense(16)(x)
        y = layers.Lambda(lambda v: tf.math.top_k(v, k=8).values)(y)
        for units in (8, 8, 4):
            y = layers.Dense(units)(y)
        return y

    return build([(16,)], body, "split")


@pytest.fixture(scope="module")
def split_model(split_keras, convert):
    """Two GPU partitions of 1 and 3 ops."""
    return convert(split_keras)


def test_only_the_largest_partition_is_delegated(split_model):
    report = NEVER.check(split_model)
    names = [p.op for p in report.ops]
    assert names == ["FULLY_CONNECTED", "TOPK_V2"] + ["FULLY_CONNECTED"] * 3
    first = report.ops[0]
    assert first.runs_on == ON_CPU
    assert first.reason.startswith("supported, but outside the GPU partition")
    assert "max_delegated_partitions=1" in first.reason
    assert "start or end" in first.fix
    assert [p.runs_on for p in report.ops[2:]] == [ON_TARGET] * 3
    assert report.details["partition_sizes"] == [1, 3]
    assert report.details["delegated_partition_sizes"] == [3]
    assert report.verdict == "partial"


def test_more_partitions_take_the_smaller_side_too(split_model):
    report = NEVER.with_options(max_delegated_partitions=2).check(split_model)
    assert report.ops[0].runs_on == ON_TARGET
    assert report.details["delegated_partitions"] == 2
    assert one(report, "TOPK_V2").runs_on == ON_CPU


# --- float16 and sparse weights ------------------------------------------------------


def weights_just_before_readers(model: TFLiteModel) -> TFLiteModel:
    """The same graph with each DEQUANTIZE / DENSIFY moved just before its first reader.

    The converter here lists weight preparation first; MediaPipe's models interleave it,
    so their first operator is a PAD of the input. That order is the one where the
    float16 DEQUANTIZE nodes cut the partitioner's preview in two.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    ops = model.operators
    producer = {t: op.index for op in ops for t in op.outputs}
    prepares = {op.index for op in ops if op.name in ("DEQUANTIZE", "DENSIFY")}
    order: list[int] = []

    def place(i: int) -> None:
        if i in order:
            return
        for t in ops[i].inputs:
            if producer.get(t) in prepares:
                place(producer[t])
        order.append(i)

    for op in ops:
        if op.index not in prepares:
            place(op.index)
    assert len(order) == len(ops)
    raw = flatbuffer_utils.convert_bytearray_to_object(bytearray(model.content))
    raw.subgraphs[0].operators = [raw.subgraphs[0].operators[i] for i in order]
    content = bytes(flatbuffer_utils.convert_object_to_bytearray(raw))
    return TFLiteModel(content, name=model.name, mode=model.mode)


def test_float16_model_starting_with_a_pad_is_one_partition(build, convert, tf_keras):
    """FP16GraphPartitionHelper's "Full Delegation": all but the float16 DEQUANTIZE nodes
    are supported, so the delegate takes the whole plan, not the largest partition."""
    layers = tf_keras.layers

    def body(x):
        y = layers.Conv2D(4, 3, activation="relu")(layers.ZeroPadding2D(2)(x))
        return layers.Conv2D(4, 3)(y)

    model = weights_just_before_readers(convert(build([(8, 8, 3)], body, "pad_first"), "float16"))
    assert model.operators[0].name == "PAD"
    report = NEVER.check(model)
    assert report.details["partition_sizes"] == [1, 2], report.render()
    assert report.compatible, report.render()
    assert report.details["delegated_partition_sizes"] == [report.ops_total]
    assert any("whole model" in note for note in report.notes)


def test_partial_delegation_leaves_float16_dequantize_on_the_cpu(split_keras, convert):
    """"Partial Delegation": the largest partitions only, and no float16 DEQUANTIZE."""
    report = NEVER.with_options(max_delegated_partitions=2).check(
        convert(split_keras, "float16")
    )
    dequant = [p for p in report.ops if p.op == "DEQUANTIZE"]
    assert dequant, report.render()
    assert all(p.runs_on == ON_CPU for p in dequant), report.render()
    assert all("only partly delegated" in p.reason for p in dequant)
    assert one(report, "TOPK_V2").runs_on == ON_CPU
    fully_connected = [p for p in report.ops if p.op == "FULLY_CONNECTED"]
    assert all(p.runs_on == ON_TARGET for p in fully_connected), report.render()


def test_sparse_float16_weights_are_densified_for_the_gpu(build, tf, tf_keras):
    """DENSIFY of constant sparse weights has a parser (no kernel): ``MergeDensify`` folds
    it, and the DEQUANTIZE after it, into the convolution's weights."""
    layers = tf_keras.layers
    sparse_conv = layers.Conv2D(16, 1)
    model = build(
        [(8, 8, 16)],
        lambda x: layers.Conv2D(4, 3)(sparse_conv(layers.ZeroPadding2D(2)(x))),
        "sparse",
    )
    weights, bias = sparse_conv.get_weights()
    weights[..., ::2, :] = 0.0
    weights[..., 1::4, :] = 0.0  # 75% zeros: the converter stores the tensor sparse
    sparse_conv.set_weights([weights, bias])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    converter.target_spec.supported_types = [tf.float16]
    tflite = weights_just_before_readers(TFLiteModel(converter.convert(), name="sparse"))

    report = NEVER.check(tflite)
    densify = one(report, "DENSIFY")
    assert densify.runs_on == ON_TARGET
    assert "convolution's weights" in densify.reason
    assert len(report.details["partition_sizes"]) == 2, report.render()
    assert report.compatible, report.render()
    assert report.details["delegated_partition_sizes"] == [report.ops_total]


# --- options and run-time confirmation ------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"precision": "float64"}, {"confirm": "sometimes"}, {"max_delegated_partitions": "1"}],
)
def test_bad_options_are_refused(conv_dense, convert, options):
    with pytest.raises(TargetError, match="gpu target"):
        GPU.with_options(**options).check(convert(conv_dense))


def test_never_confirm_is_a_static_prediction(conv_dense, convert):
    report = NEVER.check(convert(conv_dense))
    assert report.static
    assert report.details["confirmed"] is False
    assert "confirm='never'" in report.notes[0]


def test_auto_confirm_without_a_gpu_is_quick_and_static(conv_dense, convert, monkeypatch):
    monkeypatch.setattr("pytest_tflite.targets.gpu.confirm.gpu_api_available", lambda: None)
    model = convert(conv_dense)
    start = time.perf_counter()
    report = GPU.check(model)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.25
    assert report.static
    assert "no GPU adapter was found" in report.notes[0]


def test_always_confirm_either_confirms_or_says_there_is_no_gpu(conv_dense, convert):
    model = convert(conv_dense)
    try:
        report = GPU.with_options(confirm="always", confirm_timeout=30).check(model)
    except TargetError as exc:
        assert "no GPU is available" in str(exc)
        assert "confirm='auto'" in str(exc)
    else:
        assert not report.static
        assert report.details["confirmed"] is True
        assert "placement measured with LiteRT's GPU accelerator" in report.notes[0]


# --- LiteRT's GPU accelerator's rules (the default), without an adapter ------------------


def _litert(case, mode, shared_converter):
    from gpu_devset import DevModel, convert

    return LITERT.check(convert(DevModel(case, mode), shared_converter))


def _reasons(report):
    return {p.op: p.reason for p in report.ops if not p.on_target}


def test_litert_refuses_int64_argmax_and_a_five_axis_transpose_in_its_own_words(shared_converter):
    argmax = _reasons(_litert("argmax_int64_cast", "float32", shared_converter))
    assert "Tensor type(INT64) is not supported." in argmax["ARG_MAX"]
    transpose = _reasons(_litert("transpose_5d", "float32", shared_converter))
    assert "Permutation for transpose is invalid." in transpose["TRANSPOSE"]
    assert "Tensor dimensions must be less than 5." in transpose["RESHAPE"]


def test_litert_takes_what_the_classic_delegate_refuses(shared_converter):
    report = _litert("elementwise_mix", "float32", shared_converter)
    assert report.verdict == COMPATIBLE, report.render()
    assert {"ATAN2", "SIGN", "REVERSE_V2"} <= {p.op for p in report.ops}
    assert report.details["delegate"] == "litert"


def test_litert_refuses_a_model_with_variable_tensors_as_a_whole(shared_converter):
    report = _litert("lstm_fused", "float32", shared_converter)
    assert report.ops_on_target == 0
    assert all("Variable tensors not yet supported." in p.reason for p in report.ops)


def test_weight_only_dense_weights_refuse_the_model_but_dynamic_int4_runs(shared_converter):
    weight_only = _litert("conv_pool", "weight_only_wi4_afp32", shared_converter)
    assert weight_only.ops_on_target == 0
    assert "Shape mismatch" in weight_only.ops[0].reason
    from gpu_devset import DevModel, convert

    dynamic_model = convert(DevModel("conv_pool", "dynamic_wi4_afp32"), shared_converter)
    assert any(t.dtype == "int4" for t in dynamic_model.tensors)
    dynamic = LITERT.check(dynamic_model)
    assert dynamic.verdict == COMPATIBLE, dynamic.render()


# --- models ai-edge-quantizer quantized ---------------------------------------------------------


@pytest.fixture(scope="module")
def aeq_model(tiny_tflite):
    """``aeq_model(mode)``: the tiny model under an ai-edge-quantizer mode (under the
    blockwise mode its first Dense layer is int4 in blocks of 32, the 16-wide second int4
    per channel)."""
    return tiny_tflite


def test_litert_takes_channelwise_int4_weights_but_not_weight_only_or_blockwise_ones(aeq_model):
    assert LITERT.check(aeq_model("dynamic_int4")).verdict == COMPATIBLE
    weight_only = LITERT.check(aeq_model("int4_weights"))
    assert weight_only.ops_on_target == 0 and "DEQUANTIZE expands" in weight_only.ops[0].reason
    blockwise = LITERT.check(aeq_model("dynamic_int4_blockwise"))
    assert blockwise.ops_on_target == 0
    assert all("int4 weights quantized in blocks" in p.reason for p in blockwise.ops)
    assert "the dynamic_int4 mode" in blockwise.ops[0].fix
    assert GPU.skip_reason("int4_weights") is None and GPU.skip_reason("dynamic_int4_blockwise") is None


def test_int16_activations_are_skipped_and_their_operators_stay_on_the_cpu(aeq_model):
    assert "int16 arithmetic" in GPU.skip_reason("int16_activations")
    report = LITERT.check(aeq_model("int16_activations"))
    assert [p.op for p in report.ops if p.on_target] == ["RESHAPE"]
    assert "Tensor type(INT16) is not supported." in one(report, "QUANTIZE").reason


@pytest.mark.parametrize("mode", ["int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations"])
def test_the_accelerator_places_ai_edge_quantizer_models_as_the_rules_say(gpu_adapter, aeq_model, mode):
    model = aeq_model(mode)
    measured, predicted = GPU.with_options(confirm="always").check(model), LITERT.check(model)
    assert not measured.static and predicted.static
    assert measured.verdict == predicted.verdict
    assert [p.runs_on for p in measured.ops] == [p.runs_on for p in predicted.ops], measured.render()
    if mode == "dynamic_int4_blockwise":
        assert measured.failure.startswith("LiteRT crashed (SIG")  # SIGABRT or SIGSEGV: a corrupted heap
        assert any(n.startswith("as the rules expect: ") and "in blocks" in n for n in measured.notes)
        assert "the dynamic_int4 mode" in measured.ops[0].fix
