"""The gpu target measured with LiteRT's GPU accelerator on this machine's adapter.

On a CPU-only machine Mesa's lavapipe (Vulkan) is the adapter; without any adapter the
tests that need one skip, the log parser's tests still run.
"""

from __future__ import annotations

import pytest
from support import dense_model

from pytest_tflite.errors import CompatibilityFailure
from pytest_tflite.targets.compatibility import ON_CPU, ON_TARGET, OpPlacement
from pytest_tflite.targets.engine import Finding
from pytest_tflite.targets.gpu import GPU, gpu_api_available
from pytest_tflite.targets.gpu.confirm import LogBlock, parse_log, placement_from_log
from pytest_tflite.targets.registry import assert_compatible

AUTO = GPU.with_options(confirm="auto", confirm_timeout=60)

ADAPTER = "llvmpipe (LLVM 15.0.6, 256 bits), arch=software, vendor=mesa, backend=Vulkan, adapterType=CPU / Software"
GATHER_LOG = "\n".join(
    [
        f"I0000 00:00:1796126526.010362    4511 environment.cc:532] Selected adapter: {ADAPTER}",
        "ERROR: Following operations are not supported by GPU delegate:",
        "GATHER: Only support 1D indices",
        "1 operations will run on the GPU, and the remaining 1 operations will run on the CPU.",
        "I0000 00:00:1796126526.022188    4511 delegate_kernel.cc:984] Initializing WebGPU-based API from graph.",
    ]
)

NOTHING_LOG = "\n".join(
    [
        "ERROR: Following operations are not supported by GPU delegate:",
        "ARG_MAX: Tensor type(INT64) is not supported. model_3/lambda_3/ArgMax",
        "STRIDED_SLICE: Slice does not support shrink_axis_mask parameter. ",
        "No operations will run on the GPU, and all 2 operations will run on the CPU.",
    ]
)


@pytest.fixture(scope="module")
def adapter(tf_keras, shared_converter):
    """The accelerator's report of a tiny dense model; skips unless LiteRT finds an adapter."""
    if gpu_api_available() is None:
        pytest.skip("no Vulkan loader (libvulkan.so.1): no GPU adapter for LiteRT")
    model = shared_converter.convert(dense_model(tf_keras, "dense_gpu"), "float32")
    report = AUTO.check(model)
    if report.static:
        pytest.skip(f"LiteRT found no usable GPU adapter: {report.notes[0]}")
    return report


@pytest.fixture(scope="module")
def lambda_model(tf_keras, shared_converter):
    """``lambda_model(width, body)``: Dense(width) -> Lambda(body), converted to float32."""

    def make(shape, body, name, dense=True):
        tf_keras.utils.set_random_seed(0)
        x = tf_keras.Input(shape, batch_size=1)
        y = tf_keras.layers.Dense(shape[-1])(x) if dense else x
        y = tf_keras.layers.Lambda(body)(y)
        return shared_converter.convert(tf_keras.Model(x, y, name=name), "float32")

    return make


def ops(report):
    return {p.op: p for p in report.ops}


def test_parser_reads_the_adapter_the_unsupported_kinds_and_the_counts():
    log = parse_log(GATHER_LOG)
    assert log.adapter == ADAPTER
    assert log.blocks == (LogBlock((("GATHER", "Only support 1D indices"),), 1, 1),)


def test_parser_reads_no_operations_on_the_gpu_and_strips_trailing_spaces():
    log = parse_log(NOTHING_LOG)
    assert log.adapter is None
    assert log.blocks == (
        LogBlock(
            (
                ("ARG_MAX", "Tensor type(INT64) is not supported. model_3/lambda_3/ArgMax"),
                ("STRIDED_SLICE", "Slice does not support shrink_axis_mask parameter."),
            ),
            0,
            2,
        ),
    )


def test_parser_without_placement_lines_means_everything_on_the_gpu():
    log = parse_log("INFO: [delegate_webgpu.cc:363] Created a WebGPU environment.\n")
    assert log.blocks == () and log.block_for(3) is None


def test_each_subgraph_gets_its_block_and_the_main_one_is_found_by_its_count():
    body = GATHER_LOG.replace(
        "1 operations will run on the GPU, and the remaining 1",
        "14 operations will run on the GPU, and the remaining 5",
    )
    log = parse_log(NOTHING_LOG + "\n" + body)
    assert [b.total for b in log.blocks] == [2, 19]
    assert log.block_for(19).unsupported == (("GATHER", "Only support 1D indices"),)
    assert log.block_for(4) is None


def _in_order(found):
    """A stand-in partitioner: an operator without a finding runs on the GPU."""
    return [
        OpPlacement(i, op, 1, ON_CPU if f else ON_TARGET, f.reason if f else "runs on the GPU")
        for i, (op, f) in enumerate(zip(["GATHER", "GATHER", "FULLY_CONNECTED"], found))
    ]


def test_a_kind_listed_for_some_of_its_operators_refuses_only_those_the_rules_refuse():
    predicted = _in_order([None, None, None])
    rules = [None, Finding("indices are 2-D"), None]
    block = parse_log(
        GATHER_LOG.replace("1 operations will run on the GPU", "2 operations will run on the GPU")
    ).blocks[0]
    measured, note = placement_from_log(predicted, block, _in_order, rules)
    assert [p.runs_on for p in measured] == [ON_TARGET, ON_CPU, ON_TARGET]
    assert "Only support 1D indices" in measured[1].reason
    assert note == ""


def test_counts_that_do_not_add_up_are_named():
    predicted = _in_order([None, None, None])
    block = parse_log(
        GATHER_LOG.replace("1 operations will run on the GPU", "2 operations will run on the GPU")
    ).blocks[0]
    measured, note = placement_from_log(predicted, block, _in_order, [None, None, None])
    assert [p.runs_on for p in measured] == [ON_CPU, ON_CPU, ON_TARGET]
    assert "counts 2 operators on the GPU" in note and "puts 1 on the GPU" in note


def test_conv_model_runs_fully_on_the_gpu(adapter, tf_keras, shared_converter):
    tf_keras.utils.set_random_seed(0)
    layers = tf_keras.layers
    keras_model = tf_keras.Sequential(
        [
            tf_keras.Input((8, 8, 3), batch_size=1),
            layers.Conv2D(4, 3, activation="relu"),
            layers.Flatten(),
            layers.Dense(4),
        ],
        name="conv_gpu",
    )
    report = AUTO.check(shared_converter.convert(keras_model, "float32"))
    assert not report.static and report.failure is None, report.render()
    assert all(p.runs_on == ON_TARGET for p in report.ops), report.render()
    assert report.details["adapter"]
    assert report.details["gpu_only_compiles"] is True
    assert report.details["max_rel_diff"] < 1e-2
    assert report.details["predicted_cpu_op_indices"] == []


def test_dense_model_is_measured_and_close_to_the_cpu(adapter):
    assert adapter.verdict == "compatible", adapter.render()
    assert adapter.details["confirmed"] is True
    assert adapter.details["max_rel_diff"] < 1e-2


def test_two_dimensional_gather_indices_stay_on_the_cpu(adapter, lambda_model, tf):
    model = lambda_model((8, 6), lambda t: tf.gather(t, tf.constant([[0, 2], [3, 5]]), axis=2), "gather2d")
    report = AUTO.check(model)
    gather = ops(report)["GATHER"]
    assert gather.runs_on == ON_CPU
    assert "Only support 1D indices" in gather.reason
    assert ops(report)["FULLY_CONNECTED"].runs_on == ON_TARGET
    assert (report.details["ops_on_gpu_logged"], report.details["ops_on_cpu_logged"]) == (1, 1)
    assert report.details["gpu_only_compiles"] is False
    assert report.failure is None, report.render()


def test_topk_runs_on_the_gpu_as_the_litert_rules_say_not_as_the_classic_delegate_would(adapter, lambda_model, tf):
    model = lambda_model((16,), lambda t: tf.math.top_k(t, k=3).values, "topk16")
    report = AUTO.check(model)
    topk = ops(report)["TOPK_V2"]
    assert topk.runs_on == ON_TARGET
    assert report.details["predicted_cpu_op_indices"] == []
    assert report.failure is None, report.render()
    classic = GPU.with_options(confirm="auto", delegate="classic").check(model)
    assert classic.details["predicted_cpu_op_indices"] == [topk.index]
    assert ops(classic)["TOPK_V2"].runs_on == ON_TARGET
    assert any("TOPK_V2 (operator 1) on the GPU, predicted on the CPU" in n for n in classic.notes), classic.notes


def test_wrong_gpu_results_fail_the_report(adapter, lambda_model, tf):
    """LiteRT 2.3's GPU CUMSUM along the last axis of a 2-D tensor is off by half the
    output's range (measured on lavapipe); along another axis it is right."""
    model = lambda_model((16,), lambda t: tf.math.cumsum(t, axis=-1), "cumsum_last", dense=False)
    report = AUTO.check(model)
    assert report.failure and report.failure.startswith("the GPU computes wrong results"), report.render()
    with pytest.raises(CompatibilityFailure, match="the GPU computes wrong results"):
        assert_compatible(model, AUTO, min_on_target=0.0)
    other_axis = lambda_model((8, 2, 4), lambda t: tf.math.cumsum(t, axis=1), "cumsum_h", dense=False)
    assert AUTO.check(other_axis).failure is None


def test_a_model_that_crashes_the_accelerator_fails_with_the_signal(adapter, lambda_model, tf):
    """CUMSUM along the channels of a 4-D tensor kills LiteRT's GPU run (SIGILL on lavapipe)."""
    model = lambda_model((2, 2, 16), lambda t: tf.math.cumsum(t, axis=-1), "cumsum_c", dense=False)
    report = AUTO.check(model)
    assert not report.static
    assert report.failure and "LiteRT crashed (SIG" in report.failure, report.render()
    assert report.ops_on_target == 0


def test_never_confirm_gives_the_static_prediction(lambda_model, tf):
    model = lambda_model((16,), lambda t: tf.math.top_k(t, k=3).values, "topk16")
    report = GPU.with_options(confirm="never", delegate="classic").check(model)
    assert report.static
    assert ops(report)["TOPK_V2"].runs_on == ON_CPU
    assert ops(report)["TOPK_V2"].reason == "TOPK_V2 is not supported by the GPU delegate"
    litert = GPU.with_options(confirm="never").check(model)
    assert ops(litert)["TOPK_V2"].runs_on == ON_TARGET


def test_a_quantized_model_is_measured_but_its_difference_not_judged(adapter, tiny_tflite):
    """The CPU runs int8 kernels, the GPU float16 on dequantized weights: their outputs
    differ by quantization noise, which says nothing about the GPU being wrong."""
    report = AUTO.check(tiny_tflite("int8"))
    assert report.static is False and report.failure is None
    assert any("quantization noise, not judged" in note for note in report.notes)
    assert isinstance(report.details["max_rel_diff"], float)


def test_a_loop_body_gets_its_own_logged_block(adapter, shared_converter):
    """A GRU that converts to WHILE: the main subgraph's block places the main operators,
    the body's block (its 2-D GATHER on the CPU) is kept in the details."""
    from gpu_devset import DevModel, convert

    report = AUTO.check(convert(DevModel("gru_loop", "float32"), shared_converter))
    assert ops(report)["WHILE"].runs_on == ON_CPU
    assert "WHILE: Operation is not supported." in ops(report)["WHILE"].reason
    bodies = report.details["other_subgraphs_logged"]
    assert bodies and all("GATHER: Only support 1D indices" in b["unsupported"] for b in bodies)
