"""What the example suite costs, cold and warm, and whether pytest-xdist changes any outcome.

Run from the repository root:

    .venv/bin/python benchmarks/bench_suites.py                    # all targets
    .venv/bin/python benchmarks/bench_suites.py --target edgetpu   # the README's first line

1. A cold run of ``pytest suites`` (a new, empty conversion cache folder: every mode is
   converted and every training-time mode fine-tunes), then a warm run from that folder;
   their wall times, their ratio and each run's peak memory.
2. The same suite under ``-n 2`` against the serial warm run, from the same cache: the
   wall time, and whether every test (by node id, from ``--junitxml``) ends the same way.

Every run passes ``--benchmark-disable``: the latency checks then time one call instead of
rounds of them, so the figures are about conversion, evaluation and checking (pytest-xdist
turns timing off anyway, which would make the two sides of part 2 incomparable).
Nothing is asserted: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_suite(label: str, cache: Path, report: Path, target: str, extra: list[str]) -> float:
    """Wall time of one ``pytest suites`` run (its exit code, summary and peak memory are
    printed: the largest resident set of the run's processes, pytest-xdist workers included)."""
    command = [
        sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
        "--tflite-target", target, "--tflite-cache-dir", str(cache), f"--junitxml={report}", *extra,
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.DEVNULL, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        lines = output.read().strip().splitlines()
    seconds = time.perf_counter() - started
    summary = lines[-1:] or ["(no output)"]
    peak_gib = usage.ru_maxrss / 1024**2  # KiB on Linux
    print(f"  {label:<8} {seconds:7.1f} s  peak {peak_gib:.2f} GiB  exit {child.returncode}  {summary[0]}")
    return seconds


def outcomes(report: Path) -> dict[str, str]:
    """Node id -> passed, failed, error or skipped, from a JUnit XML report."""
    found = {}
    for case in ET.parse(report).iter("testcase"):
        node = f"{case.get('classname')}::{case.get('name')}"
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        found[node] = {"failure": "failed", "error": "error", "skipped": "skipped"}.get(
            kinds[0] if kinds else "", "passed"
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="all", help="--tflite-target for every run (default: all)")
    parser.add_argument("--workers", default="2", help="-n for the parallel run (default: 2)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-suites-") as folder:
        work = Path(folder)
        cache = work / "cache"
        print(f"pytest suites --tflite-target {args.target} --benchmark-disable")
        print("1. conversion cache")
        cold = run_suite("cold", cache, work / "cold.xml", args.target, [])
        warm = run_suite("warm", cache, work / "warm.xml", args.target, [])
        print(f"  cold {cold:.1f} s, warm {warm:.1f} s: the warm run takes 1/{cold / warm:.1f} of the cold one")
        print(f"2. -n {args.workers} against serial (warm cache)")
        parallel = run_suite(f"-n {args.workers}", cache, work / "parallel.xml", args.target, ["-n", args.workers])
        serial_outcomes, parallel_outcomes = outcomes(work / "warm.xml"), outcomes(work / "parallel.xml")
        differ = sorted(
            node for node in serial_outcomes.keys() | parallel_outcomes.keys()
            if serial_outcomes.get(node) != parallel_outcomes.get(node)
        )
        print(f"  serial {warm:.1f} s, -n {args.workers} {parallel:.1f} s (x{warm / parallel:.2f})")
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(serial_outcomes.values()).items()))
        print(f"  {len(serial_outcomes)} tests ({counts}); outcomes identical: {'yes' if not differ else 'no'}")
        for node in differ:
            print(f"    {node}: serial {serial_outcomes.get(node)}, parallel {parallel_outcomes.get(node)}")


if __name__ == "__main__":
    main()
