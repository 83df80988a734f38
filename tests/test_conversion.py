"""Converting real models under every mode: accuracy, tensor types, sizes, the converter's
memory and disk cache, and the converter's refusals turned into readable errors."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite import (
    ConversionError,
    Converter,
    DatasetError,
    ModeError,
    TFLiteError,
    TFLiteModel,
    convert,
    get_mode,
)

MODES = ["float32", "dynamic_int8", "float16", "int8", "full_int8", "int16x8"]
KIB = 1024

# Largest absolute error against Keras on inputs inside the calibration range (the
# tiny model's outputs span about [-1.3, 0.8]; an int8 output step is about 0.009).
MAX_ERROR = {
    "float32": 1e-5,
    "float16": 1e-2,
    "dynamic_int8": 0.03,
    "int8": 0.05,
    "full_int8": 0.05,
    "int16x8": 0.03,
}


@pytest.fixture(scope="module")
def reference(tiny_tf_keras, keras_predict, calibration_data, test_inputs):
    return {
        "calibration": keras_predict(tiny_tf_keras, calibration_data),
        "test": keras_predict(tiny_tf_keras, test_inputs),
    }


# --- every mode -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_mode_agrees_with_keras(tiny_tflite, reference, calibration_data, test_inputs, mode):
    model = tiny_tflite(mode)
    assert isinstance(model, TFLiteModel)
    assert (model.name, model.mode) == ("tiny_dense", mode)

    in_range = model.predict(calibration_data)
    assert in_range.shape == reference["calibration"].shape
    assert in_range.dtype == np.float32
    assert np.abs(in_range - reference["calibration"]).max() <= MAX_ERROR[mode]

    unseen = model.predict(test_inputs)
    agreement = np.mean(unseen.argmax(1) == reference["test"].argmax(1))
    assert agreement >= (1.0 if mode in ("float32", "float16") else 0.9)
    assert np.abs(unseen - reference["test"]).mean() <= min(MAX_ERROR[mode], 0.02)


def test_modes_give_different_models(tiny_tflite):
    contents = {mode: tiny_tflite(mode).content for mode in MODES}
    assert len(set(contents.values())) == len(MODES)


def test_float32_keeps_float_weights(tiny_tflite):
    model = tiny_tflite("float32")
    assert {t.dtype for t in model.tensors} <= {"float32", "int32"}
    assert all(t.quantization is None for t in model.tensors if t.dtype == "float32")
    assert [op.name for op in model.operators] == ["RESHAPE", "FULLY_CONNECTED", "FULLY_CONNECTED"]


def test_dynamic_int8_has_int8_weights_and_float_activations(tiny_tflite):
    model = tiny_tflite("dynamic_int8")
    weights = [t for t in model.tensors if t.is_constant and t.dtype == "int8"]
    # the 64x16 kernel; the 16x4 one is below the converter's size threshold and stays float
    assert [t.shape for t in weights] == [(16, 64)]
    assert all(t.quantization and min(t.quantization.scales) > 0 for t in weights)
    assert not any(t.dtype in ("int8", "int16") for t in model.tensors if not t.is_constant)
    assert [t.dtype for t in model.inputs + model.outputs] == ["float32", "float32"]


def test_float16_stores_float16_weights(tiny_tflite):
    model = tiny_tflite("float16")
    assert any(t.dtype == "float16" and t.is_constant for t in model.tensors)
    assert "DEQUANTIZE" in model.op_histogram
    assert [t.dtype for t in model.inputs + model.outputs] == ["float32", "float32"]


def test_int8_has_int8_activations_and_float_io(tiny_tflite):
    model = tiny_tflite("int8")
    assert [t.dtype for t in model.inputs + model.outputs] == ["float32", "float32"]
    activations = [t for t in model.tensors if not t.is_constant and t.dtype == "int8"]
    assert activations and all(t.quantization.scales[0] > 0 for t in activations)
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(model.op_histogram)


@pytest.mark.parametrize(("io_dtype", "low", "high"), [("int8", -128, 127), ("uint8", 0, 255)])
def test_full_int8_has_integer_io(
    shared_converter, tiny_tf_keras, calibration_data, reference, io_dtype, low, high
):
    mode = get_mode("full_int8").with_options(io_dtype=io_dtype)
    model = shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)
    for tensor in model.inputs + model.outputs:
        assert tensor.dtype == io_dtype
        q = tensor.quantization
        assert q is not None and len(q.scales) == 1
        assert q.scales[0] > 0
        assert low <= q.zero_points[0] <= high
    # integer-only: no float tensor anywhere in the graph
    assert {t.dtype for t in model.tensors} <= {"int8", "uint8", "int32"}
    assert "DEQUANTIZE" not in model.op_histogram
    # the input covers the calibration range [0, 1)
    q = model.inputs[0].quantization
    assert q.scales[0] * (high - q.zero_points[0]) >= 0.99
    output = model.predict(calibration_data)
    assert np.abs(output - reference["calibration"]).max() <= MAX_ERROR["full_int8"]


def test_full_int8_uint8_differs_only_in_io(shared_converter, tiny_tf_keras, calibration_data):
    int8 = shared_converter.convert(tiny_tf_keras, "full_int8", representative_data=calibration_data)
    mode = get_mode("full_int8").with_options(io_dtype="uint8")
    uint8 = shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)
    assert uint8.content != int8.content
    assert uint8.inputs[0].quantization.zero_points[0] == int8.inputs[0].quantization.zero_points[0] + 128
    assert uint8.inputs[0].quantization.scales == int8.inputs[0].quantization.scales


def test_full_int8_refuses_another_io_dtype(tiny_tf_keras, calibration_data):
    mode = get_mode("full_int8").with_options(io_dtype="int16")
    with pytest.raises(ModeError, match="io_dtype must be 'int8' or 'uint8', not 'int16'"):
        Converter().convert(tiny_tf_keras, mode, representative_data=calibration_data)


def test_int16x8_has_int16_activations(tiny_tflite):
    model = tiny_tflite("int16x8")
    activations = [t for t in model.tensors if not t.is_constant and t.dtype == "int16"]
    assert len(activations) >= 3
    assert all(t.quantization.zero_points == (0,) for t in activations), "int16 is symmetric"
    weights = [t for t in model.tensors if t.is_constant and t.dtype == "int8"]
    assert len(weights) == 2
    assert [t.dtype for t in model.inputs + model.outputs] == ["float32", "float32"]


@pytest.mark.parametrize("mode", ["int8", "full_int8", "int16x8"])
def test_integer_modes_need_representative_data(tiny_tf_keras, mode):
    converter = Converter()
    with pytest.raises(ModeError, match="needs a representative dataset") as excinfo:
        converter.convert(tiny_tf_keras, mode)
    message = str(excinfo.value)
    assert f"model 'tiny_dense', mode '{mode}'" in message
    assert "representative_data=" in message
    assert converter.stats["converted"] == 0


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8", "float16"])
def test_float_modes_ignore_representative_data(shared_converter, tiny_tf_keras, tiny_tflite, mode):
    model = shared_converter.convert(tiny_tf_keras, mode, representative_data=np.zeros((3, 8, 8), np.float32))
    assert model is tiny_tflite(mode)


def test_calibration_data_that_does_not_fit(tiny_tf_keras):
    with pytest.raises(DatasetError, match=r"expects \(batch, 8, 8\)") as excinfo:
        convert(tiny_tf_keras, "int8", representative_data=np.zeros((4, 7, 7), np.float32))
    assert "model 'tiny_dense', mode 'int8'" in str(excinfo.value)


# --- other sources ------------------------------------------------------------------


def test_keras3_source(shared_converter, tiny_keras3, keras_predict, calibration_data, test_inputs):
    reference = keras_predict(tiny_keras3, test_inputs)
    float32 = shared_converter.convert(tiny_keras3, "float32")
    assert (float32.name, float32.mode) == ("tiny_keras3", "float32")
    np.testing.assert_allclose(float32.predict(test_inputs), reference, rtol=1e-5, atol=1e-5)
    full = shared_converter.convert(tiny_keras3, "full_int8", representative_data=calibration_data)
    assert [t.dtype for t in full.inputs] == ["int8"]
    assert np.mean(full.predict(test_inputs).argmax(1) == reference.argmax(1)) >= 0.9


def test_tflite_source_is_returned_as_is(tiny_tflite, tiny_tflite_file):
    original = tiny_tflite("dynamic_int8")
    converter = Converter()
    from_bytes = converter.convert(original.content, "full_int8")  # no data needed: nothing converts
    assert from_bytes.content == original.content
    assert from_bytes.mode is None
    from_file = converter.convert(tiny_tflite_file, "int8")
    assert from_file.content == tiny_tflite_file.read_bytes()
    assert (from_file.name, from_file.mode) == ("tiny", None)
    assert converter.stats["converted"] == 0


def test_name_is_used_for_the_model(shared_converter, tiny_tf_keras):
    assert shared_converter.convert(tiny_tf_keras, "float32", name="renamed").name == "renamed"


# --- converter rejections -------------------------------------------------------------


@pytest.fixture(scope="module")
def inverse(tf):
    """A graph using MatrixInverse, which TensorFlow Lite has no builtin operator for."""

    @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32, name="m")])
    def inverse(m):
        return tf.linalg.inv(m)

    return inverse


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8"])
def test_unsupported_operator_is_a_conversion_error(inverse, mode):
    converter = Converter()
    with pytest.raises(ConversionError) as excinfo:
        converter.convert(inverse, mode)
    error = excinfo.value
    assert isinstance(error, TFLiteError)
    assert (error.source, error.mode) == ("inverse", mode)
    message = str(error)
    assert message.startswith(f"model 'inverse', mode '{mode}': the TensorFlow Lite converter rejected")
    assert "no builtin operator for MatrixInverse" in message, "the hint names the operator"
    assert "'tf.MatrixInverse' op is neither a custom op nor a flex op" in message, "converter text kept"
    assert "ConverterError" in error.detail
    assert converter.stats["converted"] == 0


def test_conversion_error_with_calibration(inverse, tf):
    data = np.tile(np.eye(3, dtype=np.float32), (4, 1, 1)) * 2
    with pytest.raises(ConversionError, match="MatrixInverse") as excinfo:
        convert(inverse, "int8", representative_data=data)
    assert excinfo.value.mode == "int8"


# --- the converter's way in for tf-keras models -----------------------------------------


def _conv_bn(keras):
    keras.utils.set_random_seed(0)
    image = keras.Input((12, 12, 3), batch_size=1, name="image")
    x = keras.layers.Conv2D(8, 3, use_bias=False, name="conv")(image)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(6.0, name="relu6")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(image, keras.layers.Dense(4, name="logits")(x), name="conv_bn")


def _lstm(keras):
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((6, 5), batch_size=1, name="rows"), keras.layers.LSTM(8, name="lstm"),
         keras.layers.Dense(3, name="logits")],
        name="lstm",
    )


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8"])
@pytest.mark.parametrize("build", [_conv_bn, _lstm])
def test_a_tf_keras_model_converts_to_the_bytes_from_keras_model_gives(tf, tf_keras, build, mode):
    """The plugin skips from_keras_model's Keras SavedModel; the result must not change."""
    model = build(tf_keras)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    get_mode(mode).configure(converter, tf, get_mode(mode).options)
    expected = converter.convert()
    assert Converter().convert(model, mode).content == expected


# --- sizes of the articles' 128/32/10 classifier -----------------------------------------------


@pytest.fixture(scope="module")
def article_models(tf_keras):
    keras = tf_keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="dense_128_32_10",
    )
    data = np.random.default_rng(0).random((16, 28, 28), dtype=np.float32)
    converter = Converter()
    return {mode: converter.convert(model, mode, representative_data=data) for mode in MODES}


def test_article_model_sizes(article_models):
    sizes = {mode: model.size_bytes for mode, model in article_models.items()}
    float32 = sizes["float32"]
    assert 405 * KIB <= float32 <= 425 * KIB
    assert 104 * KIB <= sizes["dynamic_int8"] <= 110 * KIB
    assert 0.45 <= sizes["float16"] / float32 <= 0.55, "about half"
    for mode in ("dynamic_int8", "int8", "full_int8", "int16x8"):
        assert 0.22 <= sizes[mode] / float32 <= 0.30, f"{mode} is about a quarter"
    for mode, model in article_models.items():
        assert model.gzip_size_bytes < model.size_bytes, mode


# --- the converter's memory and disk cache --------------------------------------------


def _cache_files(directory):
    return sorted(directory.rglob("*.tflite"))


def test_memo_converts_once(tiny_tf_keras):
    converter = Converter()
    first = converter.convert(tiny_tf_keras, "dynamic_int8")
    second = converter.convert(tiny_tf_keras, "dynamic_int8")
    assert second is first
    assert converter.stats["converted"] == 1
    assert converter.stats["memory"] == 1
    assert converter.stats["disk"] == 0
    converter.convert(tiny_tf_keras, "float16")
    assert converter.stats["converted"] == 2


def test_disk_cache_is_reused_across_converters(tmp_path, tiny_tf_keras, calibration_data):
    first = Converter(tmp_path)
    a = first.convert(tiny_tf_keras, "full_int8", representative_data=calibration_data)
    assert dict(first.stats) == {"converted": 1}
    [entry] = _cache_files(tmp_path)
    assert entry.read_bytes() == a.content

    second = Converter(tmp_path)
    b = second.convert(tiny_tf_keras, "full_int8", representative_data=calibration_data)
    assert dict(second.stats) == {"disk": 1}
    assert b.content == a.content
    assert (b.name, b.mode) == ("tiny_dense", "full_int8")
    assert _cache_files(tmp_path) == [entry]


def test_module_level_convert_uses_the_cache_dir(tmp_path, tiny_tf_keras):
    a = convert(tiny_tf_keras, "float16", cache_dir=tmp_path)
    assert len(_cache_files(tmp_path)) == 1
    second = Converter(tmp_path)
    assert second.convert(tiny_tf_keras, "float16").content == a.content
    assert second.stats["disk"] == 1


def test_changed_calibration_data_converts_again(tmp_path, tiny_tf_keras, calibration_data):
    converter = Converter(tmp_path)
    a = converter.convert(tiny_tf_keras, "int8", representative_data=calibration_data)
    b = converter.convert(tiny_tf_keras, "int8", representative_data=calibration_data * 0.5)
    c = converter.convert(tiny_tf_keras, "int8", representative_data=calibration_data, calibration_samples=10)
    assert converter.stats["converted"] == 3
    assert len(_cache_files(tmp_path)) == 3
    assert a.content != b.content
    assert c.content != a.content or c is not a


def test_changed_weights_convert_again(tmp_path, tiny_tf_keras):
    converter = Converter(tmp_path)
    a = converter.convert(tiny_tf_keras, "float32")
    twin = type(tiny_tf_keras).from_config(tiny_tf_keras.get_config())
    weights = [w.copy() for w in tiny_tf_keras.get_weights()]
    twin.set_weights(weights)
    assert converter.convert(twin, "float32").content == a.content
    assert dict(converter.stats) == {"converted": 1, "memory": 1}, "same content, same key"
    weights[-1] += 1.0
    twin.set_weights(weights)
    c = converter.convert(twin, "float32")
    assert converter.stats["converted"] == 2
    assert c.content != a.content
    assert len(_cache_files(tmp_path)) == 2


def test_mode_options_are_part_of_the_key(tmp_path, tiny_tf_keras, calibration_data):
    converter = Converter(tmp_path)
    converter.convert(tiny_tf_keras, "full_int8", representative_data=calibration_data)
    uint8 = get_mode("full_int8").with_options(io_dtype="uint8")
    converter.convert(tiny_tf_keras, uint8, representative_data=calibration_data)
    assert converter.stats["converted"] == 2
    assert len(_cache_files(tmp_path)) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "poisoned"])
def test_corrupt_cache_entry_is_discarded_and_reconverted(tmp_path, tiny_tf_keras, damage):
    good = Converter(tmp_path).convert(tiny_tf_keras, "dynamic_int8")
    [entry] = _cache_files(tmp_path)
    if damage == "garbage":
        entry.write_bytes(np.random.default_rng(0).bytes(len(good.content)))
    elif damage == "truncated":
        entry.write_bytes(good.content[: len(good.content) // 2])
    elif damage == "poisoned":  # a valid model, but not this one
        entry.write_bytes(Converter().convert(tiny_tf_keras, "float16").content)
    else:
        entry.write_bytes(b"")

    converter = Converter(tmp_path)
    with pytest.warns(UserWarning, match=f"cached model {entry} does not match its digest"):
        again = converter.convert(tiny_tf_keras, "dynamic_int8")
    assert converter.stats["disk"] == 0
    assert converter.stats["converted"] == 1
    assert again.content == good.content
    assert entry.read_bytes() == good.content, "the entry was rewritten"
    assert Converter(tmp_path).convert(tiny_tf_keras, "dynamic_int8").content == good.content


def test_cache_files_are_complete(tmp_path, tiny_tf_keras, calibration_data):
    converter = Converter(tmp_path)
    models = [converter.convert(tiny_tf_keras, mode, representative_data=calibration_data) for mode in MODES]
    files = _cache_files(tmp_path)
    assert len(files) == len(MODES)
    assert sorted(f.read_bytes() for f in files) == sorted(m.content for m in models)
    for path in files:
        assert len(path.stem) == 64 and path.parent.name == path.stem[:2], "sha256 key, sharded"
        TFLiteModel(path.read_bytes())  # parses
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix not in (".tflite", ".sha256", ".lock")]
    assert leftovers == [], "no temporary files are left behind"
    assert list(tmp_path.rglob("*.tmp")) == []
