"""The per-layer drill-down in a declared model's accuracy check: named in the failure
message, recorded in the report, and measured on request for checks that pass."""

from __future__ import annotations

import json

import pytest

DAMAGED_MODELS = """
    import numpy as np
    from pytest_tflite import Budget, DeclaredModel

    X = np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32)


    def build():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((8, 8, 1), name="x"), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
             keras.layers.Flatten(name="flat"), keras.layers.Dense(16, activation="relu", name="hidden"),
             keras.layers.Dense(4, name="logits")],
            name="damaged",
        )
        kernel, bias = model.get_layer("conv").get_weights()
        kernel[..., 3], bias[3] = 0.0, -1.0  # a dead channel ...
        model.get_layer("conv").set_weights([kernel, bias])
        weights, hidden_bias = model.get_layer("hidden").get_weights()
        weights[3::4, :] = 40.0  # ... with huge weights: int8 keeps one step for the whole layer
        model.get_layer("hidden").set_weights([weights, hidden_bias])
        return model


    def evaluation():
        return X, build().predict(X, verbose=0).argmax(axis=1)


    damaged = DeclaredModel(
        "damaged", source=build, representative_data=X, evaluation_data=evaluation,
        modes=["float32", "int8"], budget=Budget(min_accuracy=0.99),
    )
"""


def test_a_failed_accuracy_check_names_the_damaged_layer(runtime_loaded, pytester: pytest.Pytester):
    pytester.makepyfile(tflite_models=DAMAGED_MODELS)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "-k", "accuracy", "--tflite-report=report.json", "--tflite-report=report.html",
        "--benchmark-skip",
    )
    result.assert_outcomes(failed=2)  # float32 lacks its baseline; int8 loses accuracy
    result.stdout.fnmatch_lines([
        "*BaselineFailure: model 'damaged', mode 'int8': worse than its golden baseline or over budget: accuracy*",
        "*quantization error per layer against float32 on 16 evaluation sample(s)*",
        "*FULLY_CONNECTED*damaged/hidden/MatMul*",
        "*fix to try: layer 'damaged/hidden/MatMul' (FULLY_CONNECTED *) adds far more error than any other*",
    ])
    assert all(len(line) <= 100 for line in result.outlines if "damaged/hidden" in line)
    report = json.loads((pytester.path / "report.json").read_text())
    int8 = next(c for c in report["checks"] if c["nodeid"].endswith("test_accuracy[int8]"))
    assert int8["properties"]["tflite_drill_down_worst_layer"] == "damaged/hidden/MatMul"
    assert int8["properties"]["tflite_drill_down_fix"] == "keep_float"
    assert int8["properties"]["tflite_drill_down"]["layers"][0]["op_name"] == "FULLY_CONNECTED"
    page = (pytester.path / "report.html").read_text()
    layers = int8["properties"]["tflite_drill_down"]["layers"]
    assert "<h2>Quantization error per layer</h2>" in page
    assert all(layer["tensor"] in page for layer in layers), "every layer, not the worst five"
    assert "Fix to try: layer &#x27;damaged/hidden/MatMul&#x27;" in page


def test_the_flag_records_a_passing_check(runtime_loaded, pytester: pytest.Pytester):
    pytester.makepyfile(tflite_models=DAMAGED_MODELS.replace("min_accuracy=0.99", "min_accuracy=0.0"))
    args = ["-p", "no:cacheprovider", "-k", "accuracy and int8", "--benchmark-skip", "--tflite-update-golden"]
    pytester.runpytest(*args, "--tflite-report=plain.json").assert_outcomes(passed=1)
    plain = json.loads((pytester.path / "plain.json").read_text())
    assert "tflite_drill_down" not in plain["checks"][0]["properties"]
    pytester.runpytest(*args, "--tflite-drill-down", "--tflite-report=drilled.json").assert_outcomes(passed=1)
    drilled = json.loads((pytester.path / "drilled.json").read_text())
    assert drilled["checks"][0]["properties"]["tflite_drill_down_worst_layer"] == "damaged/hidden/MatMul"
