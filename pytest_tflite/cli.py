"""``python -m pytest_tflite``: look at a model outside pytest.

Exit status: 0 on success (for ``check``: the model is compatible), 1 when ``check``
finds operators off the target, 2 for input that cannot be read or a bad target (with
the reason on stderr). When the reader of the output goes away early (``| head``), the
command stops quietly with status 1, as Python itself does on a broken pipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from .errors import TargetError, TFLiteError
from .model.flatbuffer import Tensor, TFLiteModel

EXIT_OFF_TARGET = 1
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 1
"""What Python exits with on EPIPE."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_tflite", description="Inspect TensorFlow Lite models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = commands.add_parser(
        "inspect",
        help="size, gzipped size, operators, input/output types and quantization",
        description="Print what a .tflite model holds.",
    )
    inspect.add_argument("model", metavar="MODEL.tflite", help="the model file to read")
    inspect.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    check = commands.add_parser(
        "check",
        help="where each operator runs on a target (cpu, gpu, edgetpu, ...)",
        description="Report, operator by operator, what runs on the target, what falls back "
        "to the CPU and what cannot run, and why. Exit status 0 when compatible, 1 when "
        "partial or incompatible, 2 for bad input.",
    )
    check.add_argument("model", metavar="MODEL.tflite", help="the model file to check")
    check.add_argument("--target", default="cpu", help="target name (default: cpu)")
    check.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a target option, e.g. --option runtime_version=13 for the Edge TPU",
    )
    check.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _run(argv)
        sys.stdout.flush()  # a closed pipe shows up here, inside the try, not at exit
    except BrokenPipeError:
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    return status


def _discard_stdout() -> None:
    """Point stdout at devnull, so Python's own flush at exit does not fail again
    (the recipe in the ``signal`` module's documentation, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured)
        pass


def _run(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = TFLiteModel.from_file(args.model)
        if args.command == "check":
            return _check(model, args)
    except TFLiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(model.summary(), indent=2, sort_keys=True))
    else:
        print(render_inspect(model))
    return 0


def _check(model: TFLiteModel, args: argparse.Namespace) -> int:
    from .targets import get_target

    target = get_target(args.target)
    if args.option:
        target = target.with_options(**dict(parse_option(text) for text in args.option))
    report = target.check(model)
    print(report.to_json() if args.json else report.render())
    return 0 if report.compatible else EXIT_OFF_TARGET


def parse_option(text: str) -> tuple[str, Any]:
    """``key=value``; the value is read as JSON when it parses (numbers, true/false)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise TargetError(
            f"--option takes KEY=VALUE, not {text!r}",
            hint="Write for example --option runtime_version=13",
        )
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def render_inspect(model: TFLiteModel) -> str:
    from tabulate import tabulate

    lines = [
        f"model: {model.name}",
        f"size: {model.size_bytes:,} bytes ({model.size_bytes / 1024:.1f} KiB), "
        f"gzipped {model.gzip_size_bytes:,} bytes ({model.gzip_size_bytes / 1024:.1f} KiB)",
        f"subgraphs: {model.subgraph_count}, operators in the main subgraph: {len(model.operators)}",
        "",
        tabulate(list(model.op_histogram.items()), headers=["operator", "count"]),
        "",
        tabulate(
            [_tensor_row("input", t) for t in model.inputs] + [_tensor_row("output", t) for t in model.outputs],
            headers=["", "name", "dtype", "shape", "quantization"],
        ),
    ]
    return "\n".join(lines)


def _tensor_row(role: str, tensor: Tensor) -> list[str]:
    shape = "(" + ", ".join("?" if d < 0 else str(d) for d in tensor.shape_signature) + ")"
    q = tensor.quantization
    if q is None:
        quant = "-"
    elif q.per_channel:
        quant = f"per-channel ({len(q.scales)} scales, axis {q.axis})"
    else:
        quant = f"scale={q.scales[0]:.6g} zero_point={q.zero_points[0]}"
    return [role, tensor.name, tensor.dtype, shape, quant]
