"""Shared fixtures: real, tiny Keras models and data for the plugin's own tests."""

from __future__ import annotations

import numpy as np
import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def tf():
    from pytest_tflite.tf_loader import tensorflow

    return tensorflow()


@pytest.fixture(scope="session")
def tf_keras(tf):
    import tf_keras

    return tf_keras


@pytest.fixture(scope="session")
def keras3(tf):
    import keras

    return keras


def dense_model(keras, name: str = "tiny_dense", input_shape=(8, 8), seed: int = 0):
    """A small trained-looking classifier: Flatten -> Dense(16, relu) -> Dense(4)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(input_shape, name="x"),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(4),
        ],
        name=name,
    )


@pytest.fixture(scope="session")
def tiny_tf_keras(tf_keras):
    return dense_model(tf_keras)


@pytest.fixture(scope="session")
def tiny_keras3(keras3):
    return dense_model(keras3, name="tiny_keras3")


@pytest.fixture(scope="session")
def calibration_data():
    return np.random.default_rng(0).random((32, 8, 8), dtype=np.float32)
