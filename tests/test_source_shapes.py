"""Sources beyond the plain Sequential: subclassed models, custom layers, several inputs,
SavedModels fed by input name, generators shared between modes."""

from __future__ import annotations

import importlib.util
import textwrap

import numpy as np
import pytest

from pytest_tflite import Converter, DatasetError, SourceError, convert
from pytest_tflite.conversion.sources import as_source

X8 = np.random.default_rng(3).random((40, 8), dtype=np.float32)


def _subclassed(keras):
    class Head(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(3)

        def call(self, x):
            return self.dense(x) * 2.0

    return Head()


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_called_subclassed_model_converts_and_agrees(request, flavor):
    keras = request.getfixturevalue(flavor)
    model = _subclassed(keras)
    expected = np.asarray(model(X8))
    converted = convert(model, "int8", representative_data=X8)
    assert converted.inputs[0].shape_signature == (-1, 8)
    assert np.abs(converted.predict(X8) - expected).max() < 0.05 * np.abs(expected).max()


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer")
def test_keras3_subclassed_model_built_with_build_converts(keras3):
    model = _subclassed(keras3)
    model.build((None, 8))
    assert convert(model, "float32").inputs[0].shape_signature == (-1, 8)


def test_tf_keras_subclassed_model_built_with_build_says_to_call_it(tf_keras):
    model = _subclassed(tf_keras)
    model.build((None, 8))
    with pytest.raises(SourceError, match=r"Call the model once on a sample batch"):
        convert(model, "float32")


def _layer_module(tmp_path, name: str, factor: float):
    """A custom layer class written to a real file, so its source can be read."""
    path = tmp_path / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            f"""
            import tf_keras as keras

            class Scale(keras.layers.Layer):
                def call(self, x):
                    return x * {factor}
            """
        )
    )
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_editing_a_custom_layer_changes_the_fingerprint(tmp_path, tf_keras):
    def model_with(module):
        return tf_keras.Sequential([tf_keras.Input((4,)), module.Scale(name="scale")], name="m")

    two = as_source(model_with(_layer_module(tmp_path, "layers_v1", 2.0))).fingerprint()
    same = as_source(model_with(_layer_module(tmp_path, "layers_v1", 2.0))).fingerprint()
    five = as_source(model_with(_layer_module(tmp_path, "layers_v2", 5.0))).fingerprint()
    assert two == same
    assert two != five


def test_generated_layer_names_do_not_change_the_fingerprint(tf_keras, make_dense_model):
    first = make_dense_model(tf_keras, name="named", seed=1)
    make_dense_model(tf_keras, name="other", seed=2)  # shifts Keras's layer counters
    second = make_dense_model(tf_keras, name="named", seed=1)
    assert [layer.name for layer in first.layers] != [layer.name for layer in second.layers]
    assert as_source(first).fingerprint() == as_source(second).fingerprint()


@pytest.fixture(scope="module")
def two_input_saved_model(tf, tmp_path_factory):
    """A SavedModel whose inputs differ in range by 100x, so swapped calibration shows."""

    class TwoInputs(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 4], tf.float32, name="zeta"),
                tf.TensorSpec([None, 4], tf.float32, name="alpha"),
            ]
        )
        def __call__(self, zeta, alpha):
            return {"big": zeta * 2.0, "small": alpha * 2.0}

    module = TwoInputs()
    path = tmp_path_factory.mktemp("sm") / "two_inputs"
    tf.saved_model.save(module, str(path), signatures=module.__call__)
    return path


def test_saved_model_calibration_is_fed_by_input_name(two_input_saved_model):
    rng = np.random.default_rng(0)
    zeta, alpha = rng.random((50, 4), dtype=np.float32) * 100, rng.random((50, 4), dtype=np.float32)
    model = convert(two_input_saved_model, "full_int8", representative_data={"zeta": zeta, "alpha": alpha})
    scales = {t.name.split("_", 2)[-1].split(":")[0]: t.quantization.scales[0] for t in model.inputs}
    assert scales["zeta"] > 50 * scales["alpha"], scales
    outputs = model.predict({"zeta": zeta, "alpha": alpha})
    assert max(float(np.abs(o).max()) for o in outputs) > 150, "zeta * 2 is not clipped"


def test_damaged_saved_model_is_a_source_error_under_integer_modes(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "saved_model.pb").write_bytes(b"not a protobuf at all")
    with pytest.raises(SourceError, match=r"cannot load the SavedModel"):
        convert(folder, "int8", representative_data=X8)


def test_one_generator_calibrates_every_mode(tf_keras, make_dense_model):
    model = make_dense_model(tf_keras, name="gen_model", seed=4)
    data = np.random.default_rng(5).random((30, 8, 8), dtype=np.float32)
    generator = (row[np.newaxis] for row in data)
    converter = Converter()
    for mode in ("int8", "full_int8", "int16x8"):
        converter.convert(model, mode, representative_data=generator, calibration_samples=20)
    assert converter.stats["converted"] == 3


def test_exhausted_generator_says_so(tf_keras, make_dense_model):
    model = make_dense_model(tf_keras, name="gen_model2", seed=4)
    generator = iter([])
    with pytest.raises(DatasetError, match=r"exhausted.*function that returns a new generator"):
        convert(model, "int8", representative_data=generator)


def test_one_array_per_input_calibrates_a_two_input_model(keras3):
    a, b = keras3.Input((4,), name="a"), keras3.Input((4,), name="b")
    model = keras3.Model([a, b], keras3.layers.Dense(2)(keras3.layers.Concatenate()([a * 100.0, b])))
    rng = np.random.default_rng(6)
    xa, xb = rng.random((30, 4), dtype=np.float32), rng.random((30, 4), dtype=np.float32)
    converted = convert(model, "int8", representative_data=[xa, xb])
    expected = np.asarray(model([xa, xb]))
    assert np.abs(converted.predict([xa, xb]) - expected).max() < 0.05 * np.abs(expected).max()


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_keras_inputs_are_calibrated_by_name_whatever_the_converted_order(request, flavor):
    keras = request.getfixturevalue(flavor)
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    model = keras.Model([a, b], [keras.layers.Dense(2)(a), keras.layers.Dense(2)(b)])
    rng = np.random.default_rng(7)
    xa, xb = rng.random((40, 4), dtype=np.float32) * 100, rng.random((40, 4), dtype=np.float32)
    converted = convert(model, "full_int8", representative_data=[xa, xb])
    scales = {t.name.removeprefix("serving_default_").split(":")[0]: t.quantization.scales[0] for t in converted.inputs}
    assert scales["a"] > 50 * scales["b"], scales
