"""Train the example suite's models and save their weights: ``python -m suites.train [NAME ...]``.

Each model is trained with fixed seeds on the digits' training split and saved, whole
(architecture and weights), to ``suites/weights/<name>.h5``, the file its declaration
converts. Without names, every model in ``suites.architectures.BUILDERS`` is trained.
Prints each model's Keras accuracy on the test split and its training time.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from suites.architectures import BUILDERS, build
from suites.digits import SEED, load_digits_28

WEIGHTS = Path(__file__).resolve().parent / "weights"
EPOCHS = {
    "dense_mlp": 12,
    "mobilenet": 10,
    "shufflenet": 8,
    "efficientnet_lite": 10,
    "efficientnet_lite_se": 10,
    "lstm_rows": 20,
}
LEARNING_RATE = 1e-3
BATCH_SIZE = 32


def weights_path(name: str) -> Path:
    """Where the trained model ``name`` is saved, and what its declaration loads."""
    return WEIGHTS / f"{name}.h5"


COMPILE_CONFIG = {
    "loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}},
    "metrics": ["accuracy"],
    "optimizer": "adam",
}
"""Loss, metrics and optimizer of every model, as plain data (declaring it imports nothing).
The fine-tunes of the training-time modes reuse it: a loaded weight file is not compiled."""


def fit(model: Any, x: np.ndarray, y: np.ndarray, *, epochs: int) -> Any:
    """Train ``model`` in place, seeded and with deterministic kernels."""
    from pytest_tflite.conversion.tf_loader import tensorflow

    tf = tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    model.compile(
        optimizer=keras.optimizers.Adam(LEARNING_RATE),
        loss=keras.losses.deserialize(COMPILE_CONFIG["loss"]),
        metrics=COMPILE_CONFIG["metrics"],
    )
    model.fit(x, y, epochs=epochs, batch_size=BATCH_SIZE, verbose=0, shuffle=True)
    return model


def train(name: str, x: np.ndarray, y: np.ndarray, *, epochs: int | None = None) -> Any:
    """The model ``name``, built with fixed seeds and trained on ``(x, y)``."""
    from pytest_tflite.conversion.tf_loader import tensorflow

    tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(SEED)  # the initial weights too
    return fit(build(name), x, y, epochs=epochs or EPOCHS[name])


def save(model: Any, name: str) -> Path:
    """Save the whole model (architecture and weights, no optimizer state) atomically."""
    from pytest_tflite.atomicfile import write_atomic

    path = weights_path(name)
    with tempfile.TemporaryDirectory() as folder:
        written = Path(folder) / path.name
        model.save(written, include_optimizer=False)
        write_atomic(path, written.read_bytes())
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ", ".join(BUILDERS)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"models to train (default: all of {default})")
    names = parser.parse_args(argv).names or list(BUILDERS)
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(BUILDERS)}")
    x_train, y_train, x_test, y_test = load_digits_28()
    WEIGHTS.mkdir(exist_ok=True)
    print(f"{'model':<22} {'params':>8} {'accuracy':>9} {'train s':>8} {'file bytes':>11}")
    for name in names:
        started = time.perf_counter()
        model = train(name, x_train, y_train)
        seconds = time.perf_counter() - started
        accuracy = float(np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test))
        path = save(model, name)
        print(f"{name:<22} {model.count_params():>8,} {accuracy:>9.2%} {seconds:>8.1f} {path.stat().st_size:>11,}")


if __name__ == "__main__":
    main()
