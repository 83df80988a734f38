"""The source article's training-time experiment: QAT keeps accuracy, clustering shrinks
the zipped model about sevenfold (384 KB to 56 KB in the article)."""

from __future__ import annotations

import numpy as np
import pytest

MAX_QAT_DROP = 0.01
CLUSTERED_GZIP_RATIO = (5.0, 8.0)
MAX_CLUSTERING_DROP = 0.01


def accuracy(model, digits) -> float:
    _, _, x_test, y_test = digits
    return float(np.mean(model.predict(x_test).argmax(axis=1) == y_test))


@pytest.fixture
def float_model(tflite_session, dense_mlp):
    return tflite_session.converter.convert(dense_mlp, "float32")


@pytest.mark.tflite(modes=["qat_int8"])
def test_quantization_aware_training_keeps_accuracy_within_a_point(tflite_model, float_model, digits):
    assert accuracy(tflite_model, digits) >= accuracy(float_model, digits) - MAX_QAT_DROP


@pytest.mark.tflite(modes=["clustered", "pruned_clustered"])
def test_clustering_shrinks_the_zipped_model(tflite_model, float_model, digits):
    low, high = CLUSTERED_GZIP_RATIO
    assert low <= float_model.gzip_size_bytes / tflite_model.gzip_size_bytes <= high
    assert accuracy(tflite_model, digits) >= accuracy(float_model, digits) - MAX_CLUSTERING_DROP


@pytest.mark.tflite(modes=["pruned", "clustered", "pruned_clustered"])
def test_pruning_and_clustering_leave_the_raw_size_as_it_is(tflite_model, float_model):
    assert tflite_model.size_bytes == pytest.approx(float_model.size_bytes, rel=0.01)
    assert tflite_model.gzip_size_bytes < float_model.gzip_size_bytes
