"""The target layer shared by every engine: the report, the partitioner, the registry,
the assertion helper, and the cpu target, on models converted by the real converter."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pytest_tflite import TFLiteModel
from pytest_tflite.errors import CompatibilityFailure, TargetError, TFLiteError
from pytest_tflite.targets import (
    COMPATIBLE,
    INCOMPATIBLE,
    NOWHERE,
    ON_CPU,
    ON_TARGET,
    PARTIAL,
    CompatibilityReport,
    OpPlacement,
    Target,
    assert_compatible,
    check,
    get_target,
    register_target,
    target_names,
)
from pytest_tflite.targets.partition import partition
from pytest_tflite.targets.registry import _REGISTRY


def _functions_model(tf, fn, signature, *, select_ops=False, custom_ops=False, name="fn"):
    """Convert a tf.function with the real converter, optionally allowing Flex or custom ops."""
    module = tf.Module()
    module.f = tf.function(fn, input_signature=signature)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.f.get_concrete_function()], module
    )
    if select_ops:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.TFLITE_BUILTINS,
            tf.lite.OpsSet.SELECT_TF_OPS,
        ]
    converter.allow_custom_ops = custom_ops
    return TFLiteModel(converter.convert(), name=name)


@pytest.fixture(scope="module")
def branches(tf):
    """Three independent branches from one input, summed: relu(x) + floor(x) + tanh(x)."""
    spec = [tf.TensorSpec([1, 4], tf.float32)]
    return _functions_model(
        tf, lambda x: tf.nn.relu(x) + tf.floor(x) + tf.tanh(x), spec, name="branches"
    )


@pytest.fixture(scope="module")
def flex_model(tf):
    spec = [tf.TensorSpec([1, 4], tf.float32)]
    return _functions_model(
        tf, lambda x: tf.raw_ops.Cumprod(x=tf.nn.relu(x), axis=1) + 1.0, spec, select_ops=True,
        name="flex",
    )


@pytest.fixture(scope="module")
def custom_model(tf):
    spec = [tf.TensorSpec([1, 4], tf.float32)]
    return _functions_model(
        tf, lambda x: tf.raw_ops.Cumprod(x=tf.nn.relu(x), axis=1), spec, custom_ops=True,
        name="custom",
    )


# --- the report -------------------------------------------------------------------------


def _report(*placements: str, failure: str | None = None) -> CompatibilityReport:
    ops = [
        OpPlacement(i, name, 1, where, f"reason {where}", fix=f"fix {name}" if where != ON_TARGET else "")
        for i, (name, where) in enumerate(p.split(":") for p in placements)
    ]
    return CompatibilityReport("demo", "m", "int8", ops, failure=failure, target_title="Demo")


@pytest.mark.parametrize(
    ("placements", "failure", "verdict"),
    [
        (["CONV_2D:target", "ADD:target"], None, COMPATIBLE),
        (["QUANTIZE:cpu", "CONV_2D:target"], None, PARTIAL),
        (["CONV_2D:cpu", "ADD:cpu"], None, INCOMPATIBLE),
        (["CONV_2D:target", "FlexX:none"], None, INCOMPATIBLE),
        (["CONV_2D:target"], "compile failed", INCOMPATIBLE),
        ([], None, COMPATIBLE),
    ],
    ids=["all-on-target", "fallback", "none-on-target", "cannot-run", "failure", "empty"],
)
def test_verdict(placements, failure, verdict):
    assert _report(*placements, failure=failure).verdict == verdict


def test_report_counts_first_break_and_table():
    report = _report("QUANTIZE:cpu", "CONV_2D:target", "CONV_2D:target", "LEAKY_RELU:cpu", "CONV_2D:cpu")
    assert (report.ops_total, report.ops_on_target, report.ops_on_cpu, report.ops_nowhere) == (5, 2, 3, 0)
    assert report.fraction_on_target == pytest.approx(0.4)
    assert report.first_break.op == "QUANTIZE"
    assert report.table() == [
        ("QUANTIZE", 1, "reason cpu"),
        ("CONV_2D", 2, "reason target"),
        ("LEAKY_RELU", 1, "reason cpu"),
        ("CONV_2D", 1, "reason cpu"),
    ]
    assert report.fixes() == ["fix QUANTIZE", "fix LEAKY_RELU", "fix CONV_2D"]


def test_report_table_has_the_compiler_log_layout():
    lines = _report("CONV_2D:target", "CONV_2D:target").format_table().splitlines()
    assert lines[0] == f"{'Operator':<31}{'Count':<11}Status"
    assert lines[1] == ""
    assert lines[2] == f"{'CONV_2D':<31}{'2':<11}reason target"


def test_report_serialises_to_json_with_the_documented_keys():
    data = json.loads(_report("QUANTIZE:cpu", "CONV_2D:target").to_json())
    assert {"target", "verdict", "ops_total", "ops_on_target", "ops"} <= set(data)
    assert data["ops"][0] == {
        "index": 0, "op": "QUANTIZE", "version": 1, "runs_on": "cpu", "on_target": False,
        "reason": "reason cpu", "fix": "fix QUANTIZE",
    }
    assert data["first_break"]["op"] == "QUANTIZE"
    assert data["verdict"] == PARTIAL


def test_placement_must_be_known():
    with pytest.raises(ValueError, match="runs_on"):
        OpPlacement(0, "ADD", 1, "tpu", "x")


# --- the partitioner --------------------------------------------------------------------


def test_partition_of_a_chain_alternates(tiny_tflite):
    model = tiny_tflite("int8")  # QUANTIZE, RESHAPE?, FULLY_CONNECTED x2, DEQUANTIZE
    flags = [op.name not in ("QUANTIZE", "DEQUANTIZE") for op in model.operators]
    regions = partition(model, flags)
    assert [r.supported for r in regions] == [False, True, False]
    assert [i for r in regions for i in r.ops] == list(range(len(model.operators)))


def test_partition_joins_an_independent_branch_to_the_region(branches):
    names = [op.name for op in branches.operators]
    assert sorted(names) == ["ADD", "ADD", "FLOOR", "RELU", "TANH"]
    first, middle, last = [name for name in names if name != "ADD"]
    regions = partition(branches, [name != middle for name in names])
    # The last branch does not depend on the middle one: it joins the first region
    # although it is listed after it; the ADDs need every branch and come last.
    assert [(r.supported, sorted(names[i] for i in r.ops)) for r in regions] == [
        (True, sorted([first, last])),
        (False, [middle]),
        (True, ["ADD", "ADD"]),
    ]


def test_partition_checks_its_flags(branches):
    with pytest.raises(ValueError, match="flags"):
        partition(branches, [True])


# --- the registry -----------------------------------------------------------------------


def test_builtin_targets_are_registered():
    assert target_names()[:1] == ["cpu"]
    assert get_target("cpu") is get_target(get_target("cpu"))


def test_unknown_target_lists_the_known_ones():
    with pytest.raises(TargetError, match=r"no target called 'tpu'\. Known targets: cpu"):
        get_target("tpu")


def test_targets_skip_modes_they_cannot_run():
    integer_only = Target("npu", "NPU", "an integer accelerator", lambda m, o: None, accepts=("int8",))
    assert integer_only.skip_reason("full_int8") is None
    reason = integer_only.skip_reason("float16")
    assert "cannot run float32 arithmetic, which mode 'float16' produces" in reason
    assert "modes that fit: int8, full_int8" in reason
    assert get_target("cpu").skip_reason("int16x8") is None


def test_target_options_are_checked_and_copied():
    base = Target("npu", "NPU", "x", lambda m, o: None, options={"level": 1})
    assert base.with_options(level=2).options["level"] == 2
    assert base.options["level"] == 1
    assert base.with_options(name="npu2").name == "npu2"
    with pytest.raises(TargetError, match="has no option.* speed. It takes: level"):
        base.with_options(speed=3)


def test_register_refuses_a_silent_redefinition():
    target = Target("scratch_target", "Scratch", "x", lambda m, o: None)
    try:
        register_target(target)
        with pytest.raises(TargetError, match="already registered"):
            register_target(target)
        register_target(target, replace=True)
    finally:
        _REGISTRY.pop("scratch_target", None)


# --- the cpu target ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8", "float16", "int8", "full_int8", "int16x8"])
def test_converted_models_run_on_the_cpu(tiny_tflite, mode):
    model = tiny_tflite(mode)
    report = check(model, "cpu")
    assert report.verdict == COMPATIBLE, report.render()
    assert report.details["runs"] is True
    assert not report.static
    assert [op.op for op in report.ops] == [op.name for op in model.operators]


def test_xnnpack_takes_the_float_fully_connected_layers(tiny_tflite):
    report = check(tiny_tflite("float32"), "cpu")
    delegated = [op.op for op in report.ops if "XNNPACK" in op.reason]
    assert delegated.count("FULLY_CONNECTED") == 2
    assert report.details["xnnpack_ops"] == len(delegated)
    assert f"takes {len(delegated)} of {report.ops_total} operators" in report.notes[0]


def test_xnnpack_leaves_operators_it_has_no_kernel_for(tf, tf_keras, shared_converter):
    keras = tf_keras
    model = keras.Sequential(
        [
            keras.Input((8,), name="x"),
            keras.layers.Dense(4, name="d1"),
            keras.layers.Lambda(lambda t: tf.math.cumsum(t, axis=1), name="cumsum"),
            keras.layers.Dense(2, name="d2"),
        ]
    )
    report = check(shared_converter.convert(model, "float32"), "cpu")
    by_op = {op.op: op for op in report.ops}
    assert by_op["CUMSUM"].reason == "builtin kernel"
    assert "XNNPACK" in by_op["FULLY_CONNECTED"].reason
    assert report.details["xnnpack_ops"] == 2


def test_flex_operators_cannot_run_and_are_named(flex_model):
    report = check(flex_model, "cpu")
    assert report.verdict == INCOMPATIBLE
    flex = [op for op in report.ops if op.runs_on == NOWHERE]
    assert [op.op for op in flex] == ["FlexCumprod"]
    assert "Flex (Select TF) operator Cumprod" in flex[0].reason
    assert "SELECT_TF_OPS" in flex[0].fix
    assert "1 Flex (Select TF) operator(s) (FlexCumprod) need the Flex delegate" in report.failure
    assert report.details["runs"] is False


def test_unregistered_custom_operator_cannot_run(custom_model):
    report = check(custom_model, "cpu")
    assert report.verdict == INCOMPATIBLE
    (custom,) = [op for op in report.ops if op.runs_on == NOWHERE]
    assert custom.op == "Cumprod"
    assert "custom operator Cumprod (version 1) has no registration" in custom.reason
    assert "RELU" in [op.op for op in report.ops if op.runs_on == ON_TARGET]


# --- assert_compatible ------------------------------------------------------------------


def test_assert_compatible_returns_the_report(tiny_tflite):
    report = assert_compatible(tiny_tflite("full_int8"), "cpu")
    assert report.compatible


def test_assert_compatible_lists_offenders_and_fixes(flex_model):
    with pytest.raises(CompatibilityFailure) as caught:
        assert_compatible(flex_model, "cpu", min_on_target=0.5)
    message = str(caught.value)
    assert message.startswith("model 'flex': does not fit the CPU: the interpreter cannot load")
    assert "1 operator(s) cannot run at all" in message
    assert "Convert without SELECT_TF_OPS" in message
    assert "FlexCumprod" in message.split("\n\n", 1)[1]
    assert isinstance(caught.value, AssertionError)


def test_assert_compatible_threshold_counts_fallbacks():
    report_target = Target(
        "halfway", "Halfway", "x",
        lambda model, options: CompatibilityReport(
            "halfway", model.name, model.mode,
            [OpPlacement(i, op.name, op.version, ON_CPU if i % 2 else ON_TARGET, "r", fix="use relu")
             for i, op in enumerate(model.operators)],
        ),
    )
    model = TFLiteModel(_tiny_bytes(), name="tiny")
    share = sum(1 for i in range(len(model.operators)) if i % 2 == 0) / len(model.operators)
    assert_compatible(model, report_target, min_on_target=share)
    with pytest.raises(CompatibilityFailure, match=r"below the required 100%\. use relu"):
        assert_compatible(model, report_target)


def test_assert_compatible_rejects_a_bad_threshold(tiny_tflite):
    with pytest.raises(TargetError, match="between 0 and 1"):
        assert_compatible(tiny_tflite("float32"), "cpu", min_on_target=90)


def test_errors_are_tflite_errors():
    assert issubclass(CompatibilityFailure, TFLiteError)


_TINY: dict[str, bytes] = {}


def _tiny_bytes() -> bytes:
    if not _TINY:
        from pytest_tflite.conversion.tf_loader import tensorflow

        tf = tensorflow()
        spec = [tf.TensorSpec([1, 4], tf.float32)]
        _TINY["m"] = _functions_model(tf, lambda x: tf.nn.relu(x * 2.0) + 1.0, spec).content
    return _TINY["m"]


def test_predicted_inputs_run_on_zeros_even_with_a_dynamic_batch(tf, tf_keras, shared_converter):
    keras = tf_keras
    model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="d")])
    converted = shared_converter.convert(model, "float32")
    assert converted.inputs[0].shape_signature[0] == -1
    report = check(converted, "cpu")
    assert report.details["runs"] is True
    assert np.isfinite(converted.predict(np.zeros((2, 3), np.float32))).all()


def test_a_registered_variant_reports_under_its_own_name(tiny_tflite):
    variant = get_target("edgetpu").with_options(name="edgetpu13", runtime_version=13)
    try:
        register_target(variant)
        report = check(tiny_tflite("full_int8"), "edgetpu13")
        assert report.target == "edgetpu13"
        assert report.details["runtime_version"] == 13
        assert report.target_title == "Edge TPU"
    finally:
        _REGISTRY.pop("edgetpu13", None)
