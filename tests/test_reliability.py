"""Hostile model files: a model that crashes LiteRT fails its own checks, never the process."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from support import edited_model, operators_named

from pytest_tflite import TFLiteModel
from pytest_tflite.errors import ModelCrash, ModelFormatError


@pytest.fixture(scope="module")
def reshape_model(tf, shared_converter):
    """RELU -> RESHAPE, converted from a tf.function."""
    fn = tf.function(
        lambda x: tf.reshape(tf.nn.relu(x), (1, 16)), input_signature=[tf.TensorSpec((1, 4, 4), tf.float32)]
    )
    return shared_converter.convert(fn, "float32", name="reshape").content


@pytest.fixture(scope="module")
def crashing_file(reshape_model, tmp_path_factory):
    """The RESHAPE's shape input replaced by -1 ("omitted"): LiteRT's allocate_tensors segfaults."""

    def omit_shape(model):
        for op in operators_named(model, "RESHAPE"):
            op.inputs = [int(op.inputs[0]), -1]

    path = tmp_path_factory.mktemp("hostile") / "crashing.tflite"
    path.write_bytes(edited_model(reshape_model, omit_shape))
    return path


def test_a_model_that_segfaults_the_interpreter_raises_a_model_crash(crashing_file):
    model = TFLiteModel.from_file(crashing_file)
    with pytest.raises(ModelCrash, match="crashed with SIGSEGV") as excinfo:
        model.predict(np.zeros((1, 4, 4), np.float32))
    assert excinfo.value.source == "crashing"


def test_the_cli_exits_2_with_words_on_a_crashing_model(crashing_file):
    done = subprocess.run(
        [sys.executable, "-m", "pytest_tflite", "check", str(crashing_file), "--target", "cpu"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "crashed with SIGSEGV" in done.stderr


SESSION_MODELS = """
from pytest_tflite import DeclaredModel

healthy = DeclaredModel("healthy", source={healthy!r}, modes=["float32"])
crashing = DeclaredModel("crashing", source={crashing!r}, modes=["float32"])
"""


def test_a_crashing_model_beside_a_healthy_one_fails_only_its_own_tests(
    runtime_loaded, pytester, crashing_file, tiny_tflite_file
):
    pytester.makeini("[pytest]\ntflite_targets = cpu\naddopts = --benchmark-skip\n")
    pytester.makepyfile(tflite_models=SESSION_MODELS.format(healthy=str(tiny_tflite_file), crashing=str(crashing_file)))
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--tflite-update-golden",
        "--junitxml=junit.xml",
        f"--tflite-report={report}",
        "-rf",
        timeout=600,
    )
    assert result.ret == 1, result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 1 and outcomes.get("passed", 0) >= 1
    failed = [line for line in result.outlines if line.startswith("FAILED")]
    assert failed and all("crashing::" in line for line in failed), failed
    result.stdout.fnmatch_lines(["*crashed with SIGSEGV*"])
    suite = ET.parse(pytester.path / "junit.xml").getroot().find("testsuite")
    assert int(suite.get("tests")) == outcomes.get("passed", 0) + outcomes.get("failed", 0) + outcomes.get("skipped", 0)
    assert report.is_file() and "healthy" in report.read_text()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: setattr(m.subgraphs[0], "inputs", [99]), "names tensor 99 as an input"),
        (lambda m: setattr(m.subgraphs[0].tensors[0], "name", b"\xff\xfe"), "is not UTF-8"),
        (lambda m: setattr(m.subgraphs[0].operators[0], "outputs", [-1]), r"omitted \(-1\) output"),
        (lambda m: setattr(m.subgraphs[0].tensors[0], "buffer", 10_000), "refers to buffer 10000"),
    ],
    ids=["input-out-of-range", "name-not-utf8", "omitted-output", "buffer-out-of-range"],
)
def test_structural_damage_is_a_model_error_before_anything_loads(reshape_model, edit, words):
    with pytest.raises(ModelFormatError, match=words):
        TFLiteModel(edited_model(reshape_model, edit), name="damaged")


def test_a_constant_that_does_not_fit_its_buffer_is_a_model_error(reshape_model):
    def shrink(model):
        constant = next(t for t in model.subgraphs[0].tensors if _has_data(model.buffers[t.buffer]))
        constant.shape = [int(d) * 2 for d in constant.shape]

    with pytest.raises(ModelFormatError, match="needs .* bytes, but its buffer holds"):
        TFLiteModel(edited_model(reshape_model, shrink), name="damaged")


def _has_data(buffer) -> bool:
    return buffer.data is not None and len(buffer.data) > 0


def test_after_a_crash_the_next_model_loads_in_a_new_child(crashing_file, tiny_tflite_file):
    from pytest_tflite.model import isolation

    crashing = TFLiteModel.from_file(crashing_file).content
    healthy = TFLiteModel.from_file(tiny_tflite_file).content
    assert isolation._probe(crashing, 60) == "crashed with SIGSEGV"
    assert isolation._probe(healthy, 60) is None
    assert isolation._probe(healthy, 60) is None
