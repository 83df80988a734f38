"""Print the example suite's figures as a Markdown table: ``python -m suites.figures``.

Size, gzipped size, accuracy on the held-out digits and top-1 agreement with the
float32 conversion, per mode, for the dense 128/32/10 classifier. The training-time
modes fine-tune it on the training split first.
"""

from __future__ import annotations

import numpy as np

from pytest_tflite import Converter, mode_names
from suites.digits import load_digits_28, train_dense_mlp


def main() -> None:
    x_train, y_train, x_test, y_test = load_digits_28()
    model = train_dense_mlp(x_train, y_train)
    converter = Converter()
    keras_accuracy = np.mean(model.predict(x_test, verbose=0).argmax(1) == y_test)
    reference = converter.convert(model, "float32").predict(x_test).argmax(1)
    print(f"Keras model accuracy: {keras_accuracy:.2%}\n")
    print("| mode | size (bytes) | gzipped (bytes) | accuracy | agreement with float32 |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for mode in mode_names():
        converted = converter.convert(
            model, mode, representative_data=x_train, training_data=(x_train, y_train)
        )
        predicted = converted.predict(x_test).argmax(1)
        print(
            f"| `{mode}` | {converted.size_bytes:,} | {converted.gzip_size_bytes:,} | "
            f"{np.mean(predicted == y_test):.2%} | {np.mean(predicted == reference):.1%} |"
        )


if __name__ == "__main__":
    main()
