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


def train_dense_mlp(x: np.ndarray, y: np.ndarray, *, epochs: int | None = None) -> object:
    """The articles' dense 128/32/10 classifier trained afresh with the suite's recipe;
    the suite itself loads the committed weights instead."""
    from suites.train import train

    return train("dense_mlp", x, y, epochs=epochs)
