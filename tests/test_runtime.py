"""Running converted models in the LiteRT interpreter: batching, float I/O over integer
models, multi-input models and the errors of a wrong call."""

from __future__ import annotations

import numpy as np
import pytest

import pytest_tflite
from pytest_tflite import Converter, Mode, RuntimeFailure, get_mode
from pytest_tflite.model.runtime import Runner, dequantize, quantize


def _one_at_a_time(model, x):
    return np.concatenate([model.predict(row) for row in x])


@pytest.fixture(scope="module")
def many():
    return np.random.default_rng(20).random((300, 8, 8), dtype=np.float32)


@pytest.fixture(scope="module")
def uint8_model(shared_converter, tiny_tf_keras, calibration_data):
    mode = get_mode("full_int8").with_options(io_dtype="uint8")
    return shared_converter.convert(tiny_tf_keras, mode, representative_data=calibration_data)


# --- batching ------------------------------------------------------------------------


def test_one_sample_without_batch_axis(tiny_tflite, tiny_tf_keras, keras_predict, test_inputs):
    model = tiny_tflite("float32")
    out = model.predict(test_inputs[0])
    assert out.shape == (1, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out, keras_predict(tiny_tf_keras, test_inputs[:1]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out, model.predict(test_inputs[:1]))


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8", "full_int8", "int16x8"])
def test_seven_samples_match_one_at_a_time(tiny_tflite, test_inputs, mode):
    model = tiny_tflite(mode)
    batch = model.predict(test_inputs[:7])
    assert batch.shape == (7, 4)
    np.testing.assert_allclose(batch, _one_at_a_time(model, test_inputs[:7]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["float32", "dynamic_int8", "full_int8"])
def test_many_samples_in_batches(tiny_tflite, many, mode):
    model = tiny_tflite(mode)
    batched = model.predict(many, batch_size=64)  # 4 full batches and one of 44
    assert batched.shape == (300, 4)
    singles = _one_at_a_time(model, many)
    np.testing.assert_allclose(batched, singles, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(many), singles, rtol=1e-5, atol=1e-6)  # one batch of 300
    np.testing.assert_allclose(model.predict(many, batch_size=1), singles, rtol=1e-5, atol=1e-6)
    # rows are not mixed up: a permutation of the input permutes the output
    order = np.random.default_rng(21).permutation(len(many))
    shuffled = model.predict(many[order], batch_size=64)
    np.testing.assert_allclose(shuffled, singles[order], rtol=1e-5, atol=1e-6)


def test_float32_matches_keras_on_many_samples(tiny_tflite, tiny_tf_keras, keras_predict, many):
    out = tiny_tflite("float32").predict(many, batch_size=64)
    np.testing.assert_allclose(out, keras_predict(tiny_tf_keras, many), rtol=1e-5, atol=1e-5)


def test_list_of_samples_for_a_single_input_model(tiny_tflite, test_inputs):
    model = tiny_tflite("float32")
    np.testing.assert_array_equal(model.predict(list(test_inputs[:5])), model.predict(test_inputs[:5]))


def test_fixed_batch_model_takes_any_number_of_samples(tf_keras, keras_predict, many):
    keras = tf_keras
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [keras.Input((8, 8), batch_size=1), keras.layers.Flatten(), keras.layers.Dense(4)], name="fixed_batch"
    )
    converted = Converter().convert(model)
    assert converted.inputs[0].shape_signature == (1, 8, 8)
    out = converted.predict(many[:9], batch_size=4)
    np.testing.assert_allclose(out, keras_predict(model, many[:9]), atol=1e-5)


def test_runner_set_inputs_invoke_outputs(tiny_tflite, test_inputs):
    model = tiny_tflite("full_int8")
    runner = Runner(model)
    runner.set_inputs(test_inputs[:5])
    runner.invoke()
    [out] = runner.outputs()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model.predict(test_inputs[:5]), rtol=1e-6)


# --- dynamic dimensions other than the batch ------------------------------------------


@pytest.fixture(scope="module")
def sequence_model(tf_keras):
    """A model over sequences of any length: (batch, length, 8) -> mean over length -> Dense(4)."""
    keras = tf_keras
    keras.utils.set_random_seed(4)
    return keras.Sequential(
        [keras.Input((None, 8), name="seq"), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(4)],
        name="seq_mean",
    )


@pytest.fixture(scope="module", params=["float32", "int8"])
def sequence_tflite(request, sequence_model):
    representative = np.random.default_rng(23).random((32, 20, 8), dtype=np.float32)
    model = pytest_tflite.convert(sequence_model, request.param, representative_data=representative)
    assert model.inputs[0].shape_signature == (-1, -1, 8)
    return model


def _sequences(rows, length, seed):
    return np.random.default_rng(seed).random((rows, length, 8), dtype=np.float32)


def test_sequences_of_changing_length(sequence_tflite, sequence_model, keras_predict):
    # int8 quantizes the mean and the dense layer inside: up to ~0.05 off on outputs of ~0.5,
    # the same as LiteRT gives when called directly
    atol = 1e-5 if sequence_tflite.mode == "float32" else 0.1
    batches = [_sequences(3, 20, 24), _sequences(4, 5, 25), _sequences(3, 20, 26)]
    outputs = [sequence_tflite.predict(x) for x in batches]  # one runner, resized each time
    for x, out in zip(batches, outputs):
        assert out.shape == (len(x), 4)
        np.testing.assert_allclose(out, _one_at_a_time(sequence_tflite, x), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out, keras_predict(sequence_model, x), atol=atol)
    chunked = sequence_tflite.predict(batches[1], batch_size=3)  # rows 3 then 1, length 5
    np.testing.assert_allclose(chunked, outputs[1], rtol=1e-5, atol=1e-6)


def test_runner_set_inputs_with_changing_length(sequence_tflite):
    runner = Runner(sequence_tflite)
    for x in (_sequences(2, 5, 27), _sequences(3, 20, 28)):
        runner.set_inputs(x)
        runner.invoke()
        [out] = runner.outputs()
        np.testing.assert_allclose(out, sequence_tflite.predict(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 20, 7), (20, 7), (3, 20), (3, 20, 8, 1)], ids=str)
def test_wrong_static_dimension_of_a_sequence(sequence_tflite, shape):
    with pytest.raises(RuntimeFailure, match=r"input 'seq' takes samples of shape \('\?', 8\)") as excinfo:
        sequence_tflite.predict(np.zeros(shape, np.float32))
    assert f"got an array of shape {shape}" in str(excinfo.value)


def test_interpreter_rejecting_the_data_is_a_runtime_failure(sequence_tflite):
    """Had the interpreter been resized behind the runner's back, set_tensor would refuse the
    data; that still surfaces as the plugin's error, not the interpreter's ValueError."""
    runner = Runner(sequence_tflite)
    x = _sequences(3, 20, 29)
    runner.set_inputs(x)
    runner.interpreter.resize_tensor_input(runner.interpreter.get_input_details()[0]["index"], [3, 5, 8])
    runner.interpreter.allocate_tensors()
    with pytest.raises(RuntimeFailure, match="rejected the data for input 'seq'") as excinfo:
        runner.set_inputs(x)
    assert "Dimension mismatch" in str(excinfo.value)


@pytest.fixture(scope="module")
def reshape_to_batch(tf):
    """``reshape_to_batch(b)``: a graph with static batch ``b`` whose Reshape pins it, so
    LiteRT cannot resize it to other batch sizes."""
    weights = np.random.default_rng(30).random((64, 4), dtype=np.float32)

    def build(batch):
        @tf.function(input_signature=[tf.TensorSpec([batch, 8, 8], tf.float32, name="x")])
        def pinned(x):
            return tf.matmul(tf.reshape(x, [batch, 64]), weights)

        return Converter().convert(pinned, name=f"pinned_batch_{batch}"), weights

    return build


def test_static_batch_of_one_that_cannot_resize_runs_row_by_row(reshape_to_batch, many):
    model, weights = reshape_to_batch(1)
    x = many[:6]
    np.testing.assert_allclose(model.predict(x, batch_size=4), x.reshape(6, 64) @ weights, rtol=1e-5)


def test_other_static_batch_that_cannot_resize_names_it(reshape_to_batch, many):
    model, weights = reshape_to_batch(2)
    with pytest.raises(RuntimeFailure, match="fixed batch size of 2") as excinfo:
        model.predict(many[:6], batch_size=4)
    assert "batch_size=2" in str(excinfo.value)
    x = many[:6]
    np.testing.assert_allclose(model.predict(x, batch_size=2), x.reshape(6, 64) @ weights, rtol=1e-5)


# --- integer input and output --------------------------------------------------------


@pytest.mark.parametrize("io_dtype", ["int8", "uint8"])
def test_integer_io_models_take_and_return_float(tiny_tflite, uint8_model, calibration_data, io_dtype):
    model = tiny_tflite("full_int8") if io_dtype == "int8" else uint8_model
    assert model.inputs[0].dtype == io_dtype and model.outputs[0].dtype == io_dtype
    reference = tiny_tflite("float32").predict(calibration_data)
    out = model.predict(calibration_data)
    assert out.dtype == np.float32
    out_scale = model.outputs[0].quantization.scales[0]
    # a few output steps: input rounding, hidden-layer rounding, output rounding
    assert np.abs(out - reference).max() <= 4 * out_scale
    assert np.abs(out - reference).mean() <= out_scale
    # outputs are on the quantization grid of the output tensor
    steps = out / out_scale
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def test_int8_and_uint8_io_give_the_same_results(tiny_tflite, uint8_model, calibration_data):
    np.testing.assert_allclose(
        uint8_model.predict(calibration_data), tiny_tflite("full_int8").predict(calibration_data), atol=1e-6
    )


def test_inputs_outside_the_quantized_range_are_clipped(tiny_tflite):
    model = tiny_tflite("full_int8")
    high = model.predict(np.full((1, 8, 8), 1e6, np.float32))
    top = model.predict(np.full((1, 8, 8), 1.0, np.float32))  # about the top of the input range
    assert np.all(np.isfinite(high))
    np.testing.assert_allclose(high, top, atol=2 * model.outputs[0].quantization.scales[0])


def test_quantize_and_dequantize():
    detail = {"dtype": np.int8, "quantization": (0.5, -10)}
    q = quantize(np.array([0.0, 1.0, 1.2, -70.0, 1000.0], np.float32), detail)
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q, [-10, -8, -8, -128, 127])
    np.testing.assert_array_equal(dequantize(q, detail), [0.0, 1.0, 1.0, -59.0, 68.5])
    unsigned = {"dtype": np.uint8, "quantization": (0.1, 128)}
    np.testing.assert_array_equal(quantize(np.array([-20.0, 0.0, 0.25]), unsigned), [0, 128, 130])
    plain = {"dtype": np.float32, "quantization": (0.0, 0)}
    x = np.array([1, 2], np.int64)
    assert quantize(x, plain).dtype == np.float32
    y = np.array([1.5], np.float32)
    assert dequantize(y, plain) is not y, "a copy, never the interpreter's buffer"


# --- several inputs -------------------------------------------------------------------


@pytest.fixture(scope="module", params=["tf_keras", "keras3"])
def two_inputs(request):
    keras = request.getfixturevalue(request.param)
    keras.utils.set_random_seed(3)
    # declared in an order other than alphabetical, with different sizes, so a mix-up shows
    zeta = keras.Input((3,), name="zeta")
    alpha = keras.Input((5,), name="alpha")
    joined = keras.layers.Concatenate()([zeta, alpha])
    output = keras.layers.Dense(2)(keras.layers.Dense(6, activation="tanh")(joined))
    model = keras.Model([zeta, alpha], output, name=f"two_inputs_{request.param}")
    rng = np.random.default_rng(22)
    data = [rng.random((11, 3), dtype=np.float32), rng.random((11, 5), dtype=np.float32)]
    reference = np.asarray(model(data, training=False))
    return Converter().convert(model), data, reference


def test_multi_input_from_a_list(two_inputs):
    model, (zeta, alpha), reference = two_inputs
    assert [t.shape_signature for t in model.inputs] == [(-1, 3), (-1, 5)]
    np.testing.assert_allclose(model.predict([zeta, alpha]), reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(model.predict((zeta, alpha), batch_size=4), reference, rtol=1e-5, atol=1e-5)


def test_multi_input_from_a_dict(two_inputs):
    model, (zeta, alpha), reference = two_inputs
    np.testing.assert_allclose(model.predict({"alpha": alpha, "zeta": zeta}), reference, rtol=1e-5, atol=1e-5)
    one = model.predict({"zeta": zeta[0], "alpha": alpha[0]})  # one sample, no batch axis
    np.testing.assert_allclose(one, reference[:1], rtol=1e-5, atol=1e-5)


def test_multi_input_dict_with_wrong_names(two_inputs):
    model, (zeta, alpha), _ = two_inputs
    expected = r"got inputs \['a', 'zeta'\] but the model's inputs are \['alpha', 'zeta'\]"
    with pytest.raises(RuntimeFailure, match=expected):
        model.predict({"zeta": zeta, "a": alpha})


def test_multi_input_with_one_array(two_inputs):
    model, (zeta, _), _ = two_inputs
    with pytest.raises(RuntimeFailure, match=r"got 1 input array\(s\) but the model takes 2"):
        model.predict(zeta)


def test_multi_input_in_the_wrong_order(two_inputs):
    model, (zeta, alpha), _ = two_inputs
    with pytest.raises(RuntimeFailure, match=r"input 'zeta' takes samples of shape \(3,\)"):
        model.predict([alpha, zeta])


def test_multi_input_with_different_row_counts(two_inputs):
    model, (zeta, alpha), _ = two_inputs
    with pytest.raises(RuntimeFailure, match="rows"):
        model.predict([zeta, alpha[:5]])


# --- wrong calls ----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 7, 7), (3, 8, 9), (3, 64), (8,), (3, 8, 8, 1)], ids=str)
def test_shape_mismatch_names_the_expected_shape(tiny_tflite, shape):
    model = tiny_tflite("float32")
    with pytest.raises(RuntimeFailure, match=r"input 'x' takes samples of shape \(8, 8\)") as excinfo:
        model.predict(np.zeros(shape, np.float32))
    message = str(excinfo.value)
    assert f"got an array of shape {shape}" in message
    assert message.startswith("model 'tiny_dense', mode 'float32': ")


def test_no_samples(tiny_tflite):
    with pytest.raises(RuntimeFailure, match="no samples"):
        tiny_tflite("float32").predict(np.zeros((0, 8, 8), np.float32))


def test_model_needing_flex_ops_fails_to_load_with_a_hint(tf):
    """A graph converted with Select TF ops, which the LiteRT wheel cannot run."""

    def with_flex(converter, tf, options):
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]

    @tf.function(input_signature=[tf.TensorSpec([1, 3, 3], tf.float32, name="m")])
    def inverse(m):
        return tf.linalg.inv(m)

    model = Converter().convert(inverse, Mode("select_tf_ops", "builtins and Select TF ops", with_flex))
    assert list(model.op_histogram) == ["FlexMatrixInverse"]
    assert model.operators[0].is_custom
    with pytest.raises(RuntimeFailure, match="cannot load the model") as excinfo:
        model.predict(np.eye(3, dtype=np.float32))
    message = str(excinfo.value)
    assert "model 'inverse', mode 'select_tf_ops'" in message
    assert "Flex" in message and "FlexMatrixInverse" in message


def test_a_recurrent_model_forgets_one_sample_before_the_next(tf_keras, shared_converter):
    """The fused LSTM keeps its state in variable tensors; each sample must start afresh,
    as in Keras, whatever ran before it."""
    tf_keras.utils.set_random_seed(0)
    model = tf_keras.Sequential(
        [tf_keras.Input((6, 3), batch_size=1, name="rows"), tf_keras.layers.LSTM(5, name="lstm"),
         tf_keras.layers.Dense(2, name="out")],
        name="tiny_lstm",
    )
    x = np.random.default_rng(3).random((7, 6, 3), dtype=np.float32)
    converted = shared_converter.convert(model, "float32")
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in converted.op_histogram
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(converted.predict(x), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(converted.predict(x[::-1]), expected[::-1], rtol=1e-4, atol=1e-5)


def test_reference_kernels_take_no_xnnpack_and_agree_closely(tiny_tflite, test_inputs):
    from pytest_tflite.targets.cpu import xnnpack_operators

    model = tiny_tflite("full_int8")
    default, reference = Runner(model), Runner(model, kernels="reference")
    assert (default.kernels, reference.kernels) == ("xnnpack", "reference")
    assert xnnpack_operators(default.interpreter, len(model.operators))
    assert not xnnpack_operators(reference.interpreter, len(model.operators))
    scale = model.outputs[0].quantization.scales[0]
    assert np.max(np.abs(default.predict(test_inputs) - reference.predict(test_inputs))) <= 4 * scale + 1e-6


def test_the_chosen_kernels_are_the_models_runner(tiny_tflite):
    from pytest_tflite.model.kernels import current_kernels, use_kernels

    model = tiny_tflite("float32")
    try:
        use_kernels("reference")
        assert model.runner.kernels == "reference"
    finally:
        use_kernels("xnnpack")
    assert model.runner.kernels == current_kernels() == "xnnpack"
    with pytest.raises(RuntimeFailure, match="unknown kernels 'fast'"):
        use_kernels("fast")


def test_a_bad_kernels_setting_stops_the_run_at_start_up(pytester):
    pytester.makeini("[pytest]\ntflite_kernels = fast\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini tflite_kernels: 'fast' is not one of xnnpack, reference*"])
