"""What the crash isolation (each model's first load in a child process) costs a warm run.

Run from the repository root:

    .venv/bin/python benchmarks/bench_isolation.py
    .venv/bin/python benchmarks/bench_isolation.py -k "mobilenet or lstm_rows" --rounds 3

It runs a slice of the reference suites serially with a warm conversion cache, alternately
as it ships and with the child-process probe replaced by a no-op, and prints the median
wall time of each and the difference. This is a script, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_RUN = """
import sys
import pytest
if sys.argv[1] == "off":
    import pytest_tflite.model.isolation as isolation
    isolation._probe = lambda content, timeout: None
sys.exit(pytest.main(sys.argv[2:]))
"""


def timed(isolation: str, args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _RUN, isolation, *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"pytest exited with {done.returncode}:\n{done.stdout[-2000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-k", default="mobilenet", help="the suites slice (pytest -k; default mobilenet)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    cache = tempfile.mkdtemp(prefix="pytest-tflite-isolation-")
    pytest_args = [
        "suites",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--tflite-target=all",
        f"--tflite-cache-dir={cache}",
        "--benchmark-skip",
        "-k",
        args.k,
    ]
    timed("on", pytest_args)  # converts, so the timed runs are warm
    times: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        for isolation in ("on", "off"):
            times[isolation].append(timed(isolation, pytest_args))
    on, off = statistics.median(times["on"]), statistics.median(times["off"])
    print(f"suites -k {args.k!r}, warm, serial, {args.rounds} rounds each")
    print(f"with crash isolation:    {on:6.1f} s  ({', '.join(f'{t:.1f}' for t in times['on'])})")
    print(f"without (probe a no-op): {off:6.1f} s  ({', '.join(f'{t:.1f}' for t in times['off'])})")
    print(f"cost: {on - off:+.1f} s ({(on - off) / off:+.1%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
