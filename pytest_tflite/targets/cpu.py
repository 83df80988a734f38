"""The ``cpu`` target: the LiteRT interpreter itself is the source of truth.

Every operator must be a kernel the interpreter resolves: a builtin, or a custom
operator with a registration. Flex (Select TF) operators need TensorFlow's Flex
delegate, which LiteRT does not include. The model must allocate and run one inference
on zeros. The interpreter applies the XNNPACK delegate by default; the operators it
takes are read back from the delegated execution plan. A FULLY_CONNECTED with blockwise
int4 weights that XNNPACK does not take runs LiteRT's builtin kernel, which computes it
wrongly (no error, wrong numbers): it is placed nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ModelCrash, RuntimeFailure
from .compatibility import FLEX_PREFIX, NOWHERE, ON_TARGET, CompatibilityReport, OpPlacement
from .engine import blockwise_tensors
from .registry import Target

if TYPE_CHECKING:
    from ..model.flatbuffer import Operator, TFLiteModel


_UNRESOLVED = (
    re.compile(r"unresolved custom op:\s*([\w.\-/]+)", re.IGNORECASE),
    re.compile(r"Didn't find op for builtin opcode '(\w+)'"),
)


def analyze(model: TFLiteModel, options: Mapping[str, object]) -> CompatibilityReport:
    """Load and run the model once; place each operator on the interpreter or nowhere."""
    failure, message, taken = _load_and_run(model)
    unresolved = _unresolved_names(message)
    blockwise = _blockwise_readers(model)
    ops = [_placement(op, taken, unresolved, blockwise) for op in model.operators]
    flex = [op.op for op in ops if op.op.startswith(FLEX_PREFIX) and op.runs_on == NOWHERE]
    if failure and flex:
        failure = (
            f"the interpreter cannot load the model: {len(flex)} Flex (Select TF) operator(s) "
            f"({', '.join(dict.fromkeys(flex))}) need the Flex delegate"
        )
    details: dict[str, object] = {"runs": failure is None}
    notes = []
    if taken is not None:
        details["xnnpack_ops"] = len(taken)
        notes.append(f"the XNNPACK delegate takes {len(taken)} of {len(ops)} operators")
    if blockwise:
        notes.append(BLOCKWISE_NOTE)
    return CompatibilityReport(
        target="cpu",
        model=model.name,
        mode=model.mode,
        ops=tuple(ops),
        static=False,
        failure=failure,
        notes=tuple(notes),
        details=details,
        target_title="CPU",
    )


BLOCKWISE_NOTE = (
    "blockwise int4 weights: only XNNPACK computes FULLY_CONNECTED with them right; LiteRT's "
    "builtin (reference) kernel gives wrong outputs without an error (LiteRT 2.3)"
)


def _blockwise_readers(model: TFLiteModel) -> set[int]:
    """FULLY_CONNECTED operators whose weights are quantized in blocks."""
    blockwise = blockwise_tensors(model)
    return {op.index for op in model.operators if op.name == "FULLY_CONNECTED" and set(op.inputs[1:2]) & blockwise}


def _placement(op: Operator, taken: set[int] | None, unresolved: set[str], blockwise: set[int]) -> OpPlacement:
    if op.index in blockwise and (taken is None or op.index not in taken):
        return OpPlacement(
            op.index, op.name, op.version, NOWHERE,
            "blockwise int4 weights outside XNNPACK: LiteRT's builtin FULLY_CONNECTED kernel computes "
            "them wrongly (no error, wrong outputs)",
            fix="Run with the xnnpack kernels (the default), or quantize per channel (the dynamic_int4 mode)",
        )
    if op.is_custom and op.name.startswith(FLEX_PREFIX):
        return OpPlacement(
            op.index, op.name, op.version, NOWHERE,
            f"Flex (Select TF) operator {op.name[len(FLEX_PREFIX):]}: it needs TensorFlow's "
            "Flex delegate, which the LiteRT interpreter does not include",
            fix="Convert without SELECT_TF_OPS: replace the layer that needs a TensorFlow op "
            "with builtin ones",
        )
    if op.name in unresolved:
        kind = "custom operator" if op.is_custom else "operator version"
        return OpPlacement(
            op.index, op.name, op.version, NOWHERE,
            f"{kind} {op.name} (version {op.version}) has no registration in this LiteRT interpreter",
            fix="Register the custom kernel with an InterpreterWithCustomOps build, or convert "
            "with builtin operators only",
        )
    if op.is_custom:
        reason = f"custom operator {op.name}, registered in the LiteRT interpreter"
    elif taken is not None and op.index in taken:
        reason = "builtin kernel, delegated to XNNPACK"
    else:
        reason = "builtin kernel"
    return OpPlacement(op.index, op.name, op.version, ON_TARGET, reason)


def _load_and_run(model: TFLiteModel) -> tuple[str | None, str, set[int] | None]:
    """(failure in one line or None, the interpreter's whole message, the operators
    XNNPACK took or None when unknown)."""
    from ..model.runtime import Runner

    try:
        runner = Runner(model)
    except ModelCrash:
        raise
    except RuntimeFailure as exc:
        message = exc.detail or exc.problem
        return f"the interpreter cannot load the model: {_first_line(message)}", message, None
    interpreter = runner.interpreter
    taken = xnnpack_operators(interpreter, len(model.operators))
    try:
        _invoke_on_zeros(interpreter)
    except (ValueError, RuntimeError) as exc:
        return f"the interpreter cannot run the model: {_first_line(str(exc))}", str(exc), taken
    return None, "", taken


def _invoke_on_zeros(interpreter: Any) -> None:
    import numpy as np

    details = interpreter.get_input_details()
    shapes = [[max(1, int(d)) for d in detail["shape_signature"]] for detail in details]
    for detail, shape in zip(details, shapes):
        if list(detail["shape"]) != shape:
            interpreter.resize_tensor_input(detail["index"], shape, strict=False)
    interpreter.allocate_tensors()
    for detail, shape in zip(details, shapes):
        interpreter.set_tensor(detail["index"], np.zeros(shape, dtype=detail["dtype"]))
    interpreter.invoke()


def xnnpack_operators(interpreter: Any, op_count: int) -> set[int] | None:
    """Indices of the model's operators that XNNPACK replaced with its delegate nodes.

    A delegate node lists the tensors entering and leaving its partition; walking back
    from its outputs to its inputs finds the operators it swallowed.
    """
    try:
        nodes: Sequence[dict[str, Any]] = interpreter._get_ops_details()
    except (AttributeError, RuntimeError, ValueError):
        return None
    originals = nodes[:op_count]
    producer = {int(t): i for i, node in enumerate(originals) for t in node["outputs"]}
    taken: set[int] = set()
    for node in nodes[op_count:]:
        if node["op_name"] != "DELEGATE":
            continue
        boundary = {int(t) for t in node["inputs"]}
        stack = [int(t) for t in node["outputs"]]
        while stack:
            i = producer.get(stack.pop())
            if i is None or i in taken:
                continue
            taken.add(i)
            stack += [int(t) for t in originals[i]["inputs"] if t >= 0 and int(t) not in boundary]
    return taken


def _unresolved_names(failure: str) -> set[str]:
    return {m.rstrip(".") for pattern in _UNRESOLVED for m in pattern.findall(failure)}


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    wanted = [line for line in lines if "op" in line.lower() or "fail" in line.lower()]
    return (wanted or lines or ["unknown error"])[0]


CPU = Target(
    name="cpu",
    title="CPU",
    description="the LiteRT interpreter's builtin kernels (XNNPACK where it applies)",
    analyze=analyze,
)
