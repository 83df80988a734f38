"""Memory of one process through many fine-tunes: does it grow with their number?

Fine-tunes a small classifier (8x8 inputs, 32 hidden units, saved as a ``.h5`` file as
a model repository holds it) under ``qat_int8`` with a different seed each time (so each
is a fine-tune and a conversion of its own, with no cache), and prints the resident
memory after the first ``--first`` and after ``--last`` of them, and their ratio: of the
process that asks for the conversions, and of it with the process fine-tuning for it
(which is replaced when it grows past its limit). ``--in-process`` fine-tunes an
in-memory model instead, in the asking process itself, as a test that builds its model
does.

    .venv/bin/python benchmarks/bench_memory.py            # 5 against 50, about 2 minutes
    .venv/bin/python benchmarks/bench_memory.py --last 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_suites import descendants, rss_mib

COMPILE = {"loss": {"class_name": "SparseCategoricalCrossentropy", "config": {"from_logits": True}}}


def resident_mib() -> float:
    """The process's resident memory now (VmRSS), in MiB."""
    return rss_mib(os.getpid())


def child_mib(parent: int) -> float:
    """Resident memory of the processes below ``parent`` (its fine-tuning child; 0 when none runs)."""
    return sum(rss_mib(pid) for pid in descendants(parent) if pid != parent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first", type=int, default=5)
    parser.add_argument("--last", type=int, default=50)
    parser.add_argument("--in-process", action="store_true", help="an in-memory model, fine-tuned in this process")
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
    folder = tempfile.TemporaryDirectory(prefix="bench-memory-")
    source: object = model
    if not args.in_process:
        source = str(Path(folder.name) / "bench.h5")
        model.save(source)
    converter = Converter()
    figures: dict[int, tuple[float, float]] = {}
    peak_child = 0.0
    start = time.perf_counter()
    for done in range(1, args.last + 1):
        mode = get_mode("qat_int8").with_options(epochs=1, seed=done)
        converter.convert(source, mode, training_data=data, compile_config=COMPILE, name="bench")
        peak_child = max(peak_child, child_mib(os.getpid()))
        if done in (args.first, args.last):
            figures[done] = (resident_mib(), peak_child)
            seconds = time.perf_counter() - start
            print(
                f"after {done:3d} fine-tunes: this process {figures[done][0]:6.0f} MiB, "
                f"with the fine-tuning process at its largest {sum(figures[done]):6.0f} MiB ({seconds:.0f} s)"
            )
    for label, pick in (("this process", lambda f: f[0]), ("with the fine-tuning process", sum)):
        ratio = pick(figures[args.last]) / pick(figures[args.first])
        print(f"ratio {args.last} / {args.first}, {label}: {ratio:.2f} (target: at most 1.3)")
    folder.cleanup()


if __name__ == "__main__":
    main()
