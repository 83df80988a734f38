"""A repository of .tflite files needs no TensorFlow: targets, baselines, budgets,
evaluation, latency, the report and the ai-edge-quantizer modes run on LiteRT alone.

CI runs this file in a virtual environment with the core install only
(``pip install -e ".[test-core]"``), where ``PYTEST_TFLITE_CORE_INSTALL=1`` also asserts
that TensorFlow is not installed at all. Everywhere else the sessions still show that
nothing imports it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from pytest_tflite import Converter, TFLiteModel

MODEL = Path(__file__).parent / "data" / "digits_cnn_float32.tflite"
"""A small CNN trained on scikit-learn's 8x8 digits, in float32 (tests/data/make_digits_cnn.py)."""

QUANTIZER_MODES = ["int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations"]

DECLARED = f"""
    import numpy as np
    from pytest_tflite import Budget, DeclaredModel, TFLiteModel

    MODEL = {str(MODEL)!r}
    IMAGES = np.random.default_rng(0).random((64, 8, 8, 1), dtype=np.float32)


    def evaluation():
        # the float model's own answers: what each quantized mode must keep
        return IMAGES, TFLiteModel.from_file(MODEL).predict(IMAGES).argmax(axis=1)


    digits = DeclaredModel(
        "digits", source=MODEL, representative_data=IMAGES, evaluation_data=evaluation,
        modes=["float32", *{QUANTIZER_MODES!r}], budget=Budget(min_accuracy=0.5),
    )
"""

IMPORTS_WRITTEN = """
    import json
    import sys


    def pytest_sessionfinish(session):
        imported = sorted(m for m in ("tensorflow", "tf_keras", "keras") if m in sys.modules)
        with open("imported.json", "w") as handle:
            json.dump(imported, handle)
"""


def test_the_core_install_has_no_tensorflow():
    if os.environ.get("PYTEST_TFLITE_CORE_INSTALL") != "1":
        pytest.skip("set PYTEST_TFLITE_CORE_INSTALL=1 in an environment with the core install only")
    assert importlib.util.find_spec("tensorflow") is None
    assert importlib.util.find_spec("tf_keras") is None


@pytest.mark.parametrize("mode", QUANTIZER_MODES)
def test_a_tflite_file_quantizes_under_the_quantizer_modes(tmp_path, mode):
    converter = Converter(tmp_path)
    images = np.random.default_rng(1).random((16, 8, 8, 1), dtype=np.float32)
    float_model = TFLiteModel.from_file(MODEL)
    quantized = converter.convert(MODEL, mode, representative_data=images)
    assert quantized.mode == mode
    assert quantized.size_bytes < float_model.size_bytes
    agreement = np.mean(quantized.predict(images).argmax(1) == float_model.predict(images).argmax(1))
    assert agreement >= 0.8


@pytest.mark.slow
def test_a_repository_of_tflite_files_runs_every_check_without_tensorflow(pytester: pytest.Pytester):
    pytester.makeconftest(IMPORTS_WRITTEN)
    pytester.makepyfile(tflite_models=DECLARED)
    common = ["-p", "no:cacheprovider", "--tflite-target", "all", "--benchmark-disable"]
    first = pytester.runpytest_subprocess(*common, "--tflite-update-golden")
    # LiteRT's GPU accelerator crashes on blockwise Dense weights: the one check that fails
    assert _failed(first) == ["tflite_models.py::digits::test_compatible[dynamic_int4_blockwise-gpu]"]
    assert json.loads((pytester.path / "imported.json").read_text()) == []
    assert sorted(p.name for p in (pytester.path / "golden" / "digits").glob("*.json")) == sorted(
        f"{mode}.json" for mode in ["float32", *QUANTIZER_MODES]
    )

    second = pytester.runpytest_subprocess(*common, "--tflite-report=report.json")
    assert _failed(second) == _failed(first)
    assert second.parseoutcomes()["passed"] == first.parseoutcomes()["passed"]
    assert "golden/digits/" not in second.stdout.str(), "no baseline left unused"
    assert json.loads((pytester.path / "imported.json").read_text()) == []
    report = json.loads((pytester.path / "report.json").read_text())
    modes = {check["properties"].get("tflite_mode") for check in report["checks"]}
    assert modes >= {"float32", *QUANTIZER_MODES}


def _failed(result: pytest.RunResult) -> list[str]:
    return sorted(line.split()[1] for line in result.outlines if line.startswith("FAILED "))


def test_the_converters_modes_skip_a_tflite_source_unless_it_is_declared_under_them(pytester: pytest.Pytester):
    pytester.makepyfile(tflite_models=f"""
        from pytest_tflite import DeclaredModel

        every_mode = DeclaredModel("every_mode", source={str(MODEL)!r})
        labelled = DeclaredModel("labelled", source={str(MODEL)!r}, modes=["float32", "float16"])
    """)
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "converts", "-rfs")
    quantizer_modes = ["float32", "int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "recipe"]
    converter_modes = ["dynamic_int8", "float16", "int8", "full_int8", "int16x8", "qat_int8", "pruned",
                       "clustered", "pruned_clustered", "pruned_qat_int8", "clustered_qat_int8",
                       "pruned_clustered_qat_int8"]
    # int16_activations calibrates, and no representative data is declared: it says so
    assert _failed(result) == ["tflite_models.py::every_mode::test_converts[int16_activations]"]
    assert result.parseoutcomes()["passed"] == len(quantizer_modes) + 2
    assert result.parseoutcomes()["skipped"] == len(converter_modes)
    result.stdout.fnmatch_lines(["*every_mode*'int8': this mode runs TensorFlow's converter*"])
    assert "labelled" not in "".join(line for line in result.outlines if line.startswith("SKIPPED"))
