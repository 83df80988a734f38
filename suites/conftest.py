"""The bundled example suite: the articles' dense classifier on bundled digits."""

from __future__ import annotations

import pytest

from suites.digits import load_digits_28, train_dense_mlp


@pytest.fixture(scope="session")
def digits():
    return load_digits_28()


@pytest.fixture(scope="session")
def dense_mlp(digits):
    x_train, y_train, _, _ = digits
    return train_dense_mlp(x_train, y_train)


@pytest.fixture
def tflite_source(dense_mlp):
    return dense_mlp


@pytest.fixture
def tflite_representative_data(digits):
    return digits[0]


@pytest.fixture
def tflite_training_data(digits):
    """The training split: the training-time modes fine-tune the classifier on it."""
    x_train, y_train, _, _ = digits
    return x_train, y_train
