"""Model sources: what as_source recognises, what it refuses, and content fingerprints."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite import SourceError, convert
from pytest_tflite.conversion.sources import ACCEPTED, InputSpec, Source, as_source
from pytest_tflite.conversion.tf_loader import keras_flavor

TINY_SPECS = [InputSpec(name="x", shape=(None, 8, 8), dtype="float32")]


def _affine_module(tf, scale: float = 1.0):
    """A tf.Module whose __call__ is a tf.function with an input signature."""

    class Affine(tf.Module):
        def __init__(self):
            super().__init__(name="affine")
            rng = np.random.default_rng(3)
            self.w = tf.Variable(scale * rng.standard_normal((4, 3)).astype(np.float32))
            self.b = tf.Variable(rng.standard_normal(3).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="inp")])
        def __call__(self, x):
            return tf.nn.relu(tf.matmul(x, self.w) + self.b)

    return Affine()


@pytest.fixture(scope="module")
def affine(tf):
    return _affine_module(tf)


@pytest.fixture(scope="module")
def affine_inputs():
    return np.random.default_rng(4).standard_normal((5, 4)).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tf, tiny_tf_keras, tiny_keras3, affine):
    """Every file and folder form of a source, written once for the module."""
    import warnings

    root = tmp_path_factory.mktemp("sources")
    tiny_keras3.save(root / "k3.keras")
    tiny_tf_keras.save(root / "tfk.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf-keras calls HDF5 "legacy"
        tiny_tf_keras.save(root / "tfk.h5")
    tf.saved_model.save(affine, str(root / "affine_savedmodel"))
    tiny_keras3.export(str(root / "k3_export"), verbose=False)
    return root


def _message(excinfo) -> str:
    return str(excinfo.value)


# --- recognised sources -------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "kind"), [("tiny_tf_keras", "tf_keras"), ("tiny_keras3", "keras3")])
def test_keras_models(request, fixture, kind):
    model = request.getfixturevalue(fixture)
    src = as_source(model)
    assert src.kind == kind
    assert src.name == model.name
    assert not src.is_tflite
    assert src.keras_model() is model
    assert src.input_specs() == TINY_SPECS


@pytest.mark.parametrize(
    ("filename", "reference", "flavor"),
    [
        ("k3.keras", "tiny_keras3", "keras3"),
        ("tfk.keras", "tiny_tf_keras", "tf_keras"),
        ("tfk.h5", "tiny_tf_keras", "tf_keras"),
    ],
)
def test_keras_files(request, saved, keras_predict, test_inputs, filename, reference, flavor):
    path = saved / filename
    src = as_source(path)
    assert src.kind == "keras_file"
    assert src.name == path.stem
    assert keras_flavor(src.keras_model()) == flavor, "loaded by the Keras that wrote it"
    assert src.keras_model() is src.keras_model(), "loaded once"
    assert src.input_specs() == TINY_SPECS
    as_str = as_source(str(path))
    assert as_str.kind == "keras_file"
    model = convert(path)
    expected = keras_predict(request.getfixturevalue(reference), test_inputs)
    np.testing.assert_allclose(model.predict(test_inputs), expected, rtol=1e-5, atol=1e-5)


def test_saved_model_of_a_tf_module(saved, affine, affine_inputs):
    path = saved / "affine_savedmodel"
    src = as_source(path)
    assert src.kind == "saved_model"
    assert src.name == "affine_savedmodel"
    assert src.input_specs() == [InputSpec("inp", (None, 4), "float32")]
    model = convert(str(path))
    expected = affine(affine_inputs).numpy()
    np.testing.assert_allclose(model.predict(affine_inputs), expected, rtol=1e-5, atol=1e-5)


def test_saved_model_exported_by_keras3(saved, tiny_keras3, keras_predict, test_inputs):
    src = as_source(saved / "k3_export")
    assert src.kind == "saved_model"
    [spec] = src.input_specs()
    assert (spec.shape, spec.dtype) == ((None, 8, 8), "float32")
    model = convert(src)
    expected = keras_predict(tiny_keras3, test_inputs)
    np.testing.assert_allclose(model.predict(test_inputs), expected, rtol=1e-5, atol=1e-5)


def test_tf_function_with_input_signature(tf, affine_inputs):
    w = np.random.default_rng(5).standard_normal((4, 2)).astype(np.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
    def project(x):
        return tf.tanh(tf.matmul(x, w))

    src = as_source(project)
    assert src.kind == "concrete_function"
    assert src.name == "project"
    assert src.input_specs() == [InputSpec("features", (None, 4), "float32")]
    model = convert(project)
    assert model.name == "project"
    np.testing.assert_allclose(model.predict(affine_inputs), np.tanh(affine_inputs @ w), rtol=1e-5, atol=1e-5)


def test_concrete_function(tf, affine, affine_inputs):
    function = affine.__call__.get_concrete_function()
    src = as_source(function)
    assert src.kind == "concrete_function"
    assert isinstance(src.name, str) and src.name
    assert not src.name.startswith("b'"), "a byte-string name is decoded"
    assert src.concrete_function() is function
    assert src.input_specs() == [InputSpec("inp", (None, 4), "float32")]
    model = convert(function, name="affine_cf")
    assert model.name == "affine_cf"
    expected = affine(affine_inputs).numpy()
    np.testing.assert_allclose(model.predict(affine_inputs), expected, rtol=1e-5, atol=1e-5)


def test_tflite_file_and_bytes(tiny_tflite, tiny_tflite_file):
    content = tiny_tflite("float32").content
    src = as_source(tiny_tflite_file)
    assert (src.kind, src.name, src.is_tflite) == ("tflite_file", "tiny", True)
    assert src.tflite_bytes() == content
    assert as_source(str(tiny_tflite_file)).kind == "tflite_file"
    for form in (content, bytearray(content), memoryview(content)):
        src = as_source(form)
        assert (src.kind, src.is_tflite) == ("tflite_bytes", True)
        assert src.tflite_bytes() == content


def test_uppercase_suffixes_are_recognised(tmp_path, tiny_tflite):
    path = tiny_tflite("float32").save(tmp_path / "MODEL.TFLITE")
    assert as_source(path).kind == "tflite_file"


def test_name_override_and_source_passthrough(tiny_tf_keras):
    src = as_source(tiny_tf_keras, name="renamed")
    assert src.name == "renamed"
    assert as_source(src) is src
    again = as_source(src, name="other")
    assert isinstance(again, Source) and again.name == "other" and again.obj is tiny_tf_keras


# --- refused sources ----------------------------------------------------------------


@pytest.mark.parametrize("obj", [{"weights": [1, 2]}, 42, None, [1, 2, 3], object()], ids=type)
def test_unknown_objects_are_refused(obj):
    with pytest.raises(SourceError, match="cannot convert an object of type") as excinfo:
        as_source(obj)
    assert type(obj).__name__ in _message(excinfo)
    assert ACCEPTED in _message(excinfo)


@pytest.mark.parametrize("as_text", [False, True], ids=["path", "str"])
def test_missing_path(tmp_path, as_text):
    missing = tmp_path / "nowhere" / "model.keras"
    with pytest.raises(SourceError, match="does not exist") as excinfo:
        as_source(str(missing) if as_text else missing)
    assert str(missing) in _message(excinfo)
    assert ACCEPTED in _message(excinfo)


def test_folder_that_is_no_saved_model(tmp_path):
    (tmp_path / "variables").mkdir()
    (tmp_path / "model.txt").write_text("not a model")
    with pytest.raises(SourceError, match="is not a SavedModel") as excinfo:
        as_source(tmp_path)
    assert "saved_model.pb" in _message(excinfo)
    assert ACCEPTED in _message(excinfo)


@pytest.mark.parametrize("filename", ["model.onnx", "weights.npz", "model.pb", "README"])
def test_wrong_suffix(tmp_path, filename):
    path = tmp_path / filename
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(SourceError, match="no model format") as excinfo:
        as_source(path)
    suffix = path.suffix or "(none)"
    assert repr(suffix) in _message(excinfo)
    assert ACCEPTED in _message(excinfo)


@pytest.mark.parametrize("filename", ["broken.keras", "broken.h5"])
def test_unreadable_keras_file(tmp_path, tf, filename):
    path = tmp_path / filename
    path.write_bytes(b"this is not a Keras model" * 10)
    src = as_source(path)
    assert src.kind == "keras_file"
    with pytest.raises(SourceError, match="neither Keras 3 nor tf-keras could load") as excinfo:
        convert(path)
    message = _message(excinfo)
    assert "model 'broken'" in message
    assert "keras3:" in message and "tf_keras:" in message, "both loaders' reasons are kept"


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_keras_model_without_input_shape(request, flavor):
    keras = request.getfixturevalue(flavor)
    unbuilt = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)], name=f"unbuilt_{flavor}")
    src = as_source(unbuilt)
    assert src.kind == flavor
    with pytest.raises(SourceError, match="no defined input shape") as excinfo:
        convert(unbuilt)
    message = _message(excinfo)
    assert f"model 'unbuilt_{flavor}'" in message
    assert "keras.Input" in message
    with pytest.raises(SourceError, match="keras.Input"):
        src.input_specs()


def test_tf_function_without_input_signature(tf):
    @tf.function
    def doubled(x):
        return 2.0 * x

    src = as_source(doubled)
    assert src.kind == "concrete_function"
    with pytest.raises(SourceError, match="no input_signature") as excinfo:
        convert(doubled)
    message = _message(excinfo)
    assert "model 'doubled'" in message
    assert "input_signature=[tf.TensorSpec" in message
    with pytest.raises(SourceError, match="no input_signature"):
        src.input_specs()


def test_saved_model_without_signatures(tmp_path, tf):
    module = tf.Module()
    module.v = tf.Variable(1.0)
    tf.saved_model.save(module, str(tmp_path / "bare"))
    src = as_source(tmp_path / "bare")
    assert src.kind == "saved_model"
    with pytest.raises(SourceError, match="has no signatures"):
        src.input_specs()


# --- fingerprints -------------------------------------------------------------------


@pytest.mark.parametrize("flavor", ["tf_keras", "keras3"])
def test_fingerprint_follows_the_weights(request, make_dense_model, flavor):
    keras = request.getfixturevalue(flavor)
    model = make_dense_model(keras, name="fingerprinted", seed=7)
    first = as_source(model).fingerprint()
    assert as_source(model).fingerprint() == first, "stable for the same model"
    assert as_source(model, name="other name").fingerprint() == first, "the display name is no content"

    twin = keras.models.clone_model(model)
    twin.set_weights(model.get_weights())
    assert as_source(twin).fingerprint() == first, "same graph and weights, same fingerprint"

    weights = model.get_weights()
    changed = [w.copy() for w in weights]
    changed[-1][0] += 1e-3
    model.set_weights(changed)
    assert as_source(model).fingerprint() != first, "one changed bias, another fingerprint"
    model.set_weights(weights)
    assert as_source(model).fingerprint() == first

    reseeded = keras.models.clone_model(model)  # same graph, freshly initialised weights
    assert as_source(reseeded).fingerprint() != first


def test_fingerprint_of_a_function_follows_its_variables(tf, affine_inputs):
    module = _affine_module(tf)
    function = module.__call__
    first = as_source(function).fingerprint()
    assert as_source(function).fingerprint() == first
    original = module.w.numpy()
    module.w.assign(original + 0.5)
    assert as_source(function).fingerprint() != first
    module.w.assign(original)
    assert as_source(function).fingerprint() == first


def test_fingerprint_of_files(tmp_path, tiny_tflite):
    float32, dynamic = tiny_tflite("float32"), tiny_tflite("dynamic_int8")
    a = float32.save(tmp_path / "a.tflite")
    b = float32.save(tmp_path / "b.tflite")
    c = dynamic.save(tmp_path / "c.tflite")
    assert as_source(a).fingerprint() == as_source(b).fingerprint()
    assert as_source(a).fingerprint() != as_source(c).fingerprint()
    assert as_source(float32.content).fingerprint() == as_source(bytes(float32.content)).fingerprint()
    assert as_source(float32.content).fingerprint() != as_source(dynamic.content).fingerprint()


def test_fingerprint_of_a_saved_model_follows_its_files(tmp_path, tf):
    module = _affine_module(tf)
    tf.saved_model.save(module, str(tmp_path / "one"))
    first = as_source(tmp_path / "one").fingerprint()
    assert as_source(tmp_path / "one").fingerprint() == first
    module.b.assign(module.b + 1.0)
    tf.saved_model.save(module, str(tmp_path / "two"))
    assert as_source(tmp_path / "two").fingerprint() != first
