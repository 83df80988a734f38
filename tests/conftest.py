"""Shared fixtures: real, tiny Keras models and data for the plugin's own tests."""

from __future__ import annotations

import numpy as np
import pytest
from support import dense_model, keras_outputs

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tf():
    from pytest_tflite.conversion.tf_loader import tensorflow

    return tensorflow()


@pytest.fixture(scope="session")
def tf_keras(tf):
    import tf_keras

    return tf_keras


@pytest.fixture(scope="session")
def keras3(tf):
    import keras

    return keras


@pytest.fixture(scope="session")
def tiny_tf_keras(tf_keras):
    return dense_model(tf_keras)


@pytest.fixture(scope="session")
def tiny_keras3(keras3):
    return dense_model(keras3, name="tiny_keras3")


@pytest.fixture(scope="session")
def calibration_data():
    return np.random.default_rng(0).random((32, 8, 8), dtype=np.float32)


@pytest.fixture(scope="session")
def runtime_loaded(tf_keras):
    """Import what a conversion needs before any in-process pytester run.

    pytester restores ``sys.modules`` after each run; modules first imported inside a
    run would be dropped and imported again, which TensorFlow does not survive.
    """
    import ai_edge_litert.interpreter  # noqa: F401
    import ai_edge_litert.schema_py_generated  # noqa: F401

    import pytest_tflite.conversion.converter  # noqa: F401
    import pytest_tflite.model.runtime  # noqa: F401
    import pytest_tflite.targets  # noqa: F401


@pytest.fixture(scope="session")
def keras_predict():
    """``keras_outputs`` as a fixture: ``keras_predict(model, x)``."""
    return keras_outputs


@pytest.fixture(scope="session")
def make_dense_model():
    """``dense_model`` as a fixture, for test modules that build their own variants."""
    return dense_model


@pytest.fixture(scope="session")
def test_inputs():
    """Inputs for the tiny models, drawn apart from the calibration data."""
    return np.random.default_rng(1).random((64, 8, 8), dtype=np.float32)


@pytest.fixture(scope="session")
def shared_converter():
    """One in-memory converter for the session, so each (model, mode) converts once."""
    from pytest_tflite import Converter

    return Converter()


@pytest.fixture(scope="session")
def tiny_tflite(shared_converter, tiny_tf_keras, calibration_data):
    """``tiny_tflite(mode)``: the tiny tf-keras model converted under ``mode`` (memoised)."""

    def convert(mode="float32"):
        return shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)

    return convert


@pytest.fixture(scope="session")
def tiny_tflite_file(tmp_path_factory, tiny_tflite):
    """The tiny model's float32 flatbuffer, saved as ``tiny.tflite``."""
    return tiny_tflite("float32").save(tmp_path_factory.mktemp("tflite") / "tiny.tflite")


@pytest.fixture(scope="session")
def tiny_full_int8_file(tmp_path_factory, tiny_tflite):
    """The tiny model's full_int8 flatbuffer, saved as ``tiny_int8.tflite``."""
    return tiny_tflite("full_int8").save(tmp_path_factory.mktemp("tflite") / "tiny_int8.tflite")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs a pytest session of its own (through ``pytester``) as
    ``pytester``, so ``-m "not pytester"`` runs the fast unit tests alone."""
    for item in items:
        if "pytester" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pytester)


@pytest.fixture(scope="session")
def gpu_adapter(tiny_tflite):
    """The GPU adapter LiteRT's accelerator finds here (lavapipe on a CPU-only machine).

    Skips without one, unless ``PYTEST_TFLITE_REQUIRE_GPU=1`` (as ``.ci/run`` sets it,
    after installing the driver): then a missing adapter fails instead of hiding the tests.
    """
    import os

    from pytest_tflite.targets.gpu import confirm_on_gpu, gpu_api_available
    from pytest_tflite.targets.gpu.confirm import parse_log

    required = os.environ.get("PYTEST_TFLITE_REQUIRE_GPU") == "1"
    missing = pytest.fail if required else pytest.skip
    if gpu_api_available() is None:
        missing("no Vulkan loader (libvulkan.so.1): no GPU adapter for LiteRT")
    probe = confirm_on_gpu(tiny_tflite("float32").content)
    if not probe.ok:
        missing(f"LiteRT found no usable GPU adapter: {probe.error}")
    return parse_log(probe.detail).adapter
