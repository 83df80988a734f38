"""What timing through pytest-benchmark adds to a model's latency: the harness overhead.

Run from the repository root:

    .venv/bin/python benchmarks/bench_latency.py

For a tiny model, the example suite's dense 128/32/10 classifier and a small CNN (all
float32, one interpreter thread) it prints the median time of one ``invoke()``:

1. "bare": a plain loop of ``runner.invoke()`` on the runner ``tflite_benchmark``
   prepares (inputs loaded once, warmed up), each invoke timed with ``perf_counter``
   for about a second;
2. "pytest-benchmark": the model's ``test_latency`` check, read back from
   ``--benchmark-json``;

and their ratio. Both are measured in the same real pytest session (a subprocess), one
right after the other, because on a shared machine the load of other processes moves a
median more than the harness does; the session is repeated and the medians of the
figures are shown. This is a script, not a test: the figures depend on the machine, so
nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tabulate import tabulate

MODELS = '''
    from pytest_tflite import DeclaredModel


    def tiny():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((8,), name="x"), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(4)],
            name="tiny",
        )


    def dense_mlp():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((28, 28), name="image"), keras.layers.Flatten(),
             keras.layers.Dense(128, activation="relu"), keras.layers.Dense(32, activation="relu"),
             keras.layers.Dense(10)],
            name="dense_mlp",
        )


    def small_cnn():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((64, 64, 3), name="image"),
             keras.layers.Conv2D(16, 3, activation="relu"),
             keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
             keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)],
            name="small_cnn",
        )


    MODELS = [DeclaredModel(f.__name__, source=f, modes=["float32"]) for f in (tiny, dense_mlp, small_cnn)]
    tiny_model, dense_mlp_model, small_cnn_model = MODELS
'''

# Runs in the same session, before the latency checks (files are collected by name).
BARE = '''
    import json
    import statistics
    import time
    from pathlib import Path

    import pytest
    import tflite_models
    from pytest_tflite.declared.checks import convert_declared
    from pytest_tflite.latency import prepare


    @pytest.mark.parametrize("declared", tflite_models.MODELS, ids=lambda d: d.name)
    def test_bare(declared, tflite_session):
        runner = prepare(convert_declared(tflite_session, declared, "float32"), threads=1)
        timer, invoke, times = time.perf_counter, runner.invoke, []
        until = timer() + 1.0
        while timer() < until or len(times) < 5:
            started = timer()
            invoke()
            times.append(timer() - started)
        Path(f"bare-{declared.name}.json").write_text(
            json.dumps({"median": statistics.median(times), "invokes": len(times)})
        )
'''


def write_repo(folder: Path) -> None:
    (folder / "tflite_models.py").write_text(textwrap.dedent(MODELS))
    (folder / "test_bare.py").write_text(textwrap.dedent(BARE))
    # An empty ini file makes the folder its own rootdir, away from any project config.
    (folder / "pytest.ini").write_text("[pytest]\n")


def one_session(folder: Path) -> dict[str, dict]:
    """Per model: the bare median and pytest-benchmark's statistics, from one pytest run."""
    report = folder / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-p", "no:randomly", "-q", "-k", "bare or latency", f"--benchmark-json={report}"]
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"pytest failed:\n{result.stdout}\n{result.stderr}")
    found = {}
    for bench in json.loads(report.read_text())["benchmarks"]:
        name = bench["extra_info"]["model"]
        bare = json.loads((folder / f"bare-{name}.json").read_text())
        found[name] = {"bare": bare["median"], "invokes": bare["invokes"],
                       "size_bytes": bench["extra_info"]["size_bytes"], **bench["stats"]}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=3, help="pytest sessions (median)")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        folder = Path(tmp)
        write_repo(folder)
        started = time.perf_counter()
        sessions = [one_session(folder) for _ in range(args.sessions)]
        wall = (time.perf_counter() - started) / args.sessions
    rows = []
    for name in sessions[0]:
        runs = [s[name] for s in sessions]

        def med(key: str) -> float:
            return statistics.median(r[key] for r in runs)

        rows.append([
            name,
            f"{runs[0]['size_bytes']:,}",
            f"{med('bare') * 1e6:.2f}",
            f"{med('median') * 1e6:.2f}",
            f"{statistics.median(r['median'] / r['bare'] for r in runs):.2f}x",
            f"{med('invokes'):,.0f}",
            f"{med('rounds'):,.0f} x {runs[0]['iterations']}",
        ])
    print(f"median time of one invoke(), float32, 1 thread, in microseconds "
          f"(median of {args.sessions} pytest sessions)")
    print(tabulate(rows, headers=["model", "bytes", "bare", "pytest-benchmark", "ratio",
                                  "bare invokes", "rounds x invokes"],
                   colalign=("left", "right", "right", "right", "right", "right", "right")))
    print(f"\none session took {wall:.1f} s: TensorFlow import, three conversions, and about a "
          "second per model for each of the two timings (--benchmark-max-time defaults to 1 s)")


if __name__ == "__main__":
    main()
