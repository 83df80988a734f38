"""What the README's first line costs, cold and warm, and whether pytest-xdist changes any outcome.

Run from the repository root:

    .venv/bin/python benchmarks/bench_suites.py                    # the README's first line
    .venv/bin/python benchmarks/bench_suites.py --target all       # every target

1. ``pytest suites -n auto --tflite-target edgetpu`` (the README's line, after the install)
   cold, in a new, empty conversion cache folder (every mode is converted and every
   training-time mode fine-tunes), then warm from that folder: their wall times, their
   ratio, and each run's peak memory, as the largest process and as the whole process
   tree (the pytest-xdist controller and workers, and every tool they start) summed.
2. The same suite serially against part 1's warm run, from the same cache, with
   ``--benchmark-disable`` (pytest-benchmark turns timing off under pytest-xdist, which
   would make the two sides incomparable): the wall time, and whether every test (by node
   id, from ``--junitxml``) ends the same way.

Nothing is asserted: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 0.5


def run_suite(label: str, cache: Path, report: Path, target: str, extra: list[str]) -> float:
    """Wall time of one ``pytest suites`` run; its exit code, summary and peak memory are printed."""
    command = [
        sys.executable, "-m", "pytest", "suites", "-q", "-p", "no:cacheprovider",
        "--tflite-target", target, "--tflite-cache-dir", str(cache), f"--junitxml={report}", *extra,
    ]
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        child = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.DEVNULL, text=True)
        peaks = TreePeak(child.pid)
        child.wait()
        peaks.stop()
        output.seek(0)
        lines = output.read().strip().splitlines()
    seconds = time.perf_counter() - started
    summary = lines[-1:] or ["(no output)"]
    print(
        f"  {label:<8} {seconds:7.1f} s  largest process {peaks.largest / 1024:.2f} GiB, "
        f"all processes {peaks.total / 1024:.2f} GiB  exit {child.returncode}  {summary[0]}"
    )
    return seconds


class TreePeak:
    """The peak resident memory (MiB) of a process and its descendants, sampled from /proc:
    the largest single process, and the sum over all of them at one moment."""

    def __init__(self, pid: int) -> None:
        self.pid, self.largest, self.total = pid, 0.0, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            sizes = [rss_mib(pid) for pid in descendants(self.pid)]
            self.largest = max([self.largest, *sizes])
            self.total = max(self.total, sum(sizes))


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc's parent links."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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
    parser.add_argument("--target", default="edgetpu", help="--tflite-target for every run (default: edgetpu)")
    parser.add_argument("--workers", default="auto", help="-n for parts 1 (default: auto, as the README)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-suites-") as folder:
        work = Path(folder)
        cache = work / "cache"
        print(f"pytest suites -n {args.workers} --tflite-target {args.target}")
        print("1. conversion cache")
        parallel = ["-n", args.workers]
        cold = run_suite("cold", cache, work / "cold.xml", args.target, parallel)
        warm = run_suite("warm", cache, work / "warm.xml", args.target, parallel)
        print(f"  cold {cold:.1f} s, warm {warm:.1f} s: the warm run takes 1/{cold / warm:.1f} of the cold one")
        print(f"2. serial against -n {args.workers} (warm cache)")
        serial = run_suite("serial", cache, work / "serial.xml", args.target, ["--benchmark-disable"])
        parallel_outcomes, serial_outcomes = outcomes(work / "warm.xml"), outcomes(work / "serial.xml")
        differ = sorted(
            node for node in serial_outcomes.keys() | parallel_outcomes.keys()
            if serial_outcomes.get(node) != parallel_outcomes.get(node)
        )
        print(f"  serial {serial:.1f} s, -n {args.workers} {warm:.1f} s (x{serial / warm:.2f})")
        counts = ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(serial_outcomes.values()).items()))
        print(f"  {len(serial_outcomes)} tests ({counts}); outcomes identical: {'yes' if not differ else 'no'}")
        for node in differ:
            print(f"    {node}: serial {serial_outcomes.get(node)}, parallel {parallel_outcomes.get(node)}")


if __name__ == "__main__":
    main()
