"""scikit-learn's bundled handwritten digits, shaped like MNIST (28x28, values in [0, 1]).

The 8x8 images are upsampled 3x and padded to 28x28, so the source articles' MNIST
architectures apply unchanged, with no download.
"""

from __future__ import annotations

import numpy as np

TEST_FRACTION = 0.25
SEED = 0


def load_digits_28() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_test, y_test), images float32 of shape (n, 28, 28)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = digits.images.astype(np.float32) / 16.0
    upsampled = np.kron(images, np.ones((1, 3, 3), dtype=np.float32))
    images28 = np.pad(upsampled, ((0, 0), (2, 2), (2, 2)))
    order = np.random.default_rng(SEED).permutation(len(images28))
    images28, labels = images28[order], digits.target[order].astype(np.int64)
    split = int(len(images28) * (1 - TEST_FRACTION))
    return images28[:split], labels[:split], images28[split:], labels[split:]


def train_dense_mlp(x: np.ndarray, y: np.ndarray, *, epochs: int = 12) -> object:
    """The articles' dense 128/32/10 classifier, trained with fixed seeds (tf-keras)."""
    from pytest_tflite.tf_loader import tensorflow

    tf = tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model = keras.Sequential(
        [
            keras.Input((28, 28), name="image"),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ],
        name="dense_mlp",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)
    return model
