"""Writes digits_cnn_float32.tflite: a small CNN trained on scikit-learn's 8x8 digits, in
float32, for the tests that run without TensorFlow. With the test extra installed:

    python tests/data/make_digits_cnn.py tests/data/digits_cnn_float32.tflite
"""
import sys
from pathlib import Path

import tensorflow as tf
import tf_keras as keras
from sklearn.datasets import load_digits

digits = load_digits()
x = (digits.images / 16.0).astype("float32")[..., None]
y = digits.target
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((8, 8, 1), batch_size=1, name="image"),
    keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv"),
    keras.layers.MaxPooling2D(2, name="pool"),
    keras.layers.Flatten(name="flatten"),
    keras.layers.Dense(32, activation="relu", name="hidden"),
    keras.layers.Dense(10, name="logits"),
], name="digits_cnn")
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
model.fit(x[:1400], y[:1400], epochs=30, batch_size=32, verbose=0)
print(model.evaluate(x[1400:], y[1400:], verbose=0))
content = tf.lite.TFLiteConverter.from_keras_model(model).convert()
Path(sys.argv[1]).write_bytes(content)
print(len(content))
