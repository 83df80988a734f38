"""The ``gpu`` target: which operators the TensorFlow Lite mobile GPU delegate takes, and why not.

TensorFlow's own offline checker (``tf.lite.experimental.Analyzer(gpu_compatibility=True)``)
is a stub in TensorFlow 2.21 (it calls TOPK_V2 compatible), so the placement follows the
delegate's source instead (tensorflow/tensorflow):

* ``tensorflow/lite/delegates/gpu/common/model_builder.cc``, ``GetOpsToReplace``: an
  operator goes to the GPU when its parser's ``IsSupported`` passes (the operator table and
  checks live in :mod:`pytest_tflite.targets.gpu_ops`) and ``IsAllAllowedTensors`` accepts
  its tensors; then it keeps the nodes of the ``max_delegated_partitions`` largest
  partitions.
* ``tensorflow/lite/delegates/utils.cc``, ``GraphPartitionHelper::GetFirstNLargestPartitions``
  (largest first) and ``FP16GraphPartitionHelper``: DEQUANTIZE nodes of constant float16
  weights are left out while partitioning, and their readers are checked as if they read
  the float16 constants. ``GetNodesOfFirstNLargestPartitionsImpl`` then has two cases: when
  every other node is supported, the delegate takes the whole execution plan, DEQUANTIZE
  nodes included ("Full Delegation"), however the preview split it; otherwise it takes the
  largest partitions and leaves every float16 DEQUANTIZE on the CPU ("Partial Delegation").
* ``DensifyOperationParser`` in model_builder.cc and the ``MergeDensify`` transformation:
  DENSIFY of a constant sparse tensor is supported (version 1, no runtime input); it has no
  GPU kernel, its dense result is merged into the weights of the convolution that reads it.
* ``tensorflow/lite/delegates/gpu/delegate_options.cc``, ``TfLiteGpuDelegateOptionsV2Default``:
  ``max_delegated_partitions`` = 1 and ``TFLITE_GPU_EXPERIMENTAL_FLAGS_ENABLE_QUANT``, so
  quantized (int8) models are allowed by default. Precision: Android's
  ``GpuDelegateFactory.Options`` allows precision loss (float16) by default; the C API
  default asks for maximum precision (float32). Precision does not change placement.

Where a GPU adapter exists, LiteRT's ``CompiledModel`` can confirm the verdict at run time
(option ``confirm``). LiteRT's GPU accelerator is a different engine from the TFLite GPU
delegate, so a disagreement is reported, not hidden.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import TargetError
from .gpu_ops import (
    LISTED_WITHOUT_KERNEL,
    MEDIAPIPE_CUSTOM_OPS,
    OPS,
    QUANTIZED,
    OpSig,
    Spec,
    tensor_rules,
)
from .partition import Region, partition
from .registry import Target
from .compatibility import ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement

if TYPE_CHECKING:
    from ..model.flatbuffer import Operator, Tensor, TFLiteModel

PRECISIONS = ("float16", "float32")
CONFIRM_MODES = ("auto", "never", "always")
DEFAULT_OPTIONS: Mapping[str, Any] = {
    "precision": "float16",
    "max_delegated_partitions": 1,
    "quantized_models": True,
    "confirm": "auto",
    "confirm_timeout": 60.0,
}

_TITLE = "mobile GPU"
_SOURCES = "the TFLite GPU delegate's rules (model_builder.cc, gpu_compatibility.cc)"


@dataclasses.dataclass(frozen=True)
class Settings:
    """The target's options, checked once per analysis."""

    precision: str
    max_partitions: int
    quantized: bool
    confirm: str
    confirm_timeout: float


@dataclasses.dataclass(frozen=True)
class Finding:
    """Why one operator cannot go to the GPU, and what would change that."""

    reason: str
    fix: str = ""


@dataclasses.dataclass(frozen=True)
class Probe:
    """What LiteRT said when asked to compile the model for the GPU."""

    ok: bool
    fully_accelerated: bool | None = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0


def analyze(model: TFLiteModel, options: Mapping[str, Any]) -> CompatibilityReport:
    """Place every operator of the main subgraph on the GPU or the CPU, as the delegate would."""
    settings = _settings(options)
    operators = model.operators
    graph = _Graph(model)
    fp16_dequant = _fp16_dequantize_ops(model)
    findings = [_judge(graph.signature(op, fp16_dequant), settings) for op in operators]
    dequant_ops = frozenset(i for i, _ in fp16_dequant.values())
    flags = [f is None and op.index not in dequant_ops for op, f in zip(operators, findings)]
    regions = partition(model, flags)
    plan = _delegation(flags, dequant_ops, regions, settings.max_partitions)
    weights = _weight_ops(model, graph, dequant_ops)
    placements = [_place(op, findings[op.index], plan, weights, settings) for op in operators]
    kept = plan.kept
    supported = [r for r in regions if r.supported]
    details: dict[str, Any] = {
        "precision": settings.precision,
        "max_delegated_partitions": settings.max_partitions,
        "quantized_models": settings.quantized,
        "partitions": len(supported),
        "partition_sizes": [len(r) for r in supported],
        "delegated_partitions": len(kept),
        "delegated_partition_sizes": [len(r) for r in kept],
        "confirm": settings.confirm,
    }
    notes = _model_notes(model, settings, supported, plan)
    report_static = True
    if operators:
        probe_notes, report_static = _confirmation(model, settings, placements, details)
        notes = [*probe_notes, *notes]
    return CompatibilityReport(
        target="gpu",
        model=model.name,
        mode=model.mode,
        ops=placements,
        static=report_static,
        notes=notes,
        details=details,
        target_title=_TITLE,
    )


# --- options --------------------------------------------------------------------------


def _settings(options: Mapping[str, Any]) -> Settings:
    merged = {**DEFAULT_OPTIONS, **options}
    precision = merged["precision"]
    if precision not in PRECISIONS:
        raise TargetError(
            f"gpu target: precision must be one of {', '.join(PRECISIONS)}, not {precision!r}",
            hint="float16 is what Android's GPU delegate uses by default",
        )
    confirm = merged["confirm"]
    if confirm not in CONFIRM_MODES:
        raise TargetError(
            f"gpu target: confirm must be one of {', '.join(CONFIRM_MODES)}, not {confirm!r}",
            hint="'auto' confirms on hardware when a GPU is found, 'never' only predicts",
        )
    partitions = merged["max_delegated_partitions"]
    if isinstance(partitions, bool) or not isinstance(partitions, int):
        raise TargetError(
            f"gpu target: max_delegated_partitions must be an integer, not {partitions!r}",
            hint="The GPU delegate's default is 1",
        )
    timeout = merged["confirm_timeout"]
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise TargetError(
            f"gpu target: confirm_timeout must be a positive number of seconds, not {timeout!r}",
        )
    return Settings(
        precision=precision,
        max_partitions=max(partitions, 1),  # delegate.cc turns <= 0 into 1
        quantized=bool(merged["quantized_models"]),
        confirm=confirm,
        confirm_timeout=float(timeout),
    )


# --- the graph as the delegate sees it -------------------------------------------------


class _Graph:
    """Who produces and who reads each tensor of the main subgraph."""

    def __init__(self, model: TFLiteModel) -> None:
        self.tensors = model.tensors
        self._producers: dict[int, list[Operator]] = defaultdict(list)
        self._consumers: dict[int, list[Operator]] = defaultdict(list)
        for op in model.operators:
            for t in op.outputs:
                self._producers[t].append(op)
            for t in op.inputs:
                if t >= 0:
                    self._consumers[t].append(op)

    def producers(self, tensor: int) -> Sequence[Operator]:
        return self._producers.get(tensor, [])

    def consumers(self, tensor: int) -> Sequence[Operator]:
        return self._consumers.get(tensor, [])

    def spec(self, index: int) -> Spec:
        t = self.tensors[index]
        return Spec(index=index, dtype=t.dtype, dims=t.shape, is_const=t.is_constant)

    def signature(self, op: Operator, fp16_dequant: Mapping[int, tuple[int, int]]) -> OpSig:
        """The operator's signature; inputs fed by float16-weight DEQUANTIZE nodes are read
        as the float16 constants themselves, as ``FP16GraphPartitionHelper`` remaps them."""
        remap = {out: src for out, (_, src) in fp16_dequant.items()}
        inputs = tuple(None if t < 0 else self.spec(remap.get(t, t)) for t in op.inputs)
        return OpSig(
            op=op,
            inputs=inputs,
            outputs=tuple(self.spec(t) for t in op.outputs),
            consumers=self.consumers,
            producers=self.producers,
        )


def _fp16_dequantize_ops(model: TFLiteModel) -> dict[int, tuple[int, int]]:
    """Output tensor -> (operator index, float16 constant) of every float16-weight DEQUANTIZE."""
    found: dict[int, tuple[int, int]] = {}
    for op in model.operators:
        if op.name != "DEQUANTIZE" or not op.inputs or op.inputs[0] < 0:
            continue
        src = model.tensors[op.inputs[0]]
        if src.dtype == "float16" and src.is_constant:
            found[op.outputs[0]] = (op.index, src.index)
    return found


# --- one operator ---------------------------------------------------------------------


def _judge(sig: OpSig, settings: Settings) -> Finding | None:
    """None when the delegate would take the operator, else why not (in the source's order)."""
    rule = OPS.get(sig.name)
    if rule is None:
        return _no_kernel(sig)
    if rule.quantized_only and not settings.quantized:
        return Finding(
            f"{sig.name} runs on the GPU only when quantized models are allowed",
            "Set quantized_models=True (the GPU delegate's default)",
        )
    if rule.max_version is not None and sig.op.version > rule.max_version:
        return _too_new(sig, rule.max_version)
    for check in rule.checks:
        reason = check(sig)
        if reason:
            return Finding(reason, _CHECK_FIXES.get(sig.name, _GENERIC_CHECK_FIX))
    reason = tensor_rules(sig, settings.quantized)
    if reason:
        return Finding(reason, _tensor_fix(sig, reason))
    return None


def _no_kernel(sig: OpSig) -> Finding:
    fix = _UNSUPPORTED_FIXES.get(sig.name, _GENERIC_UNSUPPORTED_FIX.format(op=sig.name))
    if sig.op.is_custom and sig.name in MEDIAPIPE_CUSTOM_OPS:
        return Finding(
            f"custom operator {sig.name} has no kernel in the stock GPU delegate (MediaPipe's "
            "own GPU inference links one; the stock delegate's custom-operator parser "
            "rejects it)",
            _MEDIAPIPE_FIX,
        )
    if sig.op.is_custom:
        return Finding(f"custom operator {sig.name} has no GPU delegate kernel", fix)
    if sig.name in LISTED_WITHOUT_KERNEL:
        return Finding(
            f"{sig.name} is not supported by the GPU delegate (its compatibility list names "
            "it, but the delegate has no kernel for it)",
            fix,
        )
    return Finding(f"{sig.name} is not supported by the GPU delegate", fix)


def _too_new(sig: OpSig, max_version: int) -> Finding:
    x, w = sig.input(0), sig.input(1)
    hybrid = (
        x is not None
        and w is not None
        and x.dtype == "float32"
        and w.dtype in QUANTIZED
        and w.is_const
    )
    if hybrid:
        return Finding(
            f"dynamic-range (hybrid) {sig.name} (version {sig.op.version}): int8 weights with "
            f"float input in this form are not supported on the GPU, which takes "
            f"{sig.name} up to version {max_version}",
            "Convert with float16 or full_int8 instead of dynamic-range (dynamic_int8) "
            "quantization",
        )
    if any(s.dtype == "int16" for s in sig.present_inputs):
        return Finding(
            f"{sig.name} version {sig.op.version} (int16 activations): the GPU delegate takes "
            f"{sig.name} up to version {max_version} and no int16 arithmetic",
            _INT16_FIX,
        )
    return Finding(
        f"{sig.name} version {sig.op.version} is newer than the GPU delegate handles "
        f"(up to version {max_version})",
        f"Use the plain form of the layer that produces {sig.name} (no extra options), "
        "or float16 / full_int8 conversion",
    )


def _tensor_fix(sig: OpSig, reason: str) -> str:
    if "dimensions" in reason:
        return "Keep tensors at 4 dimensions or fewer: fold extra axes into batch or channels"
    if "int16" in reason:
        return _INT16_FIX
    if "quantized models are switched off" in reason:
        return "Set quantized_models=True, or convert with float16"
    return (
        "Keep integer or boolean computations (shapes, indices, argmax) out of the model, "
        "or at its start or end, so they do not split the GPU partition"
    )


_INT16_FIX = "int16x8 models cannot use the GPU delegate; convert with float16 or full_int8"
_GENERIC_CHECK_FIX = "Change the layer's options or operand shapes as the reason says"
_MEDIAPIPE_FIX = (
    "Run the model with MediaPipe's GPU inference, which has kernels for MediaPipe's custom "
    "operators; with the stock TFLite GPU delegate they run on the CPU and split the GPU "
    "partition"
)
_GENERIC_UNSUPPORTED_FIX = (
    "Replace the layer that produces {op} with operators the GPU delegate has, or move it "
    "to the start or end of the model so the rest forms one GPU partition"
)
_UNSUPPORTED_FIXES = {
    "TOPK_V2": "Take the top-k outside the model (after its output), so the rest stays on the GPU",
    "ARG_MAX": "Take the argmax outside the model (after its output)",
    "ARG_MIN": "Take the argmin outside the model (after its output)",
    "SHAPE": "Use static shapes (a fixed batch size) so the model needs no SHAPE operator",
    "GATHER": "Replace tf.gather with a constant selection (slice or matmul with one-hot weights)",
    **{name: (
        "Dilated Conv2D layers convert to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND around the "
        "convolution when the batch size is unknown; give the Input a fixed batch_size so "
        "the converter folds the dilation into CONV_2D, or use dilation_rate=1"
    ) for name in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")},
}
_CHECK_FIXES = {
    "ADD": "Reshape both operands to the same rank (4-D [1, h, w, c] with batch 1) before the add",
    "MUL": (
        "Reshape both operands to the same rank, with one operand at least as large as the "
        "other in every dimension"
    ),
    "STRIDED_SLICE": (
        "Slice with ranges (x[:, 0:1]) followed by a Reshape instead of integer indexing "
        "(x[:, 0]) or new axes, on 3-D or 4-D tensors"
    ),
    "SLICE": "Reshape to 3-D or 4-D before slicing",
    "DEPTHWISE_CONV_2D": "Use depth_multiplier=1 (or a single input channel)",
    "SOFTMAX": "Use a plain softmax (beta 1); scale the logits with a separate multiply",
    "MIRROR_PAD": "Use REFLECT mirror padding, on 3-D or 4-D tensors",
    "PAD": "Pad 3-D or 4-D tensors only",
    "CUMSUM": "Run the cumulative sum on float data with a constant axis",
    "FULLY_CONNECTED": "Feed the Dense layer a runtime tensor and keep its default weight layout",
    "MEAN": "Reduce over constant axes",
    "CAST": "Cast only between float32 and int32, or a comparison's result to float",
    **{name: "Follow the comparison directly with a cast to float" for name in (
        "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL",
    )},
}


# --- partitions -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Delegation:
    """The nodes ``GetNodesOfFirstNLargestPartitions`` hands the delegate."""

    kept: tuple[Region, ...]
    """The delegated partitions, largest first."""
    nodes: frozenset[int]
    whole_model: bool
    """Every node but the float16 DEQUANTIZE ones is supported, so the delegate took all."""
    fp16_dequant: frozenset[int]


def _delegation(
    flags: Sequence[bool], fp16_dequant: frozenset[int], regions: Sequence[Region], n: int
) -> _Delegation:
    """``FP16GraphPartitionHelper::GetNodesOfFirstNLargestPartitionsImpl``.

    "Full Delegation" when ``num_supported_nodes() + constant_dequant_nodes_.size() ==
    num_total_nodes()``: the whole execution plan, so the float16 DEQUANTIZE nodes cannot
    cut the graph into partitions. Otherwise the ``n`` largest partitions, without any
    float16 DEQUANTIZE.
    """
    total = len(flags)
    if total and sum(flags) + len(fp16_dequant) == total:
        everything = tuple(range(total))
        return _Delegation((Region(True, everything),), frozenset(everything), True, fp16_dequant)
    kept = tuple(_largest(regions, n))
    nodes = frozenset(i for region in kept for i in region.ops)
    return _Delegation(kept, nodes, False, fp16_dequant)


def _largest(regions: Sequence[Region], n: int) -> list[Region]:
    """``GetFirstNLargestPartitions``: the n largest supported partitions, largest first.

    The delegate sorts with ``std::sort``, which does not fix the order of equal sizes;
    here the earlier partition wins a tie.
    """
    supported = [r for r in regions if r.supported and len(r)]
    return sorted(supported, key=len, reverse=True)[:n]


def _weight_ops(model: TFLiteModel, graph: _Graph, fp16_dequant: frozenset[int]) -> dict[int, str]:
    """Operators that only prepare constant weights, with what the delegate does with them.

    float16 DEQUANTIZE nodes are skipped by ``BuildModel`` (their readers take the float16
    constant); DENSIFY of a constant sparse tensor, and a DEQUANTIZE of its result, become
    a constant that ``MergeDensify`` folds into a CONV_2D / DEPTHWISE_CONV_2D.
    """
    reasons = {i: _FP16_ON_GPU for i in fp16_dequant}
    for op in model.operators:
        if op.name != "DENSIFY" or not op.inputs or op.inputs[0] < 0:
            continue
        if not model.tensors[op.inputs[0]].is_constant:
            continue
        chain = [op]
        readers = list(graph.consumers(op.outputs[0]))
        if len(readers) == 1 and readers[0].name == "DEQUANTIZE":
            chain.append(readers[0])
            readers = list(graph.consumers(readers[0].outputs[0]))
        merged = bool(readers) and all(r.name in _DENSIFY_MERGED_INTO for r in readers)
        for member in chain:
            reasons[member.index] = _densify_reason(member.name, merged)
    return reasons


_DENSIFY_MERGED_INTO = ("CONV_2D", "DEPTHWISE_CONV_2D")
_FP16_ON_GPU = (
    "float16 weights: the delegate takes the whole model, this DEQUANTIZE included, and "
    "reads the float16 constant itself when it builds the GPU graph"
)
_FP16_ON_CPU = (
    "float16 weights: the model is only partly delegated, so the delegate leaves every "
    "float16 DEQUANTIZE on the CPU (the delegated operators read the float16 constant "
    "directly)"
)


def _densify_reason(op_name: str, merged: bool) -> str:
    if op_name == "DENSIFY":
        what = "sparse constant weights: no GPU kernel runs; the delegate densifies them once"
    else:
        what = "float16 weights from DENSIFY: no GPU kernel runs; the delegate converts them once"
    if merged:
        return f"{what}, when it builds the GPU graph, into the convolution's weights"
    return (
        f"{what}, when it builds the GPU graph; it merges such weights only into CONV_2D "
        "and DEPTHWISE_CONV_2D (MergeDensify), and this one feeds another operator"
    )


def _place(
    op: Operator,
    finding: Finding | None,
    plan: _Delegation,
    weights: Mapping[int, str],
    settings: Settings,
) -> OpPlacement:
    def placement(runs_on: str, reason: str, fix: str = "") -> OpPlacement:
        return OpPlacement(op.index, op.name, op.version, runs_on, reason, fix)

    if op.index in plan.fp16_dequant and op.index not in plan.nodes:
        return placement(ON_CPU, _FP16_ON_CPU, _PARTITION_FIX)
    if finding is not None:
        return placement(ON_CPU, finding.reason, finding.fix)
    if op.index in plan.nodes:
        return placement(ON_TARGET, weights.get(op.index, "runs on the GPU"))
    largest = len(plan.kept[0]) if plan.kept else 0
    return placement(
        ON_CPU,
        f"supported, but outside the GPU partition: the delegate takes only the "
        f"{_plural(settings.max_partitions, 'largest partition')} "
        f"(max_delegated_partitions={settings.max_partitions}, largest has "
        f"{_plural(largest, 'operator')})",
        _PARTITION_FIX,
    )


_PARTITION_FIX = (
    "Move the CPU-only operators to the start or end of the model so the GPU operators form "
    "one partition, or raise max_delegated_partitions"
)


def _plural(n: int, noun: str) -> str:
    """'1 operator', '3 operators'; the nouns used here all take an -s."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --- notes ----------------------------------------------------------------------------


def _model_notes(
    model: TFLiteModel, settings: Settings, supported: Sequence[Region], plan: _Delegation
) -> list[str]:
    notes = []
    if settings.precision == "float16":
        notes.append(
            "the GPU computes in float16 (precision loss allowed, Android's default): expect "
            "float16 rounding, about 3 significant digits, and overflow above 65504"
        )
    else:
        notes.append("the GPU computes in float32 (maximum precision, the C API's default)")
    if settings.quantized and _has_quantized_activations(model):
        notes.append(
            "quantized model: the GPU delegate (quantized models allowed by default) "
            "dequantizes the int8 tensors and computes in floating point"
        )
    notes.extend(_partition_notes(supported, plan))
    if _unknown_inner_dims(model.inputs):
        notes.append(
            "an input has unknown dimensions besides the batch: the delegate is planned for "
            "the shape the interpreter allocates, and resizing inputs plans it again"
        )
    if model.subgraph_count > 1:
        notes.append(
            f"the model has {model.subgraph_count} subgraphs; only the main subgraph is placed here"
        )
    return notes


def _partition_notes(supported: Sequence[Region], plan: _Delegation) -> list[str]:
    sizes = ", ".join(str(len(r)) for r in supported)
    if plan.whole_model:
        if len(supported) < 2:
            return []
        return [
            f"the partitioner sees {len(supported)} GPU-capable partitions (sizes {sizes}) "
            "between the float16 DEQUANTIZE nodes, but every other operator is supported, so "
            "the delegate takes the whole model as one partition"
        ]
    dropped = len(supported) - len(plan.kept)
    if dropped <= 0:
        return []
    return [
        f"{_plural(len(supported), 'GPU-capable partition')} (sizes {sizes}); the delegate "
        f"takes the largest {len(plan.kept)}, the other {dropped} run on the CPU"
    ]


def _has_quantized_activations(model: TFLiteModel) -> bool:
    return any(t.dtype in QUANTIZED and not t.is_constant for t in model.tensors)


def _unknown_inner_dims(tensors: Sequence[Tensor]) -> bool:
    return any(d < 0 for t in tensors for d in t.shape_signature[1:])


# --- run-time confirmation ------------------------------------------------------------


def _confirmation(
    model: TFLiteModel,
    settings: Settings,
    placements: Sequence[OpPlacement],
    details: dict[str, Any],
) -> tuple[list[str], bool]:
    """Notes about confirmation, and whether the report stays a prediction (static)."""
    predicted_full = all(p.on_target for p in placements)
    if settings.confirm == "never":
        details["confirmed"] = False
        return [f"predicted from {_SOURCES}; run-time confirmation is off (confirm='never')"], True
    api = gpu_api_available()
    if api is None and settings.confirm == "auto":
        details["confirmed"] = False
        return [
            f"predicted from {_SOURCES}, because no GPU adapter was found "
            f"({_missing_api_text()})"
        ], True
    probe = confirm_on_gpu(model.content, timeout=settings.confirm_timeout)
    details["confirm_seconds"] = round(probe.seconds, 3)
    if not probe.ok:
        if settings.confirm == "always":
            raise TargetError(
                "no GPU is available to confirm the placement on the mobile GPU target "
                f"({probe.error})",
                source=model.name,
                mode=model.mode,
                hint="Run on a machine with a GPU driver (Vulkan, Metal or Direct3D 12), "
                "or use confirm='auto' to fall back to the predicted placement",
                detail=_log_problems(probe.detail),
            )
        details["confirmed"] = False
        return [
            f"predicted from {_SOURCES}, because no GPU adapter was usable: {probe.error}"
        ], True
    details["confirmed"] = True
    details["gpu_fully_accelerated"] = probe.fully_accelerated
    notes = [
        "confirmed with LiteRT on this machine's GPU: CompiledModel.is_fully_accelerated() "
        f"returned {probe.fully_accelerated}"
    ]
    if probe.fully_accelerated != predicted_full:
        predicted = "every operator on the GPU" if predicted_full else "some operators on the CPU"
        notes.append(
            f"LiteRT disagrees with the prediction ({predicted}): its GPU accelerator is not "
            "the TFLite GPU delegate and has its own operator coverage; the per-operator "
            "placement above is the delegate's"
        )
    return notes, False


def gpu_api_available() -> str | None:
    """The graphics API LiteRT's WebGPU accelerator would use here, if its library loads.

    Cheap (a dlopen on Linux, nothing elsewhere): without a Vulkan loader Dawn finds no
    adapter, so there is no point starting LiteRT.
    """
    if sys.platform == "darwin":
        return "Metal"
    if sys.platform == "win32":
        return "Direct3D 12"
    try:
        ctypes.CDLL("libvulkan.so.1")
    except OSError:
        return None
    return "Vulkan"


def _missing_api_text() -> str:
    if sys.platform.startswith("linux"):
        return "no Vulkan loader, libvulkan.so.1, on this machine"
    return "no supported graphics API on this platform"


_PROBE = """
import json, sys
from ai_edge_litert.compiled_model import CompiledModel
from ai_edge_litert.hardware_accelerator import HardwareAccelerator
data = sys.stdin.buffer.read()
try:
    model = CompiledModel.from_buffer(
        data, hardware_accel=HardwareAccelerator.GPU | HardwareAccelerator.CPU)
    result = {"ok": True, "fully": bool(model.is_fully_accelerated())}
except Exception as exc:
    result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
print("\\n" + json.dumps(result))
"""


def confirm_on_gpu(content: bytes, *, timeout: float = 60.0) -> Probe:
    """Compile the model for LiteRT's GPU accelerator in a child process.

    A child process because LiteRT's native logging floods stderr, and because a broken
    GPU driver may crash or hang: the child is killed after ``timeout`` seconds.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            input=content,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Probe(
            ok=False,
            error=f"LiteRT did not finish compiling for the GPU within {timeout:g} s",
            detail=_text(exc.stderr),
            seconds=time.perf_counter() - start,
        )
    except OSError as exc:
        return Probe(
            ok=False, error=f"could not start LiteRT: {exc}", seconds=time.perf_counter() - start
        )
    seconds = time.perf_counter() - start
    stderr = _text(done.stderr)
    result = _last_json(_text(done.stdout))
    if result is None:
        return Probe(
            ok=False,
            error=f"LiteRT exited with status {done.returncode} before answering",
            detail=stderr,
            seconds=seconds,
        )
    if result.get("ok"):
        fully = bool(result.get("fully"))
        return Probe(ok=True, fully_accelerated=fully, detail=stderr, seconds=seconds)
    error = _adapter_error(stderr, result.get("error", ""))
    return Probe(ok=False, error=error, detail=stderr, seconds=seconds)


def _last_json(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _adapter_error(stderr: str, error: str) -> str:
    """The line of LiteRT's log that says why, rather than its bare source location."""
    lines = stderr.splitlines()
    for word in ("adapter", "vulkan"):
        for line in lines:
            if word in line.lower():
                return line.strip().split("] ", 1)[-1]
    return error.splitlines()[0] if error else "LiteRT could not create a GPU model"


def _log_problems(stderr: str) -> str:
    """LiteRT's log without its INFO chatter: the warnings and errors worth showing."""
    return "\n".join(
        line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO:")
    )


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


GPU = Target(
    name="gpu",
    title=_TITLE,
    description=(
        "TensorFlow Lite mobile GPU delegate (OpenCL / OpenGL ES on Android, Metal on iOS): "
        "float16 by default, int8 models dequantized; unsupported operators fall back to "
        "the CPU and only the largest GPU partition is delegated"
    ),
    analyze=analyze,
    accepts=("float32", "int8"),
    options=DEFAULT_OPTIONS,
)
