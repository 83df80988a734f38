"""How close the ``gpu`` target's static placement is to LiteRT's real GPU accelerator.

Run from the repository root (needs a GPU adapter; on a CPU-only Linux machine Mesa's
lavapipe from bookworm-backports, as ``.ci/run`` installs it):

    .venv/bin/python benchmarks/bench_gpu_devset.py
    .venv/bin/python benchmarks/bench_gpu_devset.py --only conv_pool,gru_unrolled --json
    .venv/bin/python benchmarks/bench_gpu_devset.py --option delegate=classic

For every member of the development set (``tests/gpu_devset.py``: each architecture in
float32, float16 and dynamic-range int8, some also with int4 weights) it checks the
model twice: with ``confirm=never`` (the static rules) and with ``confirm=always`` (the
placement LiteRT's GPU accelerator reports in its log). A member is exact when every
operator is on the same side in both; the totals also count operators placed right.
Members whose log could not be matched to operators are flagged as unresolved.

This is a script, not a test: the figures move as the rules change, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from gpu_devset import DevModel, convert, members  # noqa: E402

from pytest_tflite import get_target  # noqa: E402
from pytest_tflite.cli import parse_option  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Score:
    """One member: the accelerator's placement next to the static one."""

    name: str
    ops: int
    on_gpu_real: int
    on_gpu_static: int
    placed_right: int
    unresolved: bool
    wrong: list[str]
    failure: str | None

    @property
    def exact(self) -> bool:
        return self.placed_right == self.ops


def score(member: DevModel, options: dict[str, Any], converter: Any) -> Score:
    model = convert(member, converter)
    gpu = get_target("gpu")
    static = gpu.with_options(**{**options, "confirm": "never"}).check(model)
    real = gpu.with_options(**{**options, "confirm": "always"}).check(model)
    wrong = [
        f"{s.index}:{s.op} real={'gpu' if r.on_target else 'cpu'}"
        for s, r in zip(static.ops, real.ops)
        if s.on_target != r.on_target
    ]
    unresolved = any("keep the predicted placement" in note for note in real.notes)
    return Score(
        name=member.name,
        ops=len(real.ops),
        on_gpu_real=real.ops_on_target,
        on_gpu_static=static.ops_on_target,
        placed_right=len(real.ops) - len(wrong),
        unresolved=unresolved,
        wrong=wrong,
        failure=real.failure,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--option", action="append", default=[], type=parse_option, help="gpu option key=value")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args(argv)
    from pytest_tflite import Converter

    only = {n for n in args.only.split(",") if n}
    chosen = [m for m in members() if not only or m.case in only]
    options = dict(args.option)
    converter = Converter()
    start = time.perf_counter()
    scores = []
    for m in chosen:
        try:
            scores.append(score(m, options, converter))
        except Exception as exc:  # a member that does not build is reported, not fatal
            print(f"{m.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
    seconds = time.perf_counter() - start
    if args.json:
        print(json.dumps([dataclasses.asdict(s) for s in scores], indent=2))
        return 0
    rows = [
        [
            s.name,
            s.ops,
            s.on_gpu_real,
            s.on_gpu_static,
            "yes" if s.exact else "NO",
            "?" if s.unresolved else "",
            "; ".join(s.wrong)[:90],
        ]
        for s in scores
    ]
    print(tabulate(rows, headers=["member", "ops", "gpu real", "gpu static", "exact", "log?", "differences"]))
    exact = sum(s.exact for s in scores)
    ops = sum(s.ops for s in scores)
    right = sum(s.placed_right for s in scores)
    print()
    print(f"members exact: {exact}/{len(scores)} ({exact / max(len(scores), 1):.1%})")
    print(f"operators placed right: {right}/{ops} ({right / max(ops, 1):.1%})")
    print(
        f"unresolved logs: {sum(s.unresolved for s in scores)}; wrong results: "
        f"{sum(bool(s.failure) for s in scores)}; {seconds:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
