"""Evaluation: a metric on labelled data and fidelity to the float32 conversion, on real
converted models run in LiteRT."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from pytest_tflite import DatasetError
from pytest_tflite.conversion.sources import InputSpec
from pytest_tflite.errors import EvaluationError
from pytest_tflite.evaluate import (
    ACCURACY,
    SQNR_IDENTICAL_DB,
    Metric,
    compare,
    evaluate,
    input_specs,
    top1_accuracy,
)

WRONG = 16
"""Labels flipped away from the float32 model's own answers: its accuracy is known."""


@pytest.fixture(scope="module")
def float_model(tiny_tflite):
    return tiny_tflite("float32")


@pytest.fixture(scope="module")
def int8_model(tiny_tflite):
    return tiny_tflite("full_int8")


@pytest.fixture(scope="module")
def labels(float_model, test_inputs):
    """The float32 model's top-1 classes, the first ``WRONG`` of them shifted by one."""
    classes = np.argmax(float_model.predict(test_inputs), axis=-1)
    classes[:WRONG] = (classes[:WRONG] + 1) % 4
    return classes


@pytest.fixture(scope="module")
def known_accuracy(test_inputs):
    return 1 - WRONG / len(test_inputs)


# --- the metric -----------------------------------------------------------------------


def test_accuracy_of_the_float32_model_is_known(float_model, test_inputs, labels, known_accuracy):
    result = evaluate(float_model, (test_inputs, labels))
    assert result.metric == "accuracy"
    assert result.value == known_accuracy
    assert result.higher_is_better is True
    assert result.samples == len(test_inputs)
    assert result.fidelity is None


def test_one_hot_labels_score_like_class_indices(float_model, test_inputs, labels, known_accuracy):
    one_hot = np.eye(4, dtype=np.float32)[labels]
    assert evaluate(float_model, (test_inputs, one_hot)).value == known_accuracy


def test_labels_with_a_trailing_axis_are_accepted(float_model, test_inputs, labels, known_accuracy):
    assert evaluate(float_model, (test_inputs, labels[:, None])).value == known_accuracy


def test_a_dataset_scores_like_arrays(tf, float_model, test_inputs, labels, known_accuracy):
    dataset = tf.data.Dataset.from_tensor_slices((test_inputs, labels)).batch(10)
    assert evaluate(float_model, dataset).value == known_accuracy


def test_batch_size_does_not_change_the_result(int8_model, float_model, test_inputs, labels):
    whole = evaluate(int8_model, (test_inputs, labels), reference=float_model)
    small = evaluate(int8_model, (test_inputs, labels), reference=float_model, batch_size=7)
    assert small.value == whole.value
    assert small.fidelity.agreement == whole.fidelity.agreement
    assert small.fidelity.mean_abs_error == pytest.approx(whole.fidelity.mean_abs_error, rel=1e-5)


def test_evaluation_is_deterministic(int8_model, float_model, test_inputs, labels):
    runs = [evaluate(int8_model, (test_inputs, labels), reference=float_model) for _ in range(2)]
    assert runs[0] == runs[1]


def test_a_custom_metric_and_its_direction(float_model, test_inputs, labels):
    def error_rate(outputs, y):
        return 1 - top1_accuracy(outputs, y)

    result = evaluate(float_model, (test_inputs, labels), metric=Metric("error", error_rate, False))
    assert (result.metric, result.higher_is_better) == ("error", False)
    assert result.value == pytest.approx(WRONG / len(test_inputs))


def test_a_plain_function_is_taken_as_a_metric(float_model, test_inputs, labels, known_accuracy):
    result = evaluate(float_model, (test_inputs, labels), metric=top1_accuracy)
    assert (result.metric, result.value) == ("top1_accuracy", known_accuracy)


def test_to_dict_is_json(int8_model, float_model, test_inputs, labels):
    data = evaluate(int8_model, (test_inputs, labels), reference=float_model).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["fidelity"]["agreement"] == data["fidelity"]["agreement"]
    assert set(data) == {
        "metric", "value", "higher_is_better", "samples", "fidelity", "kernels", "per_sample", "labels_digest"
    }
    assert data["kernels"] == "xnnpack"


# --- per-sample scores ------------------------------------------------------------------------


def test_accuracy_scores_each_sample_right_or_wrong(float_model, test_inputs, labels, known_accuracy):
    result = evaluate(float_model, (test_inputs, labels))
    assert len(result.per_sample) == result.samples == len(test_inputs)
    assert result.per_sample[:WRONG] == (0.0,) * WRONG  # the labels shifted away from its answers
    assert set(result.per_sample[WRONG:]) == {1.0}
    assert sum(result.per_sample) / result.samples == result.value == known_accuracy


def test_per_sample_scores_survive_the_dict_packed_as_bits(int8_model, float_model, test_inputs, labels):
    from pytest_tflite.evaluate import Evaluation
    from pytest_tflite.gate.significance import unpack

    result = evaluate(int8_model, (test_inputs, labels), reference=float_model)
    data = json.loads(json.dumps(result.to_dict()))
    assert isinstance(data["per_sample"], str)
    assert unpack(data["per_sample"], len(test_inputs)) == result.per_sample
    assert Evaluation.from_dict(data) == result


def squared_error(outputs, y):
    return float(np.mean(per_sample_squared_error(outputs, y)))


def per_sample_squared_error(outputs, y):
    return ((outputs.max(axis=-1) - y) ** 2).astype(np.float64)


def test_a_metric_of_its_own_may_score_each_sample(float_model, test_inputs, labels):
    from pytest_tflite.evaluate import Evaluation

    metric = Metric("squared_error", squared_error, higher_is_better=False, per_sample=per_sample_squared_error)
    result = evaluate(float_model, (test_inputs, labels), metric=metric)
    assert sum(result.per_sample) / result.samples == pytest.approx(result.value)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["per_sample"] == list(result.per_sample)  # not 0/1: kept as numbers
    assert Evaluation.from_dict(data) == result
    assert evaluate(float_model, (test_inputs, labels), metric=squared_error).per_sample is None


@pytest.mark.parametrize(
    ("per_sample", "found"),
    [(lambda o, y: np.zeros(3), "shape (3,)"), (lambda o, y: np.full(len(y), np.nan), "NaN or infinite values")],
    ids=["too-few", "nan"],
)
def test_per_sample_scores_that_are_not_one_number_per_sample_are_refused(
    float_model, test_inputs, labels, per_sample, found
):
    metric = Metric("mine", lambda o, y: 0.5, per_sample=per_sample)
    message = re.escape(f"per-sample scores of the metric 'mine' have {found}")
    with pytest.raises(EvaluationError, match=message) as info:
        evaluate(float_model, (test_inputs, labels), metric=metric)
    assert info.value.source == float_model.name and "one score per sample" in info.value.hint


def test_the_labels_digest_follows_the_order_of_the_samples(float_model, test_inputs, labels):
    once = evaluate(float_model, (test_inputs, labels))
    again = evaluate(float_model, (test_inputs, labels))
    order = np.random.default_rng(0).permutation(len(labels))
    shuffled = evaluate(float_model, (test_inputs[order], labels[order]))
    assert once.labels_digest == again.labels_digest
    assert shuffled.labels_digest != once.labels_digest
    assert shuffled.value == once.value


def test_per_sample_scores_that_do_not_average_to_the_metric_are_refused(float_model, test_inputs, labels):
    metric = Metric("f1_like", lambda o, y: 0.9, per_sample=lambda o, y: np.zeros(len(y)))
    with pytest.raises(EvaluationError, match="average 0, but the metric is 0.9") as info:
        evaluate(float_model, (test_inputs, labels), metric=metric)
    assert "leave per_sample out" in info.value.hint


def test_higher_rank_outputs_score_a_sample_by_the_share_of_its_positions():
    from pytest_tflite.evaluate import top1_correct

    outputs = np.zeros((2, 3, 4), dtype=np.float32)
    outputs[..., 1] = 1.0
    labels = np.array([[1, 1, 0], [1, 2, 1]])
    assert top1_correct(outputs, labels).tolist() == pytest.approx([2 / 3, 2 / 3])


def test_specs_come_from_the_model(int8_model):
    # The full_int8 model takes int8, but predict() takes float: the spec says float32.
    assert int8_model.inputs[0].dtype == "int8"
    assert input_specs(int8_model) == [InputSpec("x", (None, 8, 8), "float32")]


def test_single_unit_outputs_use_a_half_threshold():
    outputs = np.array([[0.2], [0.7], [0.55], [0.1]], dtype=np.float32)
    assert top1_accuracy(outputs, np.array([0, 1, 1, 1])) == 0.75


def test_higher_rank_outputs_score_every_position():
    outputs = np.zeros((2, 3, 4), dtype=np.float32)
    outputs[..., 1] = 1.0
    labels = np.array([[1, 1, 0], [1, 2, 1]])
    assert top1_accuracy(outputs, labels) == pytest.approx(4 / 6)


# --- fidelity -------------------------------------------------------------------------


def test_float32_against_itself_is_perfect(float_model, test_inputs, labels):
    fidelity = evaluate(float_model, (test_inputs, labels), reference=float_model).fidelity
    assert fidelity.agreement == 1.0
    assert fidelity.mean_abs_error == 0.0
    assert fidelity.max_abs_error == 0.0
    assert fidelity.sqnr_db == SQNR_IDENTICAL_DB
    assert fidelity.identical


def test_int8_against_float32_is_close_but_not_identical(int8_model, float_model, test_inputs, labels):
    fidelity = evaluate(int8_model, (test_inputs, labels), reference=float_model).fidelity
    assert 0.8 <= fidelity.agreement <= 1.0
    assert 0.0 < fidelity.mean_abs_error <= fidelity.max_abs_error < 1.0
    assert 15.0 < fidelity.sqnr_db < 80.0
    assert not fidelity.identical
    expected = compare(float_model.predict(test_inputs), int8_model.predict(test_inputs))
    assert fidelity == expected


def test_sqnr_formula():
    reference = np.array([[3.0, 4.0], [0.0, 0.0]])
    outputs = np.array([[3.0, 3.5], [0.0, 0.0]])
    fidelity = compare(reference, outputs)
    assert fidelity.sqnr_db == pytest.approx(10 * math.log10(25 / 0.25))
    assert fidelity.mean_abs_error == pytest.approx(0.125)
    assert fidelity.max_abs_error == pytest.approx(0.5)
    assert fidelity.agreement == 1.0


def test_sqnr_of_a_silent_reference_is_the_negative_cap():
    fidelity = compare(np.zeros((2, 3)), np.ones((2, 3)))
    assert fidelity.sqnr_db == -SQNR_IDENTICAL_DB
    assert json.dumps(fidelity.to_dict(), allow_nan=False)


def test_agreement_counts_differing_top1():
    reference = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    outputs = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    assert compare(reference, outputs).agreement == 0.5


def test_comparing_different_shapes_fails():
    with pytest.raises(EvaluationError, match="shapes"):
        compare(np.zeros((4, 3)), np.zeros((4, 2)))


# --- mistakes, said in words ----------------------------------------------------------


def test_label_count_mismatch():
    with pytest.raises(EvaluationError, match="50 labels but the model gave 64 outputs"):
        top1_accuracy(np.zeros((64, 4)), np.zeros(50, dtype=int))


def test_class_count_mismatch_names_the_model(float_model, test_inputs, labels):
    one_hot = np.eye(3, dtype=np.float32)[labels % 3]
    with pytest.raises(EvaluationError, match="3 classes per sample but the model outputs 4") as info:
        evaluate(float_model, (test_inputs, one_hot))
    assert (info.value.source, info.value.mode) == ("tiny_dense", "float32")


def test_labels_beyond_the_classes(float_model, test_inputs):
    with pytest.raises(EvaluationError, match="labels run from 0 to 9 but the model has 4 classes"):
        evaluate(float_model, (test_inputs, np.arange(64) % 10))


def test_fractional_labels(float_model, test_inputs):
    with pytest.raises(EvaluationError, match="not whole class indices"):
        evaluate(float_model, (test_inputs, np.full(64, 0.5, dtype=np.float32)))


def test_more_labels_than_samples_is_a_dataset_error(float_model, test_inputs, labels):
    with pytest.raises(DatasetError, match="evaluation data has 64 sample"):
        evaluate(float_model, (test_inputs, np.concatenate([labels, labels[:3]])))


def test_empty_set(float_model, test_inputs, labels):
    with pytest.raises(DatasetError, match="evaluation data is empty") as info:
        evaluate(float_model, (test_inputs[:0], labels[:0]))
    assert (info.value.source, info.value.mode) == ("tiny_dense", "float32")


def test_data_of_the_wrong_shape(float_model, labels):
    with pytest.raises(DatasetError, match="expects"):
        evaluate(float_model, (np.zeros((64, 4, 4), np.float32), labels))


def test_data_without_labels(float_model, test_inputs):
    with pytest.raises(DatasetError, match="evaluation data is a ndarray"):
        evaluate(float_model, test_inputs)


def test_accuracy_of_several_outputs_asks_for_a_metric():
    with pytest.raises(EvaluationError, match="takes one output, but the model has 2"):
        ACCURACY.fn([np.zeros((3, 2)), np.zeros((3, 2))], np.zeros(3))


def test_a_metric_that_returns_nan(float_model, test_inputs, labels):
    with pytest.raises(EvaluationError, match="'broken' is nan"):
        evaluate(float_model, (test_inputs, labels), metric=Metric("broken", lambda o, y: float("nan")))


@pytest.fixture(scope="module")
def nan_model(tf, tf_keras, shared_converter):
    """log(-1 - x^2): NaN for every input."""
    model = tf_keras.Sequential(
        [
            tf_keras.Input((8, 8), name="x"),
            tf_keras.layers.Flatten(),
            tf_keras.layers.Lambda(lambda t: tf.math.log(-1.0 - t * t)),
        ],
        name="nan_model",
    )
    return shared_converter.convert(model, "float32")


def test_nan_outputs_name_the_model_and_mode(nan_model, test_inputs):
    with pytest.raises(EvaluationError, match="NaN or infinite") as info:
        evaluate(nan_model, (test_inputs, np.zeros(len(test_inputs), dtype=int)))
    assert (info.value.source, info.value.mode) == ("nan_model", "float32")
    assert "log or sqrt of a negative" in str(info.value)


# --- several inputs and outputs -------------------------------------------------------


@pytest.fixture(scope="module")
def two_headed(tf_keras, shared_converter):
    """Inputs a (3,) and b (5,); outputs: a 4-class head and a 2-class head."""
    tf_keras.utils.set_random_seed(3)
    a = tf_keras.Input((3,), name="a")
    b = tf_keras.Input((5,), name="b")
    joined = tf_keras.layers.Dense(8, activation="relu")(tf_keras.layers.Concatenate()([a, b]))
    heads = [tf_keras.layers.Dense(4, name="four")(joined), tf_keras.layers.Dense(2, name="two")(joined)]
    model = tf_keras.Model([a, b], heads, name="two_headed")
    rng = np.random.default_rng(4)
    calibration = [rng.random((16, 3), dtype=np.float32), rng.random((16, 5), dtype=np.float32)]
    convert = shared_converter.convert
    return {mode: convert(model, mode, representative_data=calibration) for mode in ("float32", "int8")}


def test_several_outputs_reach_the_metric_as_a_list(two_headed):
    rng = np.random.default_rng(5)
    x = {"a": rng.random((20, 3), dtype=np.float32), "b": rng.random((20, 5), dtype=np.float32)}
    seen = []

    def both(outputs, y):
        seen.append([o.shape for o in outputs])
        return 0.5

    result = evaluate(two_headed["int8"], (x, np.zeros(20)), metric=Metric("both", both),
                      reference=two_headed["float32"])
    assert sorted(seen[0]) == [(20, 2), (20, 4)]
    assert result.value == 0.5
    assert 0.0 <= result.fidelity.agreement <= 1.0 and result.fidelity.mean_abs_error > 0
    same = evaluate(two_headed["float32"], (x, np.zeros(20)), metric=Metric("both", both),
                    reference=two_headed["float32"])
    assert same.fidelity.identical


# --- evaluations kept in the cache folder ------------------------------------------------


def records(folder):
    return sorted(p.name for p in (folder / "evaluations").rglob("*.json")) if (folder / "evaluations").exists() else []


def test_an_evaluation_is_kept_by_the_bytes_the_data_and_the_metric(
    tmp_path, int8_model, float_model, test_inputs, labels
):
    from pytest_tflite.conversion.cache import ConversionCache
    from pytest_tflite.evaluate import remembered

    cache = ConversionCache(tmp_path)
    first = remembered(cache, int8_model, (test_inputs, labels), ACCURACY, float_model)
    assert first == evaluate(int8_model, (test_inputs, labels), reference=float_model)
    assert len(records(tmp_path)) == 1
    assert remembered(cache, int8_model, (test_inputs, labels), ACCURACY, float_model) == first
    assert len(records(tmp_path)) == 1

    # Other labels, another reference, another metric: each is evaluated and kept apart.
    remembered(cache, int8_model, (test_inputs, (labels + 1) % 4), ACCURACY, float_model)
    remembered(cache, int8_model, (test_inputs, labels), ACCURACY, None)
    remembered(cache, int8_model, (test_inputs, labels), Metric("wrong", lambda o, y: 0.0), None)
    assert len(records(tmp_path)) == 4
    # The same metric without its per-sample scores is another evaluation.
    plain = remembered(cache, int8_model, (test_inputs, labels), Metric("accuracy", top1_accuracy), float_model)
    assert plain.per_sample is None and first.per_sample is not None
    assert len(records(tmp_path)) == 5


def test_an_evaluation_that_cannot_be_keyed_is_not_kept(tmp_path, tf, int8_model, test_inputs, labels):
    """A dataset is read, not hashed; a closure's code does not say what it closes over."""
    from pytest_tflite.conversion.cache import ConversionCache
    from pytest_tflite.evaluate import remembered

    cache = ConversionCache(tmp_path)
    dataset = tf.data.Dataset.from_tensor_slices((test_inputs, labels)).batch(16)
    assert remembered(cache, int8_model, dataset, ACCURACY, None).value == evaluate(int8_model, dataset).value
    offset = 0.5
    remembered(cache, int8_model, (test_inputs, labels), Metric("shifted", lambda o, y: offset), None)
    assert records(tmp_path) == []


def test_a_damaged_evaluation_record_is_evaluated_again(tmp_path, int8_model, test_inputs, labels):
    from pytest_tflite.conversion.cache import ConversionCache
    from pytest_tflite.evaluate import remembered

    cache = ConversionCache(tmp_path)
    first = remembered(cache, int8_model, (test_inputs, labels), ACCURACY, None)
    (record,) = (tmp_path / "evaluations").rglob("*.json")
    record.write_text('{"metric": "accuracy"')
    assert remembered(cache, int8_model, (test_inputs, labels), ACCURACY, None) == first
    assert json.loads(record.read_text())["value"] == first.value
