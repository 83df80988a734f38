"""What the foundation of pytest-tflite costs: plugin load, conversion and its cache, predict.

Run from the repository root:

    .venv/bin/python benchmarks/bench_foundation.py

It prints three tables:

1. the wall time of ``python -m pytest --co -q`` on a folder of plain tests (no models),
   with the plugin loaded and with ``-p no:tflite``: what every pytest run pays for the
   plugin being installed;
2. converting the dense 128/32/10 model (tf-keras, 28x28 input) into a fresh cache
   folder ("cold") against taking it from the disk cache in a new ``Converter``, for
   float32 and int8;
3. ``predict`` on 1000 samples in batches against one ``invoke`` per sample, in samples
   per second, for the same two models.

This is a script, not a test: the figures depend on the machine, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tabulate import tabulate

MODES = ("float32", "int8")
PLAIN_FILES = 5
PLAIN_TESTS_PER_FILE = 10
PREDICT_SAMPLES = 1000
STARTUP_BUDGET_MS = 30
"""What the plugin may add to a pytest run of a repository without model tests."""


def median_time(action: Callable[[], object], runs: int) -> float:
    """Median wall time of ``action`` over ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# --- 1. plugin load -----------------------------------------------------------------------


def write_plain_suite(folder: Path) -> None:
    for i in range(PLAIN_FILES):
        tests = "\n\n".join(
            f"def test_plain_{j}():\n    assert {j} + 1 == {j + 1}"
            for j in range(PLAIN_TESTS_PER_FILE)
        )
        (folder / f"test_plain_{i:02d}.py").write_text(tests + "\n")
    # An empty ini file makes the folder its own rootdir, away from any project config.
    (folder / "pytest.ini").write_text("[pytest]\n")


def collect_only(folder: Path, *extra: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *extra],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    expected = f"{PLAIN_FILES * PLAIN_TESTS_PER_FILE} tests collected"
    if result.returncode != 0 or expected not in result.stdout:
        raise SystemExit(f"pytest --co failed:\n{result.stdout}\n{result.stderr}")


def bench_plugin_load(runs: int) -> list[list[object]]:
    with tempfile.TemporaryDirectory(prefix="bench-plain-") as tmp:
        folder = Path(tmp)
        write_plain_suite(folder)
        collect_only(folder)  # warm the file system cache and the .pyc files
        with_plugin, without = [], []
        for _ in range(runs):  # interleaved, so drift hits both alike
            with_plugin.append(median_time(lambda: collect_only(folder), 1))
            without.append(median_time(lambda: collect_only(folder, "-p", "no:tflite"), 1))
    a, b = statistics.median(with_plugin), statistics.median(without)
    imports = [plugin_import_time() for _ in range(runs)]
    return [
        ["with the plugin", f"{a * 1000:.0f}"],
        ["-p no:tflite", f"{b * 1000:.0f}"],
        ["difference", f"{(a - b) * 1000:+.0f}"],
        ["budget", f"{STARTUP_BUDGET_MS}: {'within' if (a - b) * 1000 <= STARTUP_BUDGET_MS else 'OVER'}"],
        ["import pytest_tflite.plugin alone", f"{statistics.median(imports) * 1000:.1f}"],
    ]


def plugin_import_time() -> float:
    """Seconds to import the plugin in a fresh interpreter that has imported pytest already."""
    code = (
        "import time, pytest; t = time.perf_counter(); import pytest_tflite.plugin; "
        "print(time.perf_counter() - t)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return float(result.stdout)


# --- 2. conversion and the disk cache ------------------------------------------------------


def dense_mlp():
    from pytest_tflite.conversion.tf_loader import tensorflow

    tensorflow()
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((28, 28), name="image"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="hidden_128"),
            keras.layers.Dense(32, activation="relu", name="hidden_32"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="dense_mlp",
    )


def bench_conversion(model, data: np.ndarray, runs: int) -> tuple[list[list[object]], dict]:
    from pytest_tflite import Converter

    # TensorFlow's first conversion in a process pays one-off set-up; keep it out.
    Converter(None).convert(model, "int8", representative_data=data)
    rows, converted = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as tmp:
        for mode in MODES:
            folders = iter(Path(tmp) / f"{mode}-{i}" for i in range(runs))
            last: list[Path] = []

            def cold() -> None:
                folder = next(folders)
                last.append(folder)
                converted[mode] = Converter(folder).convert(model, mode, representative_data=data)

            def from_disk() -> None:
                converter = Converter(last[-1])
                converter.convert(model, mode, representative_data=data)
                assert converter.stats == {"disk": 1}, converter.stats

            cold_s = median_time(cold, runs)
            disk_s = median_time(from_disk, max(runs, 5))
            rows.append(
                [mode, f"{cold_s * 1000:.0f}", f"{disk_s * 1000:.1f}", f"{cold_s / disk_s:.0f}x",
                 converted[mode].size_bytes]
            )
    return rows, converted


# --- 3. predict throughput ------------------------------------------------------------------


def bench_predict(models: dict, x: np.ndarray, runs: int) -> list[list[object]]:
    from pytest_tflite import TFLiteModel

    rows = []
    for mode, converted in models.items():
        model = TFLiteModel(converted.content, name=converted.name, mode=mode)
        model.predict(x)  # warm-up: interpreter creation, tensor allocation
        batched_s = median_time(lambda: model.predict(x), runs)

        single = TFLiteModel(converted.content, name=converted.name, mode=mode).runner

        def one_by_one() -> None:
            for i in range(len(x)):
                single.set_inputs(x[i : i + 1])
                single.invoke()
                single.outputs()

        one_by_one()
        single_s = median_time(one_by_one, max(1, runs // 2))
        rows.append(
            [
                mode,
                f"{len(x) / batched_s:,.0f}",
                f"{len(x) / single_s:,.0f}",
                f"{single_s / batched_s:.1f}x",
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--startup-only", action="store_true", help="measure the plugin's start-up cost alone")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")

    print(f"1. pytest --co -q on {PLAIN_FILES * PLAIN_TESTS_PER_FILE} plain tests "
          f"(median of {args.runs} runs)")
    load_rows = bench_plugin_load(args.runs)
    print(tabulate(load_rows, headers=["run", "wall ms"], colalign=("left", "right")))
    if args.startup_only:
        return

    started = time.perf_counter()
    model = dense_mlp()
    import_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    calibration = rng.random((100, 28, 28), dtype=np.float32)
    x = rng.random((PREDICT_SAMPLES, 28, 28), dtype=np.float32)

    conversion_runs = max(3, args.runs // 2 + 1)
    print(f"\n2. converting the dense 128/32/10 model (TensorFlow import and model build "
          f"{import_s:.1f} s, not counted; median of {conversion_runs} cold runs)")
    rows, converted = bench_conversion(model, calibration, conversion_runs)
    print(tabulate(rows, headers=["mode", "cold ms", "disk cache ms", "speed-up", "bytes"],
                   colalign=("left", "right", "right", "right", "right")))

    print(f"\n3. predict on {PREDICT_SAMPLES} samples (median of {args.runs} runs)")
    headers = ["mode", "batched samples/s", "one invoke per sample, samples/s", "speed-up"]
    print(tabulate(bench_predict(converted, x, args.runs), headers=headers,
                   colalign=("left", "right", "right", "right")))


if __name__ == "__main__":
    main()
