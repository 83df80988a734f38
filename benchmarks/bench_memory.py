"""Memory of one process through many fine-tunes: does it grow with their number?

Fine-tunes a small classifier (8x8 inputs, 32 hidden units) under ``qat_int8`` with a
different seed each time (so each is a fine-tune and a conversion of its own, with no
cache), and prints the process's resident memory after the first ``--first`` and after
``--last`` of them, and their ratio: a process that keeps what each fine-tune built
grows with their number.

    .venv/bin/python benchmarks/bench_memory.py            # 5 against 50, about 2 minutes
    .venv/bin/python benchmarks/bench_memory.py --last 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def resident_mib() -> float:
    """The process's resident memory now (VmRSS), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=5)
    parser.add_argument("--last", type=int, default=50)
    args = parser.parse_args()

    from pytest_tflite import Converter, get_mode
    from pytest_tflite.conversion.tf_loader import tensorflow

    tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8, 8), name="x"), keras.layers.Flatten(name="f"),
         keras.layers.Dense(32, activation="relu", name="h"), keras.layers.Dense(4, name="out")],
        name="bench",
    )
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    rng = np.random.default_rng(0)
    data = rng.random((256, 8, 8), dtype=np.float32), rng.integers(0, 4, 256)
    converter = Converter()
    figures = {}
    start = time.perf_counter()
    for done in range(1, args.last + 1):
        mode = get_mode("qat_int8").with_options(epochs=1, seed=done)
        converter.convert(model, mode, training_data=data)
        if done in (args.first, args.last):
            figures[done] = resident_mib()
            seconds = time.perf_counter() - start
            print(f"after {done:3d} fine-tunes: {figures[done]:7.0f} MiB resident ({seconds:.0f} s)")
    ratio = figures[args.last] / figures[args.first]
    print(f"ratio {args.last} / {args.first}: {ratio:.2f} (target: at most 1.3)")


if __name__ == "__main__":
    main()
