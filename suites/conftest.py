"""Fixtures of the example tests: the articles' dense classifier, from its committed weights."""

from __future__ import annotations

import pytest

from suites.digits import load_digits_28
from suites.train import COMPILE_CONFIG, weights_path


@pytest.fixture(scope="session")
def digits():
    return load_digits_28()


@pytest.fixture(scope="session")
def dense_mlp():
    from pytest_tflite.conversion.tf_loader import tensorflow

    tensorflow()
    import tf_keras as keras

    model = keras.models.load_model(weights_path("dense_mlp"), compile=False)
    # Compiled, so the training-time modes fine-tune with the loss it was trained with.
    model.compile(loss=keras.losses.deserialize(COMPILE_CONFIG["loss"]), metrics=COMPILE_CONFIG["metrics"])
    return model


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
