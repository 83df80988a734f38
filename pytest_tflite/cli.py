"""``python -m pytest_tflite``: look at a model outside pytest.

Exit status: 0 on success, 2 for input that cannot be read (with the reason on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .errors import TFLiteError
from .model import Tensor, TFLiteModel

EXIT_BAD_INPUT = 2


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = TFLiteModel.from_file(args.model)
    except TFLiteError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(model.summary(), indent=2, sort_keys=True))
    else:
        print(render_inspect(model))
    return 0


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
