"""Fixtures of the example tests: the articles' dense classifier, from its committed weights.

The tests are given the weight file with the compile configuration it was trained with,
as the declared ``dense_mlp`` is, so both share one conversion per mode (and a run whose
conversions are all cached loads no TensorFlow)."""

from __future__ import annotations

import pytest

from suites.digits import load_digits_28
from suites.train import COMPILE_CONFIG, weights_path


@pytest.fixture(scope="session")
def digits():
    return load_digits_28()


@pytest.fixture(scope="session")
def dense_mlp() -> str:
    return str(weights_path("dense_mlp"))


@pytest.fixture
def tflite_source(dense_mlp):
    return dense_mlp


@pytest.fixture
def tflite_compile_config():
    """The loss the classifier was trained with: the training-time modes fine-tune with it."""
    return COMPILE_CONFIG


@pytest.fixture
def tflite_representative_data(digits):
    return digits[0]


@pytest.fixture
def tflite_training_data(digits):
    """The training split: the training-time modes fine-tune the classifier on it."""
    x_train, y_train, _, _ = digits
    return x_train, y_train
