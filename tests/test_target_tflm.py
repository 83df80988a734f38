"""The tflm target: real models in the real TFLite Micro interpreter, against LiteRT's
reference kernels, as a report and through a declared model's checks."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import int4_int8_recipe

from pytest_tflite import check, get_mode, get_target
from pytest_tflite.targets.compatibility import COMPATIBLE, INCOMPATIBLE, NOWHERE, ON_TARGET
from pytest_tflite.targets.tflm import compare_with_reference, micro_available, reference_outputs, seeded_inputs

pytestmark = pytest.mark.skipif(micro_available() is not None, reason=str(micro_available()))

BY_HAND = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
data = open(sys.argv[1], "rb").read()
def runs(arena):
    try:
        it = runtime.Interpreter.from_bytes(data, arena_size=arena)
        it.set_input(np.zeros(it.get_input_details(0)["shape"], it.get_input_details(0)["dtype"]), 0)
        it.invoke()
        return True
    except RuntimeError:
        return False
print(runs(int(sys.argv[2])), runs(int(sys.argv[2]) - 16))
"""


@pytest.fixture(scope="module")
def int8_model(tiny_tflite):
    return tiny_tflite("full_int8")


def test_an_int8_model_runs_in_the_smallest_arena_tflite_micro_accepts(int8_model, tmp_path):
    report = check(int8_model, "tflm")
    assert report.verdict == COMPATIBLE and not report.static
    assert all(op.runs_on == ON_TARGET for op in report.ops)
    arena = report.details["arena_bytes"]
    path = tmp_path / "m.tflite"
    path.write_bytes(int8_model.content)
    done = subprocess.run([sys.executable, "-c", BY_HAND, str(path), str(arena)], capture_output=True, text=True)
    assert done.stdout.split() == ["True", "False"], done.stderr
    assert report.details["tool"].startswith("tflite-micro ")


def test_outputs_match_litert_reference_kernels_to_the_lsb(int8_model):
    report = check(int8_model, "tflm")
    assert report.details["compared_with"] == "LiteRT reference kernels"
    assert report.details["max_diff_lsb"] <= 1 and report.details["top1_agreement_seeded"] == 1.0
    assert any("LSB of LiteRT's reference kernels" in note for note in report.notes)


def test_the_reference_is_litert_with_reference_kernels(int8_model):
    inputs = seeded_inputs(int8_model, 3)
    assert inputs[0].dtype == np.int8 and inputs[0].shape[0] == 3
    reference = reference_outputs(int8_model, inputs)
    same = compare_with_reference(int8_model, inputs, reference)
    assert (same["max_diff_lsb"], same["top1_agreement_seeded"]) == (0, 1.0)
    shifted = [np.clip(reference[0].astype(np.int16) + 3, -128, 127).astype(np.int8)]
    assert compare_with_reference(int8_model, inputs, shifted)["max_diff_lsb"] == 3


def test_a_float_model_runs_too(tiny_tflite):
    report = check(tiny_tflite("float32"), "tflm")
    assert report.verdict == COMPATIBLE and report.details["max_abs_diff"] < 1e-4


def test_a_dynamic_range_model_is_refused_by_the_kernel_at_its_operator(tiny_tflite):
    model = tiny_tflite("dynamic_int8")
    report = check(model, "tflm")
    assert report.verdict == INCOMPATIBLE
    refused = [op for op in report.ops if op.runs_on == NOWHERE]
    assert [op.op for op in refused] == ["FULLY_CONNECTED"]
    assert "Input type: FLOAT32 with filter type: INT8 not supported" in refused[0].reason
    assert "full_int8" in refused[0].fix


def test_hybrid_modes_are_skipped_naming_the_modes_that_fit():
    tflm = get_target("tflm")
    for mode in ("dynamic_int8", "float16"):
        reason = tflm.skip_reason(mode)
        assert f"which mode '{mode}' produces" in reason and "full_int8" in reason and "float32," in reason
    assert tflm.skip_reason("float32") is None and tflm.skip_reason("int16x8") is None


def test_operators_without_a_kernel_are_all_named(tf):
    from pytest_tflite import TFLiteModel

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def net(x):
        values, _ = tf.math.top_k(x * 2.0, k=3)
        return values + tf.math.atan2(values, values + 1.0)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([net.get_concrete_function()], net)
    report = check(TFLiteModel(converter.convert(), name="topk"), "tflm")
    nowhere = {op.op: op.reason for op in report.ops if op.runs_on == NOWHERE}
    assert nowhere == {
        "TOPK_V2": "TFLite Micro has no kernel for TOPK_V2",
        "ATAN2": "TFLite Micro has no kernel for ATAN2",
    }
    assert "TOPK_V2" in report.failure and "ATAN2" in report.failure


def test_a_declared_model_reports_arena_agreement_and_kernels(pytester, runtime_loaded):
    pytester.makepyfile(
        tflite_models=textwrap.dedent("""
        import numpy as np
        from pytest_tflite import DeclaredModel

        def build():
            import tf_keras as keras

            keras.utils.set_random_seed(0)
            return keras.Sequential(
                [keras.Input((8,), name="x"), keras.layers.Dense(16, activation="relu", name="h"),
                 keras.layers.Dense(4, name="out")],
                name="toy",
            )

        rng = np.random.default_rng(0)
        x = rng.random((40, 8), dtype=np.float32)
        toy = DeclaredModel("toy", source=build, representative_data=x[:16],
                            evaluation_data=(x, rng.integers(0, 4, 40)), modes=["full_int8", "dynamic_int8"])
        """)
    )
    args = ["--tflite-target", "tflm", "-k", "compatible or accuracy", "--tflite-kernels", "reference",
            "--tflite-report", "report.json", "-p", "no:cacheprovider", "-rs"]
    first = pytester.runpytest_subprocess(*args, "--tflite-update-golden")
    first.assert_outcomes(passed=3, skipped=1)
    first.stdout.fnmatch_lines(["*SKIPPED*the TFLite Micro cannot run float32 arithmetic on int8 weights*"])
    recorded = json.loads((pytester.path / "golden" / "toy" / "full_int8.json").read_text())
    entry = recorded["targets"]["tflm"]
    assert entry["arena_bytes"] > 0 and entry["tool"].startswith("tflite-micro ")
    assert recorded["metric"]["kernels"] == "reference"
    second = pytester.runpytest_subprocess(*args)
    second.assert_outcomes(passed=3, skipped=1)
    rows = json.loads((pytester.path / "report.json").read_text())["rows"]
    (row,) = [r for r in rows if r["target"] == "tflm" and r["mode"] == "full_int8"]
    assert row["values"]["arena_bytes"] == entry["arena_bytes"]
    assert row["properties"]["tflite_tflm_top1_agreement_eval"] == 1.0
    assert row["properties"]["tflite_tflm_eval_samples"] == 40
    assert row["values"]["kernels"] == "reference"


def test_an_arena_budget_fails_the_check_with_the_figures(pytester, runtime_loaded, tiny_full_int8_file):
    pytester.makepyfile(
        tflite_models=f"""
        from pytest_tflite import Budget, DeclaredModel

        toy = DeclaredModel("toy", source={str(tiny_full_int8_file)!r}, modes=["full_int8"],
                            budget=Budget(max_arena_bytes=64))
        """
    )
    result = pytester.runpytest_subprocess("--tflite-target", "tflm", "-k", "compatible", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*arena_bytes on tflm*<= 64*fail*"])


# --- models ai-edge-quantizer quantized ---------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "op", "kernel_says", "reason"),
    [
        ("int4_weights", "DEQUANTIZE", "input->type == kTfLiteInt8", "DEQUANTIZE expands int4"),
        ("dynamic_int4", "FULLY_CONNECTED", "filter type: INT4 not supported", "int4 weights under float activations"),
    ],
)
def test_int4_weights_under_float_activations_are_refused_in_words(tiny_tflite, mode, op, kernel_says, reason):
    report = check(tiny_tflite(mode), "tflm")
    assert report.verdict == INCOMPATIBLE
    refused = [p for p in report.ops if p.runs_on == NOWHERE]
    assert [p.op for p in refused] == [op] and kernel_says in refused[0].reason
    assert reason in report.failure and "keeps float16 weights" not in report.failure
    assert "which mode" in get_target("tflm").skip_reason(mode)


def test_blockwise_scales_are_not_taken_for_float16_weights(tiny_tflite):
    report = check(tiny_tflite("dynamic_int4_blockwise"), "tflm")
    assert report.verdict == INCOMPATIBLE
    assert "int4 weights under float activations" in report.failure and "keeps float16 weights" not in report.failure


def test_int16_activations_run_and_match_the_reference_kernels(tiny_tflite):
    report = check(tiny_tflite("int16_activations"), "tflm")
    assert report.verdict == COMPATIBLE and all(op.runs_on == ON_TARGET for op in report.ops)
    assert report.details["compared_with"] == "LiteRT reference kernels"
    assert get_target("tflm").skip_reason("int16_activations") is None


def test_int4_weights_in_an_int8_model_are_refused_with_the_int8_advice(
    shared_converter, tiny_tf_keras, calibration_data
):
    mode = get_mode("recipe").with_options(recipe=int4_int8_recipe())
    report = check(shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data), "tflm")
    assert report.verdict == INCOMPATIBLE
    assert "the model keeps int4 weights, which this kernel does not take" in report.failure
    assert "quantize them to int8" in report.failure
