"""The ``gpu`` target: which operators the TensorFlow Lite mobile GPU delegate takes, and why not.

TensorFlow's own offline checker (``tf.lite.experimental.Analyzer(gpu_compatibility=True)``)
is a stub in TensorFlow 2.21 (it calls TOPK_V2 compatible), so the placement follows the
delegate's source instead (tensorflow/tensorflow):

* ``tensorflow/lite/delegates/gpu/common/model_builder.cc``, ``GetOpsToReplace``: an
  operator goes to the GPU when its parser's ``IsSupported`` passes (the operator table,
  its checks and fixes live in :mod:`.table`) and ``IsAllAllowedTensors`` accepts
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

Where a GPU adapter exists, LiteRT's ``CompiledModel`` measures the placement at run time
instead (option ``confirm``, :mod:`.confirm`), and the prediction is kept in the details.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ..compatibility import ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement
from ..engine import (
    Finding,
    Graph,
    Rule,
    default_options,
    findings,
    is_bool,
    is_int,
    is_positive_number,
    one_of,
    read_settings,
    setting,
)
from ..partition import Region, partition
from ..registry import Target
from . import mldrift, table
from .confirm import CONFIRM_MODES, confirm

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator, Tensor, TFLiteModel

PRECISIONS = ("float16", "float32")

_TITLE = "mobile GPU"


@dataclasses.dataclass(frozen=True)
class Delegate:
    """One GPU engine's rules: its operator table, its tensor rule, and what makes it
    refuse a whole model."""

    name: str
    title: str
    sources: str
    ops: Mapping[str, table.OpRule]
    listed_without_kernel: frozenset[str]
    tensor_rules: Callable[[Operator, Graph, bool], Finding | None]
    refusal: Callable[[Graph, frozenset[int]], str | None] | None = None


DELEGATES: dict[str, Delegate] = {
    "litert": Delegate(
        "litert",
        mldrift.NAME,
        mldrift.SOURCES,
        mldrift.OPS,
        frozenset(),
        mldrift.tensor_rules,
        mldrift.refusal,
    ),
    "classic": Delegate(
        "classic",
        "the TFLite GPU delegate",
        "the TFLite GPU delegate's rules (model_builder.cc, gpu_compatibility.cc)",
        table.OPS,
        table.LISTED_WITHOUT_KERNEL,
        table.tensor_rules,
    ),
}
"""``litert``: the accelerator LiteRT's CompiledModel runs (ML Drift, the one ai-edge-litert
ships and the one measured where an adapter exists); ``classic``: Android's OpenCL / OpenGL
delegate from tensorflow/lite/delegates/gpu, which the Interpreter API uses."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """The gpu target's options."""

    delegate: str = setting(
        "litert",
        one_of(tuple(DELEGATES)),
        f"one of {', '.join(DELEGATES)}",
        hint="'litert' is LiteRT's GPU accelerator (CompiledModel), 'classic' the TFLite "
        "GPU delegate of the Interpreter API",
    )
    precision: str = setting(
        "float16",
        one_of(PRECISIONS),
        f"one of {', '.join(PRECISIONS)}",
        hint="float16 is what Android's GPU delegate uses by default",
    )
    max_delegated_partitions: int = setting(1, is_int, "an integer", hint="The GPU delegate's default is 1")
    quantized_models: bool = setting(True, is_bool, "True or False")
    confirm: str = setting(
        "auto",
        one_of(CONFIRM_MODES),
        f"one of {', '.join(CONFIRM_MODES)}",
        hint="'auto' confirms on hardware when a GPU is found, 'never' only predicts",
    )
    confirm_timeout: float = setting(60.0, is_positive_number, "a positive number of seconds")

    @property
    def rules(self) -> Delegate:
        return DELEGATES[self.delegate]

    def __post_init__(self) -> None:
        # delegate.cc turns a partition count <= 0 into 1
        object.__setattr__(self, "max_delegated_partitions", max(self.max_delegated_partitions, 1))
        object.__setattr__(self, "confirm_timeout", float(self.confirm_timeout))


def analyze(model: TFLiteModel, options: Mapping[str, object]) -> CompatibilityReport:
    """Place every operator of the main subgraph on the GPU or the CPU, as the delegate would."""
    settings = read_settings(Settings, "gpu", options)
    layout = _Layout.of(model)
    found = findings(RULES, layout.graph, settings)
    placed = layout.place(found, settings)
    refused = _refusal(layout, placed, settings)
    if refused is not None:
        found = [refused] * len(found)
        placed = layout.place(found, settings)
    placements = list(placed.placements)
    details: dict[str, object] = {
        "precision": settings.precision,
        "max_delegated_partitions": settings.max_delegated_partitions,
        "quantized_models": settings.quantized_models,
        "partitions": len(placed.supported),
        "partition_sizes": [len(r) for r in placed.supported],
        "delegated_partitions": len(placed.plan.kept),
        "delegated_partition_sizes": [len(r) for r in placed.plan.kept],
        "confirm": settings.confirm,
        "delegate": settings.delegate,
    }
    notes = [f"rules of {settings.rules.title} (delegate={settings.delegate!r})"]
    notes.extend(_model_notes(model, settings, placed.supported, placed.plan))
    static, failure = True, None
    if placements:
        confirmation = confirm(
            model,
            placements,
            mode=settings.confirm,
            timeout=settings.confirm_timeout,
            predicted_from=settings.rules.sources,
            place=lambda measured: layout.place(measured, settings).placements,
            predicted_findings=found,
        )
        details.update(confirmation.details)
        notes = [*confirmation.notes, *notes]
        static, failure = confirmation.static, confirmation.failure
        placements = list(confirmation.placements or placements)
    return CompatibilityReport(
        target="gpu",
        model=model.name,
        mode=model.mode,
        ops=tuple(placements),
        static=static,
        failure=failure,
        notes=tuple(notes),
        details=details,
        target_title=_TITLE,
    )


def _refusal(layout: _Layout, placed: _Placed, settings: Settings) -> Finding | None:
    """A finding for every operator when the engine refuses the model as a whole."""
    refusal = settings.rules.refusal
    delegated = frozenset(p.index for p in placed.placements if p.on_target)
    why = refusal(layout.graph, delegated) if refusal else None
    return Finding(f"{settings.rules.title} cannot prepare this model: {why}", mldrift.REFUSAL_FIX) if why else None


@dataclasses.dataclass(frozen=True)
class _Placed:
    placements: tuple[OpPlacement, ...]
    supported: tuple[Region, ...]
    plan: _Delegation


@dataclasses.dataclass(frozen=True)
class _Layout:
    """The model as the delegate's partitioner sees it, whoever decides which operators
    are supported: the rules, or the accelerator's log."""

    model: TFLiteModel
    graph: Graph
    dequant_ops: frozenset[int]

    @classmethod
    def of(cls, model: TFLiteModel) -> _Layout:
        fp16_dequant = _fp16_dequantize_ops(model)
        graph = Graph(model, aliases={out: src for out, (_, src) in fp16_dequant.items()})
        return cls(model, graph, frozenset(i for i, _ in fp16_dequant.values()))

    def place(self, found: Sequence[Finding | None], settings: Settings) -> _Placed:
        """Partition the operators without a finding and keep the delegated ones."""
        ops = self.graph.operators
        flags = [f is None and op.index not in self.dequant_ops for op, f in zip(ops, found)]
        regions = partition(self.model, flags)
        plan = _delegation(flags, self.dequant_ops, regions, settings.max_delegated_partitions)
        weights = _weight_ops(self.model, self.graph, self.dequant_ops)
        placements = tuple(_place(op, found[op.index], plan, weights, settings) for op in ops)
        return _Placed(placements, tuple(r for r in regions if r.supported), plan)


def _fp16_dequantize_ops(model: TFLiteModel) -> dict[int, tuple[int, int]]:
    """Output tensor -> (operator index, float16 constant) of every float16-weight DEQUANTIZE.

    ``FP16GraphPartitionHelper`` leaves these nodes out while partitioning and checks their
    readers as if they read the float16 constants: the graph's aliases.
    """
    found: dict[int, tuple[int, int]] = {}
    for op in model.operators:
        if op.name != "DEQUANTIZE" or not op.inputs or op.inputs[0] < 0:
            continue
        src = model.tensors[op.inputs[0]]
        if src.dtype == "float16" and src.is_constant:
            found[op.outputs[0]] = (op.index, src.index)
    return found


# --- one operator: the rules, in the order the delegate's source applies them ----------


def has_kernel(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """``NewOperationParser``: the operator needs a row in the table."""
    rules = settings.rules
    if op.name in rules.ops:
        return None
    fix = table.UNSUPPORTED_FIXES.get(op.name, table.GENERIC_UNSUPPORTED_FIX.format(op=op.name))
    if op.is_custom and op.name in table.MEDIAPIPE_CUSTOM_OPS:
        return Finding(
            f"custom operator {op.name} has no kernel in the stock GPU delegate (MediaPipe's "
            "own GPU inference links one; the stock delegate's custom-operator parser "
            "rejects it)",
            table.MEDIAPIPE_FIX,
        )
    if op.is_custom:
        return Finding(f"custom operator {op.name} has no kernel in {rules.title}", fix)
    if op.name in rules.listed_without_kernel:
        return Finding(
            f"{op.name} is not supported by the GPU delegate (its compatibility list names "
            "it, but the delegate has no kernel for it)",
            fix,
        )
    if rules.name == "litert":
        return Finding(
            f'{op.name} is not supported by {rules.title} (the accelerator: "Operation is not supported.")', fix
        )
    return Finding(f"{op.name} is not supported by the GPU delegate", fix)


def quantized_models_allowed(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    rule = settings.rules.ops.get(op.name)
    if rule is None or not rule.quantized_only or settings.quantized_models:
        return None
    return Finding(
        f"{op.name} runs on the GPU only when quantized models are allowed",
        "Set quantized_models=True (the GPU delegate's default)",
    )


def version_supported(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """``CheckMaxSupportedOpVersion``."""
    rule = settings.rules.ops.get(op.name)
    if rule is None or rule.max_version is None or op.version <= rule.max_version:
        return None
    return _too_new(op, graph, rule.max_version)


def parser_checks(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """The checks of the operator's row, with the row's fix."""
    rule = settings.rules.ops.get(op.name)
    for check in rule.checks if rule else ():
        reason = check(op, graph)
        if reason:
            return Finding(reason, rule.fix if rule else table.GENERIC_CHECK_FIX)
    return None


def allowed_tensors(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    return settings.rules.tensor_rules(op, graph, settings.quantized_models)


RULES: tuple[Rule[Settings], ...] = (
    has_kernel,
    quantized_models_allowed,
    version_supported,
    parser_checks,
    allowed_tensors,
)


def _too_new(op: Operator, graph: Graph, max_version: int) -> Finding:
    x, w = graph.input(op, 0), graph.input(op, 1)
    hybrid = x is not None and w is not None and x.dtype == "float32" and w.dtype in table.QUANTIZED and w.is_constant
    if hybrid:
        return Finding(
            f"dynamic-range (hybrid) {op.name} (version {op.version}): int8 weights with "
            f"float input in this form are not supported on the GPU, which takes "
            f"{op.name} up to version {max_version}",
            "Convert with float16 or full_int8 instead of dynamic-range (dynamic_int8) quantization",
        )
    if any(t.dtype == "int16" for t in graph.present_inputs(op)):
        return Finding(
            f"{op.name} version {op.version} (int16 activations): the GPU delegate takes "
            f"{op.name} up to version {max_version} and no int16 arithmetic",
            table.INT16_FIX,
        )
    return Finding(
        f"{op.name} version {op.version} is newer than the GPU delegate handles (up to version {max_version})",
        f"Use the plain form of the layer that produces {op.name} (no extra options), "
        "or float16 / full_int8 conversion",
    )


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


def _delegation(flags: Sequence[bool], fp16_dequant: frozenset[int], regions: Sequence[Region], n: int) -> _Delegation:
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


def _weight_ops(model: TFLiteModel, graph: Graph, fp16_dequant: frozenset[int]) -> dict[int, str]:
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
        return finding.placement(op)
    if op.index in plan.nodes:
        return placement(ON_TARGET, weights.get(op.index, "runs on the GPU"))
    largest = len(plan.kept[0]) if plan.kept else 0
    return placement(
        ON_CPU,
        f"supported, but outside the GPU partition: the delegate takes only the "
        f"{_plural(settings.max_delegated_partitions, 'largest partition')} "
        f"(max_delegated_partitions={settings.max_delegated_partitions}, largest has "
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


def _model_notes(model: TFLiteModel, settings: Settings, supported: Sequence[Region], plan: _Delegation) -> list[str]:
    notes = []
    if settings.precision == "float16":
        notes.append(
            "the GPU computes in float16 (precision loss allowed, Android's default): expect "
            "float16 rounding, about 3 significant digits, and overflow above 65504"
        )
    else:
        notes.append("the GPU computes in float32 (maximum precision, the C API's default)")
    if settings.quantized_models and _has_quantized_activations(model):
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
        notes.append(f"the model has {model.subgraph_count} subgraphs; only the main subgraph is placed here")
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
    return any(t.dtype in table.QUANTIZED and not t.is_constant for t in model.tensors)


def _unknown_inner_dims(tensors: Sequence[Tensor]) -> bool:
    return any(d < 0 for t in tensors for d in t.shape_signature[1:])


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
    options=default_options(Settings),
)
