"""The per-layer drill-down on real conversions: a layer damaged on purpose is named first,
with the fix that repairs it; a healthy model keeps every layer high; tensors that do not
match are reported, not a crash; and the figures agree with ai-edge-quantizer's validator."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from support import edited_model

from pytest_tflite import DeclaredModel, TFLiteModel, get_mode
from pytest_tflite.drilldown import (
    ACTIVATION,
    CLIPPED_SHARE,
    INPUT,
    MAX_SAMPLES,
    OUTPUT,
    WEIGHT,
    WIDTH,
    LayerError,
    LayerErrors,
    drill_down_for_check,
    drill_down_text,
    layer_errors,
    records,
    suggest_fix,
)
from pytest_tflite.errors import DatasetError
from pytest_tflite.evaluate import SQNR_IDENTICAL_DB
from pytest_tflite.options import RunSettings
from pytest_tflite.session import TFLiteSession

DEAD_CHANNEL = 3
OUTLIER = 40.0


def conv_dense_dense(keras, name: str, *, damaged: bool):
    """Conv2D -> Dense -> Dense on 8x8x1 images. Damaged: one conv channel is dead (always 0
    after its ReLU) and the hidden Dense gives every one of its inputs a weight of OUTLIER, so
    int8 weights keep one step for the whole layer and its other weights round away, while
    the float model computes exactly what the healthy one does."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1), name="x"),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(4, name="logits"),
        ],
        name=name,
    )
    if damaged:
        kernel, bias = model.get_layer("conv").get_weights()
        kernel[..., DEAD_CHANNEL], bias[DEAD_CHANNEL] = 0.0, -1.0
        model.get_layer("conv").set_weights([kernel, bias])
        weights, hidden_bias = model.get_layer("hidden").get_weights()
        weights[DEAD_CHANNEL::4, :] = OUTLIER  # channels last: every 4th flattened input is the dead channel
        model.get_layer("hidden").set_weights([weights, hidden_bias])
    return model


@pytest.fixture(scope="module")
def images():
    """Calibration images; the first ones are also the samples compared, so that every
    activation stays inside the range calibration gave it."""
    return np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32)


@pytest.fixture(scope="module")
def healthy(tf_keras):
    return conv_dense_dense(tf_keras, "drill_healthy", damaged=False)


@pytest.fixture(scope="module")
def damaged(tf_keras):
    return conv_dense_dense(tf_keras, "drill_damaged", damaged=True)


@pytest.fixture(scope="module")
def convert(shared_converter, images):
    def run(model, mode, data=None):
        return shared_converter.convert(model, mode, representative_data=images if data is None else data)

    return run


def table_rows(text: str) -> list[str]:
    """The layer rows of a drill-down text: between the dashes under the header and the fix."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("---"))
    end = next(i for i, line in enumerate(lines) if line.startswith("fix to try:"))
    return lines[start + 1 : end]


@pytest.mark.parametrize("mode", ["int8", "full_int8", "int16x8"])
def test_the_damaged_layer_is_named_first(convert, damaged, images, mode):
    errors = layer_errors(convert(damaged, "float32"), convert(damaged, mode), images)
    assert errors[0].layer == "drill_damaged/hidden/MatMul", [e.layer for e in errors]
    worst, following = errors[0], errors[1]
    assert worst.op_name == "FULLY_CONNECTED" and worst.kind == ACTIVATION
    assert worst.sqnr_db < 5 and worst.added_sqnr_db < 5
    assert following.added_sqnr_db > 30  # the layers after it only pass its error on
    assert errors.samples == MAX_SAMPLES
    suggestion = suggest_fix(errors)
    assert suggestion.fix == "keep_float" and suggestion.layer == worst
    assert worst.pattern in suggestion.text


def test_the_operator_is_the_quantized_models_own(convert, damaged, images):
    """Each layer names the quantized model's operator that computes it: the one whose output
    it is, or, for a float copy, the one before the DEQUANTIZE that makes it."""
    model = convert(damaged, "int8")
    errors = layer_errors(convert(damaged, "float32"), model, images)
    dequantized = {op.outputs[0]: op.inputs[0] for op in model.operators if op.name == "DEQUANTIZE"}
    for error in (e for e in errors if e.op_index is not None):
        op = model.operators[error.op_index]
        index = next(t.index for t in model.tensors if t.name == error.tensor)
        assert op.name == error.op_name
        assert index in op.outputs or dequantized.get(index) in op.outputs, error


def test_the_output_of_an_int8_model_is_its_fully_connected_layer_in_int8(convert, damaged, images):
    errors = layer_errors(convert(damaged, "float32"), convert(damaged, "int8"), images)
    output = next(e for e in errors if e.kind == OUTPUT)
    assert output.op_name == "FULLY_CONNECTED" and output.dtype == "int8"  # not the DEQUANTIZE after it


def test_the_keep_float_pattern_matches_the_layer_alone(convert, damaged, images):
    reference = convert(damaged, "float32")
    errors = layer_errors(reference, convert(damaged, "int8"), images)
    computed = {reference.tensors[i].name for op in reference.operators for i in op.outputs}
    assert [name for name in computed if re.search(errors[0].pattern, name)] == [errors[0].tensor]


def test_the_suggested_mode_repairs_the_layer(convert, damaged, images):
    reference = convert(damaged, "float32")
    errors = layer_errors(reference, convert(damaged, "int8"), images)
    call = suggest_fix(errors).text.split("register_mode(")[1].rsplit(", replace=True)", 1)[0]
    mode = eval(call, {"get_mode": get_mode})  # the advice, as a user would paste it
    assert mode.name == "recipe" and mode.activations == "int8"
    repaired = layer_errors(reference, convert(damaged, mode), images)
    hidden = next(e for e in repaired if e.tensor == errors[0].tensor)
    assert hidden.dtype == "float32" and hidden.sqnr_db > 30
    output = lambda found: next(e for e in found if e.kind == OUTPUT)  # noqa: E731
    assert output(repaired).sqnr_db > output(errors).sqnr_db + 10


@pytest.mark.parametrize("mode", ["int8", "full_int8"])
def test_a_healthy_model_keeps_every_layer_high(convert, healthy, images, mode):
    errors = layer_errors(convert(healthy, "float32"), convert(healthy, mode), images)
    assert len(errors) >= 4
    assert min(e.sqnr_db for e in errors) > 30
    assert all(e.clipped < CLIPPED_SHARE for e in errors)
    assert min(w.sqnr_db for w in errors.weights) > 30
    assert {w.layer for w in errors.weights} >= {"drill_healthy/conv/Conv2D", "drill_healthy/hidden/MatMul"}


def test_the_model_input_is_measured_as_quantized(convert, healthy, images):
    """A float input is fed as is; an int8 one, or the QUANTIZE of a float one, is measured."""
    reference = convert(healthy, "float32")
    for mode, op_name in [("full_int8", None), ("int8", "QUANTIZE")]:
        inputs = [e for e in layer_errors(reference, convert(healthy, mode), images) if e.kind == INPUT]
        assert [e.op_name for e in inputs] == [op_name]
        assert 40 < inputs[0].sqnr_db < SQNR_IDENTICAL_DB  # 8 bits of [0, 1)
    dynamic = layer_errors(reference, convert(healthy, "dynamic_int8"), images)
    assert not [e for e in dynamic if e.kind == INPUT]


def test_inputs_beyond_the_calibrated_range_ask_for_calibration(convert, healthy, images):
    narrow = images * 0.1
    reference = convert(healthy, "float32")
    errors = layer_errors(reference, convert(healthy, "int8", data=narrow), images)
    first = errors.in_order()[0]
    assert first.op_name == "QUANTIZE" and first.clipped > 0.5
    assert suggest_fix(errors).fix == "calibration"
    assert "--tflite-calibration-samples" in suggest_fix(errors).text


def test_the_same_model_is_identical_everywhere(convert, healthy, images):
    model = convert(healthy, "float32")
    errors = layer_errors(model, model, images)
    assert errors.layers and all(e.sqnr_db == SQNR_IDENTICAL_DB and e.cosine == 1.0 for e in errors)
    assert suggest_fix(errors).fix == "none"


def test_mismatched_tensors_are_reported_and_the_rest_compared(convert, damaged, images):
    reference = convert(damaged, "float32")
    model = convert(damaged, "int8")
    renamed = {"drill_damaged/hidden", "StatefulPartitionedCall"}

    def rename(tree):
        for tensor in tree.subgraphs[0].tensors:
            name = tensor.name.decode()
            if any(name.startswith(prefix) for prefix in renamed):
                tensor.name = ("other_" + name).encode()

    edited = TFLiteModel(edited_model(model.content, rename), name="drill_damaged", mode="int8")
    errors = layer_errors(reference, edited, images)
    missing = {name for name, why in errors.unmatched if why == "absent"}
    assert "StatefulPartitionedCall:0" in missing
    assert any(name.startswith("drill_damaged/hidden/MatMul;") for name in missing)
    assert {e.layer for e in errors} >= {"drill_damaged/conv/Relu", "drill_damaged/flat/Reshape"}
    assert not any(e.layer.startswith(("drill_damaged/hidden", "StatefulPartitionedCall")) for e in errors)
    text = " ".join(drill_down_text(errors).split())
    assert "not compared: 3 tensor(s) of float32 have no counterpart here:" in text
    assert "StatefulPartitionedCall:0 (absent)" in text


def test_ai_edge_quantizers_validator_stops_where_the_drill_down_goes_on(convert, damaged, images):
    """Why the comparison is the plugin's own: the validator needs every output name."""
    from ai_edge_quantizer import model_validator

    model = convert(damaged, "int8")

    def rename(tree):
        for tensor in tree.subgraphs[0].tensors:
            if tensor.name == b"StatefulPartitionedCall:0":
                tensor.name = b"renamed:0"

    edited = edited_model(model.content, rename)
    reference = convert(damaged, "float32")
    with pytest.warns(UserWarning), pytest.raises(KeyError):
        model_validator.compare_model(reference.content, edited, {"serving_default": [{"x": images[:1]}]})
    assert len(layer_errors(reference, TFLiteModel(edited), images)) >= 4


AEQ_EPSILON = 1e-9
"""What ai-edge-quantizer's SNR adds to the mean squared error (``signal_to_noise_ratio``)."""


def test_one_sample_gives_ai_edge_quantizers_figures(convert, damaged, images):
    from ai_edge_quantizer import model_validator
    from ai_edge_quantizer.utils.validation_utils import ValidationErrorMetric as M

    reference, model = convert(damaged, "float32"), convert(damaged, "int8")
    with pytest.warns(UserWarning):
        result = model_validator.compare_model(
            reference.content, model.content, {"serving_default": [{"x": images[:1]}]},
            [M.MSE, M.SNR, M.COSINE_SIMILARITY],
        )
    theirs = result.get_all_tensor_results()
    errors = layer_errors(reference, model, images[:1])
    compared = [e for e in [*errors, *errors.weights] if e.tensor in theirs]
    assert len(compared) >= 8
    for error in compared:
        figures = theirs[error.tensor]
        if figures["mse"] == 0:
            assert error.sqnr_db == SQNR_IDENTICAL_DB
            continue
        snr = figures["snr"] * (figures["mse"] + AEQ_EPSILON) / figures["mse"]  # without its guard against 0
        assert error.sqnr_db == pytest.approx(10 * math.log10(snr), abs=0.01), error.tensor
        assert error.rmse**2 == pytest.approx(figures["mse"], rel=1e-4, abs=1e-12), error.tensor
        assert error.cosine == pytest.approx(figures["cosine_similarity"], abs=1e-5), error.tensor


def test_samples_by_name_and_their_errors(convert, healthy, images):
    reference, model = convert(healthy, "float32"), convert(healthy, "int8")
    by_name = layer_errors(reference, model, {"x": images})
    assert [e.to_dict() for e in by_name] == [e.to_dict() for e in layer_errors(reference, model, images)]
    with pytest.raises(DatasetError, match="no input named 'x'"):
        layer_errors(reference, model, {"image": images})
    with pytest.raises(DatasetError, match="at least one sample"):
        layer_errors(reference, model, images[:0])


def test_a_few_samples_are_all_used(convert, healthy, images):
    errors = layer_errors(convert(healthy, "float32"), convert(healthy, "int8"), images[:3])
    assert errors.samples == 3


# --- the text and the records ----------------------------------------------------------


def test_the_text_fits_and_names_the_layer_and_the_fix(convert, damaged, images):
    errors = layer_errors(convert(damaged, "float32"), convert(damaged, "int8"), images)
    text = drill_down_text(errors)
    lines = text.splitlines()
    assert all(len(line) <= WIDTH <= 100 for line in lines), max(lines, key=len)
    rows = table_rows(text)
    assert len(rows) == 5 and "drill_damaged/hidden/MatMul" in rows[0]
    assert "fix to try: layer 'drill_damaged/hidden/MatMul' (FULLY_CONNECTED" in text
    assert "keep it in float: convert under mode 'recipe'" in " ".join(lines)
    assert len(table_rows(drill_down_text(errors, limit=2))) == 2


def test_long_names_are_cut_at_their_start(convert, damaged, images):
    errors = layer_errors(convert(damaged, "float32"), convert(damaged, "int8"), images)
    long = dataclasses.replace(errors[0], tensor="outer_scope/" * 10 + errors[0].tensor)
    rows = table_rows(drill_down_text(dataclasses.replace(errors, layers=(long, *errors[1:]))))
    assert len(rows[0]) <= WIDTH and " .../drill_damaged/hidden/MatMul " in rows[0]


def test_records_are_json_and_name_the_worst_layer(convert, damaged, images):
    errors = layer_errors(convert(damaged, "float32"), convert(damaged, "int8"), images)
    found = dict(records(errors))
    assert found["tflite_drill_down_fix"] == "keep_float"
    assert found["tflite_drill_down_worst_layer"] == "drill_damaged/hidden/MatMul"
    assert found["tflite_drill_down_worst_sqnr_db"] < 5
    full = json.loads(json.dumps(found["tflite_drill_down"], allow_nan=False))
    assert full["mode"] == "int8" and full["reference_mode"] == "float32" and full["samples"] == MAX_SAMPLES
    assert full["layers"][0]["layer"] == "drill_damaged/hidden/MatMul"
    assert {w["kind"] for w in full["weights"]} == {WEIGHT}


# --- the rules, on figures written out ---------------------------------------------------


def layer(name: str, index: int, sqnr: float, added: float, dtype: str = "int8", clipped: float = 0.0) -> LayerError:
    return LayerError(name, ACTIVATION, index, "CONV_2D", dtype, sqnr, added, 0.1, 0.99, clipped)


def ranked(*layers: LayerError, mode: str | None = "int8") -> LayerErrors:
    ordered = sorted(layers, key=lambda e: (e.added_sqnr_db, e.sqnr_db))
    return LayerErrors(layers=tuple(ordered), samples=16, mode=mode, reference_mode="float32")


def test_error_built_up_in_int8_asks_for_int16_activations():
    errors = ranked(layer("a", 1, 35, 35), layer("b", 2, 31, 36), layer("c", 3, 28, 34))
    suggestion = suggest_fix(errors)
    assert suggestion.fix == "int16_activations" and suggestion.layer.layer == "c"
    assert "int16x8 or int16_activations" in suggestion.text


def test_error_built_up_in_int16_is_the_weights():
    errors = ranked(layer("a", 1, 35, 35, "int16"), layer("b", 2, 31, 36, "int16"), mode="int16x8")
    assert suggest_fix(errors).fix == "weights"


def test_quiet_layers_call_for_no_fix():
    assert suggest_fix(ranked(layer("a", 1, 45, 45), layer("b", 2, 41, 47))).fix == "none"


def test_clipping_wins_over_a_dominant_layer():
    errors = ranked(layer("a", 1, 12, 12, clipped=0.3), layer("b", 2, 11, 40))
    assert suggest_fix(errors).fix == "calibration"
    assert suggest_fix(ranked(layer("a", 1, 12, 12, clipped=0.01), layer("b", 2, 11, 40))).fix == "keep_float"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("int8", "get_mode('recipe').with_options(recipe='static_wi8_ai8', keep_float=['^a$'])"),
        ("int16x8", "get_mode('int16_activations').with_options(keep_float=['^a$'])"),
        ("dynamic_int8", "get_mode('recipe').with_options(keep_float=['^a$'])"),
        ("dynamic_int4", "get_mode('dynamic_int4').with_options(keep_float=['^a$'])"),
        (None, "get_mode('recipe').with_options(recipe='static_wi8_ai8', keep_float=['^a$'])"),
    ],
)
def test_keep_float_names_a_mode_that_takes_it(mode, expected):
    suggestion = suggest_fix(ranked(layer("a", 1, 8, 8), layer("b", 2, 7, 35), mode=mode))
    assert suggestion.fix == "keep_float" and expected in suggestion.text
    call = suggestion.text.split("register_mode(")[1].rsplit(", replace=True)", 1)[0]
    assert eval(call, {"get_mode": get_mode}).options["keep_float"] == ["^a$"]


def test_a_float16_layer_is_not_sent_to_an_integer_recipe():
    suggestion = suggest_fix(ranked(layer("a", 1, 8, 8), layer("b", 2, 7, 35), mode="float16"))
    assert suggestion.fix == "keep_float"
    assert "register_mode" not in suggestion.text and "convert under float32" in suggestion.text


# --- for a declared model's check ----------------------------------------------------------


def settings(tmp_path, *, drill_down: bool) -> RunSettings:
    return RunSettings(
        modes=["all"], targets=["cpu"], golden_dir=tmp_path, update_golden=False, budgets={}, cache_dir=None,
        calibration_samples=64, threads=1, warmup=0, report_paths=[], verbose=False, drill_down=drill_down,
    )


@pytest.fixture
def declared(damaged, images):
    labels = np.zeros(len(images), dtype=np.int64)
    return DeclaredModel("drill_damaged", source=damaged, representative_data=images, evaluation_data=(images, labels))


@pytest.mark.parametrize(
    ("failed", "flag", "computed"), [(True, False, True), (False, True, True), (False, False, False)]
)
def test_a_check_drills_down_when_it_failed_or_is_asked(tmp_path, convert, damaged, declared, failed, flag, computed):
    session = TFLiteSession(settings(tmp_path, drill_down=flag))
    text, found = drill_down_for_check(
        session, declared, convert(damaged, "int8"), convert(damaged, "float32"), failed=failed
    )
    if not computed:
        assert (text, found) == ("", [])
        return
    assert "drill_damaged/hidden/MatMul" in table_rows(text)[0]
    assert dict(found)["tflite_drill_down_worst_layer"] == "drill_damaged/hidden/MatMul"
    again = drill_down_for_check(session, declared, convert(damaged, "int8"), convert(damaged, "float32"), failed=True)
    assert again == (text, found)


def test_the_float32_model_itself_is_not_drilled(tmp_path, convert, damaged, declared):
    session = TFLiteSession(settings(tmp_path, drill_down=True))
    reference = convert(damaged, "float32")
    assert drill_down_for_check(session, declared, reference, reference, failed=True) == ("", [])


def test_a_drill_down_that_cannot_run_says_why(tmp_path, convert, damaged, images):
    session = TFLiteSession(settings(tmp_path, drill_down=False))
    wrong = DeclaredModel("drill_damaged", source=damaged, evaluation_data=(images[:, :4], np.zeros(64)))
    model, reference = convert(damaged, "int8"), convert(damaged, "float32")
    text, found = drill_down_for_check(session, wrong, model, reference, failed=True)
    assert text.startswith("quantization error per layer not measured: model 'drill_damaged'") and found == []
    assert "evaluation data" in text


@pytest.mark.parametrize(("args", "expected"), [((), False), (("--tflite-drill-down",), True)])
def test_the_flag_reaches_the_session(pytester: pytest.Pytester, args, expected):
    pytester.makepyfile(
        f"""
        def test_flag(tflite_session):
            assert tflite_session.settings.drill_down is {expected}
        """
    )
    pytester.runpytest(*args).assert_outcomes(passed=1)


def test_the_flag_is_in_the_help(pytester: pytest.Pytester):
    pytester.runpytest("--help").stdout.fnmatch_lines(["*--tflite-drill-down*quantization error of every layer*"])


def test_float16_weights_copies_do_not_hide_the_layers(convert, healthy, images):
    """A float16 model's DEQUANTIZE copies take the float32 activations' names
    (``Conv2D1``); the activations, renumbered, are compared all the same."""
    reference, model = convert(healthy, "float32"), convert(healthy, "float16")
    errors = layer_errors(reference, model, images)
    assert not errors.unmatched
    assert {e.layer for e in errors} == {e.layer for e in layer_errors(reference, convert(healthy, "int8"), images)} - {
        "tfl.quantize"
    }
    assert min(e.sqnr_db for e in errors) > 50
    assert {w.dtype for w in errors.weights} == {"float16"}


@pytest.mark.slow
def test_a_quantization_aware_model_is_compared_layer_by_layer(convert, shared_converter, healthy, images):
    labels = np.random.default_rng(2).integers(0, 4, len(images))
    model = shared_converter.convert(
        healthy, "qat_int8", representative_data=images, training_data=(images, labels),
        compile_config={"loss": "sparse_categorical_crossentropy", "optimizer": "adam"},
    )
    assert any("quant_hidden" in t.name for t in model.tensors)
    errors = layer_errors(convert(healthy, "float32"), model, images)
    assert {"drill_healthy/quant_conv/Relu", "drill_healthy/quant_hidden/MatMul"} <= {e.layer for e in errors}
    assert "fine-tunes the weights" in drill_down_text(errors)
