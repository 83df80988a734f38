"""The ``tflm`` target: the model in the real TFLite Micro interpreter.

Nothing is predicted. The model runs in TFLite Micro (:mod:`.micro`) on seeded inputs;
an operator without a TFLite Micro kernel, or whose kernel refuses it at prepare time,
runs nowhere; the smallest tensor arena it runs in is found by search; and the outputs
are compared with LiteRT's reference kernels on the same inputs, which TFLite Micro's
kernels follow (the largest difference is reported in LSB of the output's type).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..compatibility import NOWHERE, ON_TARGET, CompatibilityReport, OpPlacement
from ..engine import default_options, is_bool, is_positive_number, read_settings, setting
from ..registry import Target
from .micro import MicroRun, run_on_micro

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator, TFLiteModel

NAME = "tflm"
TITLE = "TFLite Micro"
SEED = 0
KERNEL = "TFLite Micro kernel"
FIX_KERNEL = (
    "Replace the layer with operators TFLite Micro implements, or register a kernel of your "
    "own in your TFLite Micro build"
)
FIX_REFUSED = (
    "TFLite Micro runs int8, int16x8 and float32 models; convert with full integer "
    "quantization (full_int8) rather than dynamic-range or float16"
)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclasses.dataclass(frozen=True)
class Settings:
    """The tflm target's options."""

    samples: int = setting(4, _is_count, "a positive whole number of inputs")
    search_arena: bool = setting(True, is_bool, "True or False")
    timeout: float = setting(120.0, is_positive_number, "a positive number of seconds")


def analyze(model: TFLiteModel, options: Mapping[str, object]) -> CompatibilityReport:
    """Run the model in TFLite Micro and compare it with LiteRT's reference kernels."""
    settings = read_settings(Settings, NAME, options)
    inputs = seeded_inputs(model, settings.samples)
    run = run_on_micro(model.content, inputs, timeout=settings.timeout, search_arena=settings.search_arena)
    ops = tuple(_placement(op, run) for op in model.operators)
    details: dict[str, Any] = {"tool": f"tflite-micro {run.version}", "micro_seconds": round(run.seconds, 3)}
    if run.arena_bytes is not None:
        details["arena_bytes"] = run.arena_bytes
    if run.reported_arena_bytes is not None:
        details["reported_arena_bytes"] = run.reported_arena_bytes
    notes = [f"ran in TFLite Micro {run.version}"]
    if run.ok and run.outputs is not None:
        comparison = compare_with_reference(model, inputs, run.outputs)
        details.update(comparison)
        notes.append(_comparison_note(comparison))
    if not run.ok and run.log:
        details["micro_log"] = run.log[-4000:]
    return CompatibilityReport(
        target=NAME,
        model=model.name,
        mode=model.mode,
        ops=ops,
        static=False,
        failure=None if run.ok else run.failure,
        notes=tuple(notes),
        details=details,
        target_title=TITLE,
    )


def _placement(op: Operator, run: MicroRun) -> OpPlacement:
    if op.name in run.unresolved:
        reason = f"TFLite Micro has no kernel for {op.name}"
        return OpPlacement(op.index, op.name, op.version, NOWHERE, reason, FIX_KERNEL)
    if op.index in run.refused:
        reason = f"the TFLite Micro kernel refuses it: {run.refused[op.index]}"
        return OpPlacement(op.index, op.name, op.version, NOWHERE, reason, FIX_REFUSED)
    return OpPlacement(op.index, op.name, op.version, ON_TARGET, KERNEL)


def seeded_inputs(model: TFLiteModel, samples: int) -> list[np.ndarray]:
    """``samples`` inputs per model input, in its own type, the same on every run: the
    whole integer range for quantized inputs, a standard normal for float ones."""
    rng = np.random.default_rng(SEED)
    arrays = []
    for tensor in model.inputs:
        shape = (samples, *(max(1, d) for d in tensor.shape))
        dtype = np.dtype(tensor.dtype)
        if dtype.kind == "f":
            arrays.append(rng.standard_normal(shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.random(shape) < 0.5)
        elif tensor.quantization is not None:
            info = np.iinfo(dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype))
        else:
            arrays.append(rng.integers(0, 2, size=shape, endpoint=True).astype(dtype))
    return arrays


def reference_outputs(
    model: TFLiteModel, inputs: Sequence[np.ndarray], *, kernels: str = "reference"
) -> list[np.ndarray]:
    """LiteRT's reference kernels (or other ``kernels``) on the same raw inputs, one
    sample at a time, each from a fresh state."""
    from ...model.runtime import Runner

    return _outputs_of(Runner(model, kernels=kernels).interpreter, inputs)


def _outputs_of(interpreter: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    details = interpreter.get_input_details()
    outputs: list[list[np.ndarray]] = [[] for _ in interpreter.get_output_details()]
    for sample in range(len(inputs[0]) if inputs else 1):
        interpreter.reset_all_variables()
        for detail, array in zip(details, inputs):
            interpreter.set_tensor(detail["index"], array[sample].reshape(detail["shape"]))
        interpreter.invoke()
        for found, detail in zip(outputs, interpreter.get_output_details()):
            found.append(np.array(interpreter.get_tensor(detail["index"])))
    return [np.stack(found) for found in outputs]


def compare_with_reference(
    model: TFLiteModel, inputs: Sequence[np.ndarray], micro: Sequence[np.ndarray]
) -> dict[str, Any]:
    """How far TFLite Micro's outputs are from the reference kernels': the largest
    difference (in LSB for integer outputs) and the share of samples whose top-1 class agrees."""
    return _agreement(reference_outputs(model, inputs), micro)


def _agreement(reference: Sequence[np.ndarray], micro: Sequence[np.ndarray]) -> dict[str, Any]:
    integer = all(r.dtype.kind in "iu" for r in reference)
    largest = 0.0
    agree = np.ones(len(reference[0]), dtype=bool)
    for ref, got in zip(reference, micro):
        got = np.asarray(got).reshape(ref.shape)
        if ref.size:
            largest = max(largest, float(np.max(np.abs(ref.astype(np.float64) - got.astype(np.float64)))))
        flat_ref, flat_got = ref.reshape(len(ref), -1), got.reshape(len(got), -1)
        agree &= np.argmax(flat_ref, axis=1) == np.argmax(flat_got, axis=1)
    key = "max_diff_lsb" if integer else "max_abs_diff"
    return {
        "compared_with": "LiteRT reference kernels",
        "compared_samples": len(reference[0]),
        key: int(largest) if integer else largest,
        "top1_agreement_seeded": float(np.mean(agree)),
    }


def compare_on_data(model: TFLiteModel, inputs: Sequence[np.ndarray]) -> dict[str, Any]:
    """TFLite Micro against LiteRT's reference kernels on float ``inputs`` (evaluation
    data, in the model's input order), quantized as the model's inputs are."""
    from ...model.runtime import Runner, quantize

    reference = Runner(model, kernels="reference").interpreter  # quantizes the inputs, then runs them
    raw = [quantize(np.asarray(x), d) for x, d in zip(inputs, reference.get_input_details())]
    run = run_on_micro(model.content, raw, search_arena=False)
    if not run.ok or run.outputs is None:
        return {"evaluation_comparison_failed": run.failure or "TFLite Micro gave no outputs"}
    found = _agreement(_outputs_of(reference, raw), run.outputs)
    return {
        "top1_agreement_eval": found["top1_agreement_seeded"],
        "eval_samples": found["compared_samples"],
        **{f"{k}_eval": v for k, v in found.items() if k.startswith("max_")},
    }


def _comparison_note(comparison: Mapping[str, Any]) -> str:
    samples = comparison["compared_samples"]
    if "max_diff_lsb" in comparison:
        within = f"within {comparison['max_diff_lsb']} LSB"
    else:
        within = f"within {comparison['max_abs_diff']:.3g}"
    return f"on {samples} seeded inputs its outputs are {within} of LiteRT's reference kernels"


TFLM = Target(
    name=NAME,
    title=TITLE,
    description="the TFLite Micro interpreter of microcontrollers, run on this machine",
    analyze=analyze,
    options=default_options(Settings),
    hybrid=False,
    compare_on=compare_on_data,
)
