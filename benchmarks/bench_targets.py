"""What a compatibility check costs, per target, on small and real-sized models.

Run from the repository root:

    .venv/bin/python benchmarks/bench_targets.py

For each model and target it prints the median time of ``target.check(model)`` and the
verdict. The models are the example suite's dense classifier (converted under float32
and full_int8) and the real models vendored in ``tests/data/real`` (Coral's MobileNet SSD
v2 without its weights, and MediaPipe's GPU models). The ``gpu`` target runs with
``confirm="never"`` so that only the rule engine is timed.

This is a script, not a test: the figures depend on the machine, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT / "tests" / "data" / "real"
sys.path.insert(0, str(ROOT))


def median_ms(action, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def models():
    from pytest_tflite import Converter, TFLiteModel
    from suites.digits import load_digits_28, train_dense_mlp

    x_train, y_train, _, _ = load_digits_28()
    dense = train_dense_mlp(x_train, y_train)
    converter = Converter()
    for mode in ("float32", "full_int8"):
        yield f"dense_mlp ({mode})", converter.convert(dense, mode, representative_data=x_train)
    for path in sorted(REAL.glob("*.tflite*")):
        content = path.read_bytes()
        if path.suffix == ".gz":
            content = gzip.decompress(content)
        yield path.name.split(".")[0], TFLiteModel(content, name=path.stem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per check (median)")
    args = parser.parse_args()

    from pytest_tflite import get_target

    targets = [
        get_target("cpu"),
        get_target("gpu").with_options(confirm="never"),
        get_target("edgetpu").with_options(compiler_path="never"),
    ]
    rows = []
    for name, model in models():
        row = [name, len(model.operators)]
        for target in targets:
            target.check(model)  # warm: first-use imports
            ms = median_ms(lambda: target.check(model), args.runs)
            row.append(f"{ms:8.1f} ms  {target.check(model).verdict}")
        rows.append(row)
    print(tabulate(rows, headers=["model", "operators", *(t.name for t in targets)]))


if __name__ == "__main__":
    main()
