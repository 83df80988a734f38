"""The Ethos-U targets: real models compiled by the real Vela, read back as reports."""

from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support import int4_int8_recipe

from pytest_tflite import TargetError, TFLiteModel, check, get_mode, get_target
from pytest_tflite.targets.compatibility import COMPATIBLE, INCOMPATIBLE, ON_CPU, ON_TARGET, PARTIAL
from pytest_tflite.targets.ethosu import ETHOS_U55, ETHOS_U85, figures, vela_available
from pytest_tflite.targets.ethosu.vela import failure_text, parse_defaults, parse_refusals

pytestmark = pytest.mark.skipif(vela_available() is not None, reason=str(vela_available()))


def _int8(tf, function, samples):
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], function)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


@pytest.fixture(scope="module")
def gather_int8(tf):
    """Dense -> GATHER along the feature axis -> Dense: the U55 has no GATHER, the U85
    takes it only along the batch axis."""
    rng = np.random.default_rng(0)
    w1 = tf.constant(rng.standard_normal((16, 32)).astype("float32"))
    w2 = tf.constant(rng.standard_normal((16, 8)).astype("float32"))

    @tf.function(input_signature=[tf.TensorSpec([1, 16], tf.float32)])
    def net(x):
        hidden = tf.nn.relu(tf.matmul(x, w1))
        return tf.matmul(tf.gather(hidden, list(range(0, 32, 2)), axis=1), w2)

    samples = [rng.standard_normal((1, 16)).astype("float32") for _ in range(16)]
    return TFLiteModel(_int8(tf, net, samples), name="gather_int8", mode="full_int8")


@pytest.fixture(scope="module")
def conv_int8(tiny_tflite):
    return tiny_tflite("full_int8")


@pytest.fixture(scope="module")
def int4_weights(tiny_tflite, tmp_path_factory):
    """int8 activations with int4 weights (ai-edge-quantizer): Vela dies of SIGFPE on it."""
    from ai_edge_quantizer import quantizer, recipe

    plan = recipe.static_wi8_ai8()
    plan[0]["op_config"]["weight_tensor_config"]["num_bits"] = 4
    float_model = tiny_tflite("float32")
    qt = quantizer.Quantizer(bytearray(float_model.content), plan)
    rng = np.random.default_rng(0)
    signature = {"serving_default": [{"x": rng.random((1, 8, 8), dtype=np.float32)} for _ in range(8)]}
    content = bytes(qt.quantize(qt.calibrate(signature)).quantized_model)
    path = tmp_path_factory.mktemp("int4") / "int4.tflite"
    path.write_bytes(content)
    return path


def _vela_by_hand(content: bytes, tmp_path: Path, *flags: str) -> dict[str, str]:
    """Vela's own command line on the same bytes, and its summary CSV."""
    (tmp_path / "m.tflite").write_bytes(content)
    vela = Path(sys.executable).with_name("vela")
    subprocess.run([str(vela), "m.tflite", "--output-dir", "out", *flags], cwd=tmp_path, check=True,
                   capture_output=True)
    (summary,) = (tmp_path / "out").glob("m_summary_*.csv")
    with summary.open(newline="") as handle:
        return next(csv.DictReader(handle))


def test_the_figures_are_what_vela_reports_by_hand(conv_int8, tmp_path):
    report = check(conv_int8, "ethos-u55")
    by_hand = _vela_by_hand(conv_int8.content, tmp_path, "--accelerator-config", "ethos-u55-128")
    assert report.verdict == COMPATIBLE and not report.static
    assert {k: report.details[k] for k in figures(by_hand)} == figures(by_hand)
    assert report.details["cycles"] == int(by_hand["cycles_total"]) > 0
    assert report.details["sram_bytes"] == round(float(by_hand["sram_memory_used"]) * 1024)
    assert report.details["inference_us"] == pytest.approx(float(by_hand["inference_time"]) * 1e6)
    assert report.details["accelerator_configuration"] == "Ethos_U55_128"


def test_an_operator_vela_refuses_stays_on_the_cpu_with_velas_reason(gather_int8):
    u55, u85 = check(gather_int8, "ethos-u55"), check(gather_int8, "ethos-u85")
    for report in (u55, u85):
        assert [op.runs_on for op in report.ops] == [ON_TARGET, ON_CPU, ON_TARGET]
        assert report.verdict == PARTIAL and report.details["npu_partitions"] == 2
    assert u55.ops[1].reason == "Vela: Unsupported opType"
    assert u85.ops[1].reason == "Vela: axis: 1 != batch_dims: 0; axis must be equal to batch_dims"
    assert "vela --supported-ops-report" in u55.ops[1].fix


def test_the_per_layer_table_is_in_the_details(conv_int8):
    layers = check(conv_int8, "ethos-u55").details["layers"]
    assert {layer["runs_on"] for layer in layers} == {"NPU"}
    assert sum(layer["cycles"] for layer in layers) > 0
    assert {layer["original_operator"] for layer in layers} >= {"FullyConnected"}


def test_options_are_velas_flags(conv_int8, tmp_path):
    small = ETHOS_U55.with_options(name="u55_32", accelerator_config="ethos-u55-32", optimise="Size")
    report = small.check(conv_int8)
    by_hand = _vela_by_hand(
        conv_int8.content, tmp_path, "--accelerator-config", "ethos-u55-32", "--optimise", "Size"
    )
    assert report.target == "u55_32" and report.details["accelerator_configuration"] == "Ethos_U55_32"
    assert report.details["cycles"] == int(by_hand["cycles_total"])
    assert report.details["optimise"] == "Size"


def test_system_config_and_memory_mode_come_from_velas_config_file(conv_int8):
    report = ETHOS_U85.with_options(
        system_config="Ethos_U85_SYS_Flash_High", memory_mode="Shared_Sram"
    ).check(conv_int8)
    assert report.details["system_config"] == "Ethos_U85_SYS_Flash_High"
    assert report.details["memory_mode"] == "Shared_Sram"
    assert not any("default system configuration" in note for note in report.notes)


def test_a_config_file_of_ones_own_is_read(conv_int8, tmp_path):
    config = tmp_path / "board.ini"
    config.write_text(textwrap.dedent("""
        [System_Config.Board]
        core_clock=100e6
        axi0_port=Sram
        axi1_port=OffChipFlash
        Sram_clock_scale=1.0
        Sram_burst_length=32
        Sram_read_latency=32
        Sram_write_latency=32
        OffChipFlash_clock_scale=0.25
        OffChipFlash_burst_length=128
        OffChipFlash_read_latency=64
        OffChipFlash_write_latency=64

        [Memory_Mode.Board_Sram]
        const_mem_area=Axi1
        arena_mem_area=Axi0
        cache_mem_area=Axi0
    """))
    board = ETHOS_U55.with_options(config=str(config), system_config="Board", memory_mode="Board_Sram")
    report = board.check(conv_int8)
    assert report.verdict == COMPATIBLE and report.details["core_clock_hz"] == 100_000_000
    assert report.details["inference_us"] > check(conv_int8, "ethos-u55").details["inference_us"]


def test_a_system_config_vela_does_not_know_fails_the_report_in_velas_words(conv_int8):
    report = ETHOS_U55.with_options(system_config="No_Such_Board").check(conv_int8)
    assert report.verdict == INCOMPATIBLE
    assert report.failure.startswith("Vela could not compile the model:")
    assert "No_Such_Board" in report.failure


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"accelerator_config": "ethos-u85-256"}, "one of Vela's ethos-u55 builds"),
        ({"optimise": "Speed"}, "optimise must be Performance or Size"),
        ({"config": "/no/such/vela.ini"}, "does not exist"),
        ({"timeout": 0}, "timeout must be a positive number"),
    ],
)
def test_bad_options_are_named(conv_int8, options, words):
    with pytest.raises(TargetError, match=words):
        ETHOS_U55.with_options(**options).check(conv_int8)


def test_a_vela_crash_is_a_failed_report_naming_the_signal(int4_weights):
    report = check(TFLiteModel.from_file(int4_weights), "ethos-u55")
    assert report.verdict == INCOMPATIBLE
    assert report.failure == "Vela crashed (SIGFPE) while compiling the model"
    assert all(op.runs_on == ON_CPU for op in report.ops)


def test_a_vela_traceback_is_a_failed_report_with_velas_error():
    log = textwrap.dedent("""
        Traceback (most recent call last):
          File "vela.py", line 137, in process_regor
        RuntimeError: Compilation failed: Error: LSTM 'lstm' Does not have valid TFLite Semantics.
         - IFM must be INT8 or INT16
           IFM type=FLOAT32
        Failed to parse TFLite file
    """)
    assert failure_text(log, 1) == (
        "Vela could not compile the model: Compilation failed: Error: LSTM 'lstm' "
        "Does not have valid TFLite Semantics. - IFM must be INT8 or INT16 IFM type=FLOAT32"
    )


def test_refusals_and_defaults_are_read_from_velas_log():
    log = textwrap.dedent("""
        Warning: No system configuration specified. Using a default of Ethos_U55_High_End_Embedded. Compilation may be
        Warning (supported operators) operator: MEAN, ofm: 'pool/Mean'
        Reason: Operation has tensor with unsupported DataType Float32 (conv)
        Feature-map dataTypes must be one of {"INT8"}
        Warning (supported operators) operator: DEQUANTIZE, ofm: 'out:0'
        Reason: Unsupported opType

        Network summary for m
    """)
    (mean, dequantize) = parse_refusals(log)
    assert (mean.op, mean.output) == ("MEAN", "pool/Mean")
    assert mean.reason == (
        'Operation has tensor with unsupported DataType Float32 (conv); Feature-map dataTypes must be one of {"INT8"}'
    )
    assert (dequantize.op, dequantize.reason) == ("DEQUANTIZE", "Unsupported opType")
    assert parse_defaults(log) == {"system configuration": "Ethos_U55_High_End_Embedded"}


def test_float_modes_are_skipped_naming_the_modes_that_fit():
    reason = get_target("ethos-u55").skip_reason("float32")
    assert "cannot run float32 arithmetic" in reason and "full_int8" in reason and "int16x8" in reason
    assert get_target("ethos-u85").skip_reason("dynamic_int8") is not None
    assert get_target("ethos-u65").skip_reason("int16x8") is None


def test_without_vela_the_report_says_what_to_install(conv_int8, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ethosu" else real(name, *a))
    report = check(conv_int8, "ethos-u55")
    assert report.verdict == INCOMPATIBLE and "pip install 'pytest-tflite[ethos-u]'" in report.failure


def test_a_vela_crash_fails_one_test_and_the_session_ends_normally(pytester, int4_weights, tiny_full_int8_file):
    pytester.makepyfile(
        tflite_models=f"""
        from pytest_tflite import DeclaredModel

        crashing = DeclaredModel("int4", source={str(int4_weights)!r}, modes=["full_int8"])
        healthy = DeclaredModel("int8", source={str(tiny_full_int8_file)!r}, modes=["full_int8"])
        """
    )
    result = pytester.runpytest_subprocess(
        "--tflite-target", "ethos-u55", "-k", "compatible", "--tflite-update-golden", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Vela crashed (SIGFPE) while compiling the model*", "*tflite report*"])


# --- models ai-edge-quantizer quantized ---------------------------------------------------------


def test_int16_activations_compile_for_the_npu_behind_float_input_and_output(tiny_tflite):
    report = check(tiny_tflite("int16_activations"), "ethos-u55")
    assert report.verdict == PARTIAL and not report.failure
    placed = {op.op: op for op in report.ops}
    assert placed["FULLY_CONNECTED"].runs_on == ON_TARGET
    assert placed["QUANTIZE"].runs_on == ON_CPU and "unsupported DataType Float32" in placed["QUANTIZE"].reason
    assert placed["DEQUANTIZE"].reason == "Vela: Unsupported opType"
    assert get_target("ethos-u55").skip_reason("int16_activations") is None


@pytest.mark.parametrize("mode", ["int4_weights", "dynamic_int4", "int4_int8"])
def test_int4_weights_make_vela_crash_and_the_report_says_so(shared_converter, tiny_tf_keras, calibration_data, mode):
    chosen = get_mode("recipe").with_options(recipe=int4_int8_recipe()) if mode == "int4_int8" else get_mode(mode)
    report = check(shared_converter.convert(tiny_tf_keras, chosen, representative_data=calibration_data), "ethos-u55")
    assert report.verdict == INCOMPATIBLE
    assert report.failure == "Vela crashed (SIGFPE) while compiling the model"
    assert all(op.runs_on == ON_CPU for op in report.ops)
    skipped = get_target("ethos-u55").skip_reason(chosen)
    assert ("int8 arithmetic on int4 weights" if mode == "int4_int8" else "float32 arithmetic") in skipped
