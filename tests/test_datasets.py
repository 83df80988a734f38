"""Calibration data: the forms take_samples accepts, and the mistakes it reports in words."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_tflite import Converter, DatasetError
from pytest_tflite.conversion.datasets import digest, take_samples
from pytest_tflite.conversion.sources import InputSpec, as_source

TINY = [InputSpec("x", (None, 8, 8), "float32")]
TWO = [InputSpec("left", (None, 3), "float32"), InputSpec("right", (None, 5), "float32")]


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(10).random((20, 8, 8), dtype=np.float32)


def _assert_single_samples(samples, specs, count):
    assert len(samples) == count
    for sample in samples:
        assert isinstance(sample, list) and len(sample) == len(specs)
        for array, spec in zip(sample, specs):
            assert isinstance(array, np.ndarray)
            assert array.dtype == np.float32
            assert array.shape == (1, *spec.shape[1:])


def _rows(samples, data):
    """The rows of ``data`` the samples hold, in order (checks nothing was reshuffled)."""
    stacked = np.concatenate([s[0] for s in samples])
    return np.testing.assert_array_equal(stacked, data[: len(stacked)])


# --- accepted forms -----------------------------------------------------------------


def test_specs_of_the_tiny_model(tiny_tf_keras):
    assert as_source(tiny_tf_keras).input_specs() == TINY


@pytest.mark.parametrize(("count", "expected"), [(1, 1), (7, 7), (20, 20), (100, 20)])
def test_array_with_batch_axis(data, count, expected):
    samples = take_samples(data, TINY, count)
    _assert_single_samples(samples, TINY, expected)
    _rows(samples, data)


def test_array_without_batch_axis(data):
    samples = take_samples(data[3], TINY, 10)
    _assert_single_samples(samples, TINY, 1)
    np.testing.assert_array_equal(samples[0][0][0], data[3])


def test_list_of_samples(data):
    samples = take_samples(list(data), TINY, 8)
    _assert_single_samples(samples, TINY, 8)
    _rows(samples, data)


def test_list_of_batched_samples(data):
    samples = take_samples([data[i : i + 1] for i in range(5)], TINY, 100)
    _assert_single_samples(samples, TINY, 5)
    _rows(samples, data)


def test_tuple_of_features_and_labels(data):
    labels = np.arange(len(data)) % 4
    samples = take_samples((data, labels), TINY, 12)
    _assert_single_samples(samples, TINY, 12)
    _rows(samples, data)


def test_dict_by_input_name(data):
    samples = take_samples({"x": data}, TINY, 6)
    _assert_single_samples(samples, TINY, 6)
    _rows(samples, data)


def test_dict_of_several_inputs_in_the_model_order():
    rng = np.random.default_rng(11)
    left, right = rng.random((9, 3), dtype=np.float32), rng.random((9, 5), dtype=np.float32)
    samples = take_samples({"right": right, "left": left}, TWO, 4)
    _assert_single_samples(samples, TWO, 4)
    np.testing.assert_array_equal(samples[2][0][0], left[2])
    np.testing.assert_array_equal(samples[2][1][0], right[2])


def test_list_of_multi_input_samples():
    rng = np.random.default_rng(12)
    pairs = [[rng.random(3, dtype=np.float32), rng.random(5, dtype=np.float32)] for _ in range(3)]
    samples = take_samples(pairs, TWO, 10)
    _assert_single_samples(samples, TWO, 3)
    np.testing.assert_array_equal(samples[1][1][0], pairs[1][1])


def test_generator_function_in_the_tensorflow_idiom(data):
    def representative_dataset():
        for i in range(len(data)):
            yield [data[i : i + 1]]

    samples = take_samples(representative_dataset, TINY, 15)
    _assert_single_samples(samples, TINY, 15)
    _rows(samples, data)
    # an already started generator works too
    _assert_single_samples(take_samples(representative_dataset(), TINY, 3), TINY, 3)


def test_generator_stops_being_read_at_the_count(data):
    pulled = []

    def endless():
        i = 0
        while True:
            pulled.append(i)
            yield [data[i % len(data)]]
            i += 1

    _assert_single_samples(take_samples(endless, TINY, 5), TINY, 5)
    assert len(pulled) == 5


def test_tf_data_dataset_batched(tf, data):
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(6)
    samples = take_samples(dataset, TINY, 14)
    _assert_single_samples(samples, TINY, 14)
    _rows(samples, data)


def test_tf_data_dataset_of_pairs(tf, data):
    labels = np.arange(len(data), dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((data, labels))
    samples = take_samples(dataset, TINY, 9)
    _assert_single_samples(samples, TINY, 9)
    _rows(samples, data)
    batched = take_samples(dataset.batch(4), TINY, 9)
    assert digest(batched) == digest(samples)


def test_integer_data_is_cast_to_the_input_dtype():
    pixels = np.random.default_rng(13).integers(0, 256, (4, 8, 8), dtype=np.uint8)
    samples = take_samples(pixels, TINY, 4)
    _assert_single_samples(samples, TINY, 4)
    np.testing.assert_array_equal(samples[1][0][0], pixels[1].astype(np.float32))


def test_every_form_gives_the_same_samples(tf, data):
    """Same rows in any form, same digest: calibration data is part of the cache key."""
    expected = digest(take_samples(data, TINY, 10))
    forms = [
        list(data),
        (data, np.zeros(len(data))),
        {"x": data},
        lambda: ([data[i]] for i in range(len(data))),
        tf.data.Dataset.from_tensor_slices(data).batch(3),
    ]
    for form in forms:
        assert digest(take_samples(form, TINY, 10)) == expected
    assert digest(take_samples(data[::-1], TINY, 10)) != expected
    assert digest(take_samples(data, TINY, 9)) != expected


def test_a_tf_data_dataset_calibrates_a_real_conversion(
    tf, tiny_tf_keras, keras_predict, test_inputs, data
):
    """A dataset of (x, y) pairs gives the same int8 model as the bare array."""
    converter = Converter()
    pairs = tf.data.Dataset.from_tensor_slices((data, np.zeros(len(data)))).batch(5)
    from_pairs = converter.convert(tiny_tf_keras, "int8", representative_data=pairs)
    from_array = converter.convert(tiny_tf_keras, "int8", representative_data=data)
    assert from_array is from_pairs, "identical samples give the same cache key"
    assert converter.stats["converted"] == 1
    reference = keras_predict(tiny_tf_keras, test_inputs)
    assert np.mean(from_pairs.predict(test_inputs).argmax(1) == reference.argmax(1)) >= 0.9


# --- mistakes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "empty",
    [
        np.empty((0, 8, 8), np.float32),
        [],
        (),
        {"x": np.empty((0, 8, 8), np.float32)},
        lambda: iter(()),
    ],
    ids=["array", "list", "tuple", "dict", "generator"],
)
def test_empty_data(empty):
    with pytest.raises(DatasetError, match="representative dataset is empty"):
        take_samples(empty, TINY, 10, source="tiny", mode="int8")


def test_empty_tf_data_dataset(tf):
    dataset = tf.data.Dataset.from_tensor_slices(np.empty((0, 8, 8), np.float32))
    with pytest.raises(DatasetError, match="is empty"):
        take_samples(dataset, TINY, 10)


def test_no_data():
    with pytest.raises(DatasetError, match="no representative dataset was given"):
        take_samples(None, TINY, 10)


@pytest.mark.parametrize("not_data", ["calibration.npy", b"\x00\x01", 3.5], ids=type)
def test_objects_that_hold_no_samples(not_data):
    with pytest.raises(DatasetError, match="holds no samples"):
        take_samples(not_data, TINY, 10)


@pytest.mark.parametrize(
    "shape", [(10, 7, 7), (10, 8, 9), (10, 64), (8, 8, 8, 1), (2, 3, 8, 8)], ids=str
)
def test_wrong_shape_names_the_expected_shape(shape):
    wrong = np.zeros(shape, np.float32)
    with pytest.raises(DatasetError, match=r"expects \(batch, 8, 8\)") as excinfo:
        take_samples(wrong, TINY, 10, source="tiny_dense", mode="full_int8")
    message = str(excinfo.value)
    assert "model 'tiny_dense', mode 'full_int8'" in message
    assert "input 'x'" in message


def test_wrong_shape_in_a_later_sample():
    samples = [np.zeros((8, 8), np.float32)] * 3 + [np.zeros((8, 7), np.float32)]
    with pytest.raises(DatasetError, match=r"sample 3 .* has shape \(8, 7\)"):
        take_samples(samples, TINY, 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(data, bad):
    poisoned = data.copy()
    poisoned[4, 2, 3] = bad
    with pytest.raises(DatasetError, match="sample 4 .* NaN or infinite"):
        take_samples(poisoned, TINY, 10)
    # the samples before the bad one are fine
    assert len(take_samples(poisoned, TINY, 4)) == 4


def test_too_few_inputs_for_a_multi_input_model():
    with pytest.raises(DatasetError, match="has 1 input.* but the model takes 2"):
        take_samples(np.zeros((4, 3), np.float32), TWO, 4)


def test_dict_missing_an_input_names_the_inputs():
    with pytest.raises(DatasetError, match="no entry for input.* right") as excinfo:
        take_samples({"left": np.zeros((4, 3), np.float32)}, TWO, 4)
    assert "left, right" in str(excinfo.value)


def test_dict_with_a_wrong_name_for_one_input():
    # one input and one entry: the entry is used whatever its name
    samples = take_samples({"image": np.zeros((2, 8, 8), np.float32)}, TINY, 4)
    assert len(samples) == 2
    with pytest.raises(DatasetError, match="no entry for input.* x"):
        take_samples({"a": np.zeros((2, 8, 8)), "b": np.zeros((2, 8, 8))}, TINY, 4)


@pytest.mark.parametrize("count", [0, -1])
def test_count_below_one(data, count):
    with pytest.raises(DatasetError, match=f"asked for {count} samples") as excinfo:
        take_samples(data, TINY, count, purpose="evaluation data")
    assert "evaluation data" in str(excinfo.value)
    assert "at least 1" in str(excinfo.value)
