"""How close the ``edgetpu`` target's placement is to the real Edge TPU compiler's.

Run from the repository root:

    .venv/bin/python benchmarks/bench_edgetpu_pairs.py
    .venv/bin/python benchmarks/bench_edgetpu_pairs.py --option runtime_version=13 --json

For each of the 25 real compilations in ``tests/data/edgetpu_pairs`` it checks the model
(the real file where the project carries it, else the weightless copy built from its
digest) and compares the operators predicted off the Edge TPU with those the compiler left
on the CPU. The totals count the pairs whose mapped count, CPU operator multiset and CPU
operator indices are exact, and the operators placed on the right side.

This is a script, not a test: the figures move as the rules change, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from edgetpu_pairs import model_bytes, pairs, truth  # noqa: E402

from pytest_tflite import TargetError, TFLiteModel, get_target  # noqa: E402
from pytest_tflite.cli import parse_option  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Score:
    """One pair: the compiler's placement next to the prediction."""

    name: str
    compiler: str
    ops: int
    mapped_real: int
    mapped_predicted: int
    multiset_exact: bool
    indices_exact: bool
    placed_right: int
    cpu_real: dict[str, int]
    cpu_predicted: dict[str, int]

    @property
    def mapped_exact(self) -> bool:
        return self.mapped_real == self.mapped_predicted


def normalized(op: str) -> str:
    """``CUSTOM:X`` and ``X`` name the same custom operator in the truth and the report."""
    return op.split(":", 1)[1] if op.startswith("CUSTOM:") else op



def score(name: str, options: dict[str, Any]) -> Score:
    expected = truth(name)
    target = get_target("edgetpu")
    if options:
        target = target.with_options(**options)
    report = target.check(TFLiteModel(model_bytes(name), name=name))
    off = [op for op in report.ops if not op.on_target]
    cpu_predicted = Counter(normalized(op.op) for op in off)
    cpu_real = Counter({normalized(op): n for op, n in expected["cpu_ops"].items()})
    real_indices = set(expected["cpu_op_indices"])
    return Score(
        name=name,
        compiler=expected["compiler_version"] or "-",
        ops=expected["total_ops"],
        mapped_real=expected["mapped"],
        mapped_predicted=report.ops_on_target,
        multiset_exact=cpu_predicted == cpu_real,
        indices_exact=sorted(op.index for op in off) == sorted(real_indices),
        placed_right=sum((not op.on_target) == (op.index in real_indices) for op in report.ops),
        cpu_real=dict(sorted(cpu_real.items())),
        cpu_predicted=dict(sorted(cpu_predicted.items())),
    )


def totals(scores: list[Score]) -> dict[str, int]:
    return {
        "pairs": len(scores),
        "mapped_exact": sum(s.mapped_exact for s in scores),
        "multiset_exact": sum(s.multiset_exact for s in scores),
        "indices_exact": sum(s.indices_exact for s in scores),
        "placed_right": sum(s.placed_right for s in scores),
        "ops": sum(s.ops for s in scores),
    }


def yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def print_table(scores: list[Score], total: dict[str, int], seconds: float) -> None:
    rows = [
        [
            s.name,
            s.compiler,
            s.ops,
            s.mapped_real,
            s.mapped_predicted,
            yes(s.multiset_exact),
            yes(s.indices_exact),
            f"{s.placed_right}/{s.ops}",
        ]
        for s in scores
    ]
    headers = ["pair", "compiler", "ops", "mapped real", "predicted", "CPU multiset", "CPU indices", "placed right"]
    print(tabulate(rows, headers=headers, colalign=("left", "left")))
    n = total["pairs"]
    print(
        f"\nedgetpu pairs: exact mapped count {total['mapped_exact']}/{n}, "
        f"exact CPU operator multiset {total['multiset_exact']}/{n}, "
        f"exact CPU operator indices {total['indices_exact']}/{n}, "
        f"operators placed right {total['placed_right']}/{total['ops']} ({seconds:.1f} s)"
    )
    for s in scores:
        if not s.multiset_exact:
            print(f"  {s.name}: CPU operators predicted {s.cpu_predicted}, real {s.cpu_real}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an edgetpu target option (repeatable), e.g. runtime_version=13",
    )
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args()
    start = time.perf_counter()
    try:
        options = dict(parse_option(text) for text in args.option)
        scores = [score(name, options) for name in pairs()]
    except TargetError as exc:
        raise SystemExit(f"error: {exc}") from None
    seconds = time.perf_counter() - start
    total = totals(scores)
    if args.json:
        pairs_data = [{**dataclasses.asdict(s), "mapped_exact": s.mapped_exact} for s in scores]
        print(json.dumps({"options": options, "pairs": pairs_data, "totals": total}, indent=2))
    else:
        print_table(scores, total, seconds)


if __name__ == "__main__":
    main()
