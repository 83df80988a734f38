"""The ``edgetpu`` target: which operators the Coral Edge TPU compiler maps.

``edgetpu_compiler`` is closed source and ships for x86-64 Linux only, so the placement
is predicted from Coral's published rules (coral.ai/docs/edgetpu/models-intro), real
compilations and the behaviour people posted in google-coral/edgetpu issues
(``edgetpu#N``); where the compiler is installed, :mod:`.compiler` runs it and its
verdict is reported beside the prediction. The tables live in :mod:`.table`; this
module applies them:

1. whole-compile failures (an unparseable op version, no quantization, a Flex op TFLite
   cannot prepare, dynamic-sized tensors): nothing maps, the model runs on the CPU;
2. per operator, the first failing rule in the order data type -> op type and version
   for the target runtime -> rank -> op-specific restrictions -> size heuristics;
3. the partition rule: TFLite's greedy partitioner cuts the graph into regions and the
   compiler keeps the first candidate region (all of them with ``-a``).

Reasons are the compiler's own status strings, so a report's table reads like its log.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ...errors import TargetError
from ..compatibility import FLEX_PREFIX, ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement
from ..engine import (
    Finding,
    Graph,
    Rule,
    builtin_option,
    default_options,
    findings,
    is_bool,
    is_positive_number,
    read_settings,
    setting,
)
from ..partition import Region, partition
from ..registry import Target
from . import table

if TYPE_CHECKING:
    import numpy as np

    from ...model.flatbuffer import Operator, Tensor, TFLiteModel

# --- the compiler's wording ---------------------------------------------------------------

MAPPED = table.MAPPED
MORE_THAN_ONE_SUBGRAPH = "More than one subgraph is not supported"
UNSPECIFIED_LIMITATION = (
    "Operation is otherwise supported, but not mapped due to some unspecified limitation"
)
UNSUPPORTED_DATA_TYPE = "Operation is working on an unsupported data type"
NOT_SUPPORTED = "Operation not supported"
VERSION_NOT_SUPPORTED = "Operation version not supported"
UNSUPPORTED_RANK = "Tensor has unsupported rank (up to 3 innermost dimensions mapped)"
PARAM_NOT_CONSTANT = "Filter, bias, or other param is not constant at compile-time"
TWO_D_OUTPUT = "For example, a fully-connected or softmax layer with 2D output"

NOT_ALL_MAPPED = (
    "Model successfully compiled but not all operations are supported by the Edge TPU. "
    "A percentage of the model will instead run on the CPU, which is slower. If possible, "
    "consider updating your model to use only operations supported by the Edge TPU. "
    "For details, visit g.co/coral/model-reqs."
)
INTERPRETER_FAILED = (
    "Compilation failed: Model failed in Tflite interpreter. "
    "Please ensure model can be loaded/run in Tflite interpreter."
)
DYNAMIC_TENSORS = (
    "ERROR: Attempting to use a delegate that only supports static-sized tensors "
    "with a graph that has dynamic-sized tensors."
)
FLEX_NOT_SUPPORTED = (
    "ERROR: Regular TensorFlow ops are not supported by this interpreter. "
    "Make sure you apply/link the Flex delegate before inference."
)

# --- fixes ----------------------------------------------------------------------------------

FIX_INTEGER_IO = (
    "Convert with the full_int8 mode (integer input and output), so no float "
    "QUANTIZE/DEQUANTIZE sits at the model's ends"
)
FIX_QUANTIZE = "Quantize the whole model: convert with the int8 or full_int8 mode"
FIX_FLOAT_KERNEL = (
    "This operator kept a float kernel: convert with full_int8 so every operator is integer-only"
)
FIX_FLOAT_SECTION = (
    "A float section in the middle of the graph splits the Edge TPU subgraph (edgetpu#309): "
    "replace the operator that needs float"
)
FIX_8_BIT = (
    "The Edge TPU computes in 8 bits only: convert with int8 or full_int8, not int16x8 or "
    "int16_activations"
)
FIX_NARROW_WEIGHTS = (
    "The Edge TPU takes 8-bit weights only: quantize with int8 weights (full_int8), not "
    "int4 or int2 (ai-edge-quantizer's narrow-weight recipes)"
)
FIX_BATCH_ONE = (
    "Fix the batch size to 1 before conversion (keras.Input(shape, batch_size=1), or "
    "model.input.set_shape((1,) + shape[1:])), so no shape is computed at run time "
    "(edgetpu#598, #654)"
)
FIX_SMALLER = "Make the tensors smaller (lower resolution, fewer channels, or split the operation)"


# --- the target's options ------------------------------------------------------------


def _is_runtime(value: object) -> bool:
    return value is None or isinstance(value, int) and not isinstance(value, bool) and (
        table.MIN_RUNTIME <= value <= table.MAX_RUNTIME
    )


def _is_compiler(value: object) -> bool:
    """A release's version or name; ``16.0`` may arrive as a number from ``--option``."""
    if value is None:
        return True
    return isinstance(value, (str, int, float)) and table.compiler_named(str(value)) is not None


def _runtime_hint() -> str:
    """Which compiler goes with which runtime, from the table, newest first."""
    default = table.compiler_for(table.DEFAULT_RUNTIME)[0]
    others = {c.runtime: c for c in table.COMPILERS if c.runtime != default.runtime}
    pairs = [f"{runtime} with compiler {c.release}" for runtime, c in sorted(others.items(), reverse=True)]
    return "; ".join([f"Runtime {default.runtime} goes with compiler {default.release} (the default)", *pairs])


def _compiler_hint() -> str:
    versions = ", ".join(c.version for c in table.COMPILERS)
    return f"Registered compilers: {versions}; leave it out for the newest ({table.default_compiler().version})"


AUTO_COMPILER = "auto"
NO_COMPILER = "never"


def _is_compiler_choice(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_timeout(value: object) -> bool:
    return value is None or is_positive_number(value)


@dataclasses.dataclass(frozen=True)
class Settings:
    """The edgetpu target's options, and the compiler release they select.

    ``compiler_version`` names the release the prediction is for (the newest registered
    unless set); ``runtime_version`` alone picks the release that targets that runtime,
    and with ``compiler_version`` it becomes that compiler's ``-m`` flag.
    """

    compiler_version: str | None = setting(
        None, _is_compiler, "a registered edgetpu_compiler version", hint=_compiler_hint
    )
    runtime_version: int | None = setting(
        None,
        _is_runtime,
        f"an Edge TPU runtime from {table.MIN_RUNTIME} to {table.MAX_RUNTIME}",
        hint=_runtime_hint,
    )
    multiple_subgraphs: bool = setting(False, is_bool, "True or False")
    compiler_path: str = setting(
        AUTO_COMPILER,
        _is_compiler_choice,
        f"'{AUTO_COMPILER}', '{NO_COMPILER}' or the path of an edgetpu_compiler",
        hint=f"'{AUTO_COMPILER}' runs edgetpu_compiler when it is on PATH, '{NO_COMPILER}' only predicts",
    )
    compiler_timeout: float | None = setting(
        None, _is_timeout, "a positive number of seconds", hint="Leave it out for the compiler's own"
    )

    def __post_init__(self) -> None:
        if self.compiler_version is not None:
            object.__setattr__(self, "compiler_version", str(self.compiler_version))
        compiler = self.compiler
        if self.compiler_version is not None and self.runtime != compiler.runtime:
            if self.runtime > compiler.runtime or not compiler.min_runtime_flag:
                raise TargetError(
                    f"edgetpu target: compiler {compiler.version} makes models for runtime "
                    f"{compiler.runtime}, not runtime_version={self.runtime}",
                    hint=_runtime_hint(),
                )
        if self.multiple_subgraphs and not compiler.multiple_subgraphs:
            first = table.oldest_with(lambda c: c.multiple_subgraphs)
            needs = f"compiler {first.release} or newer" if first else "a compiler that has it"
            raise TargetError(
                f"edgetpu target: multiple_subgraphs (the -a flag) needs {needs}; runtime "
                f"{self.runtime} means compiler {compiler.version}",
                hint=f"Target runtime_version={first.runtime} or newer" if first else None,
            )

    @functools.cached_property
    def compiler(self) -> table.Compiler:
        if self.compiler_version is not None:
            named = table.compiler_named(self.compiler_version)
            if named is not None:
                return named
        if self.runtime_version is None:
            return table.default_compiler()
        return table.compiler_for(self.runtime_version)[0]

    @property
    def runtime(self) -> int:
        """The runtime the prediction is for: the option, else the compiler's own."""
        return self.compiler.runtime if self.runtime_version is None else self.runtime_version

    @property
    def timeout_s(self) -> float:
        """How long a real compile may take: the option, else the release's own limit."""
        return float(self.compiler_timeout if self.compiler_timeout is not None else self.compiler.timeout_seconds)

    @property
    def flags(self) -> tuple[str, ...]:
        """The command-line flags that select the runtime and the subgraph mode."""
        runtime_flags = (f"-m {self.runtime}",) if self.runtime != self.compiler.runtime else ()
        return runtime_flags + (("-a",) if self.multiple_subgraphs else ())


def _type_ok(tensor: Tensor, settings: Settings) -> bool:
    allowed = table.CONSTANT_DTYPES if tensor.is_constant else table.ACTIVATION_DTYPES
    if tensor.dtype == "int8" and settings.runtime < table.SIGNED_INT8_MIN_RUNTIME:
        return False
    return tensor.dtype in allowed


def _elements(shape: Sequence[int]) -> int:
    return math.prod(max(d, 1) for d in shape)


def _significant_dims(shape: Sequence[int]) -> tuple[int, ...]:
    """The shape without its leading 1s: what the Edge TPU sees of a batch-1 tensor."""
    dims = list(shape)
    while dims and dims[0] == 1:
        dims.pop(0)
    return tuple(dims)


# --- 1. data type -----------------------------------------------------------------------


def check_data_type(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """Activations must be 8-bit integers, weights 8-bit, biases int32 (Coral model
    requirements). A float->int QUANTIZE is a known exception (edgetpu#490, #659)."""
    if op.name == "QUANTIZE" and _quantizes_float(op, graph) and _supported(op.name, settings):
        fix = FIX_INTEGER_IO if graph.at_the_ends(op) else FIX_FLOAT_SECTION
        return Finding(UNSPECIFIED_LIMITATION, fix)
    wrong = [t for t in graph.operands(op) if not _type_ok(t, settings)]
    if not wrong:
        return None
    return Finding(UNSUPPORTED_DATA_TYPE, _data_type_fix(op, wrong, graph, settings))


def _quantizes_float(op: Operator, graph: Graph) -> bool:
    source, result = graph.input(op, 0), graph.output(op)
    return (
        source is not None
        and source.dtype.startswith("float")
        and result.dtype in table.ACTIVATION_DTYPES
    )


def _data_type_fix(op: Operator, wrong: list[Tensor], graph: Graph, settings: Settings) -> str:
    dtypes = {t.dtype for t in wrong}
    if "int16" in dtypes:
        return FIX_8_BIT
    if dtypes & {"int4", "int2"} and graph.quantized:
        return FIX_NARROW_WEIGHTS
    if "int8" in dtypes and settings.runtime < table.SIGNED_INT8_MIN_RUNTIME:
        return _needs_runtime("int8 tensors", table.SIGNED_INT8_MIN_RUNTIME)
    if not any(d.startswith("float") for d in dtypes):
        return ""
    if op.is_custom and graph.quantized:
        return (
            "A custom operator runs on the CPU: keep it at the end of the graph so it does not "
            "split the Edge TPU subgraph" + _cite(table.CUSTOM_ON_CPU)
        )
    if not graph.quantized:
        return FIX_QUANTIZE
    if op.name in ("QUANTIZE", "DEQUANTIZE"):
        return FIX_INTEGER_IO if graph.at_the_ends(op) else FIX_FLOAT_SECTION
    return table.REPLACEMENTS.get(op.name, FIX_FLOAT_KERNEL)


# --- 2. op type and version -----------------------------------------------------------------


def check_op_type(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """The op must be in Coral's table for the target runtime, at a version the compiler knows."""
    if op.is_custom:
        return Finding(NOT_SUPPORTED, "A custom operator runs on the CPU: keep it at the end of "
                       "the graph so it does not split the Edge TPU subgraph"
                       + _cite(table.CUSTOM_ON_CPU))
    if not _supported(op.name, settings):
        return Finding(NOT_SUPPORTED, _unsupported_fix(op.name, settings))
    limits = table.UNSUPPORTED_OP_VERSIONS
    limit = next((v for v in limits if v.applies(op.name, op.version, settings.compiler)), None)
    if limit is not None:
        fixed = limit.fixed_in()
        runtime = fixed.runtime if fixed else table.DEFAULT_RUNTIME
        fix = (
            f"{op.name} version {op.version} needs a newer compiler: target runtime {runtime}, or "
            f"convert with half_pixel_centers=False / align_corners=False ({limit.source})"
        )
        return Finding(VERSION_NOT_SUPPORTED, fix)
    return None


def _supported(name: str, settings: Settings) -> bool:
    return table.rule_for(name, settings.runtime) is not None


def _unsupported_fix(name: str, settings: Settings) -> str:
    first = table.first_runtime(name)
    if first is not None and first > settings.runtime:
        return _needs_runtime(name, first)
    return table.REPLACEMENTS.get(name, "")


def _needs_runtime(what: str, runtime: int) -> str:
    compiler, _ = table.compiler_for(runtime)
    return (
        f"{what} needs Edge TPU runtime {runtime} (compiler {compiler.release}): "
        f"target runtime_version={runtime} or newer"
    )


def _lifted_later(what: str, op: Operator, check: str) -> Finding:
    """A restriction of old runtimes: the fix names the runtime whose row drops ``check``."""
    runtime = table.first_runtime_without(op.name, check)
    fix = _needs_runtime(what, runtime) if runtime is not None else f"{what} does not map"
    return _limitation(fix)


# --- 3. rank ----------------------------------------------------------------------------------


def check_rank(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """Only the 3 innermost dimensions may exceed 1 (Coral model requirements, edgetpu#30)."""
    for tensor in graph.activations(op):
        outer = tensor.shape[:-3]
        if any(d != 1 for d in outer):
            if tensor.shape[0] > 1:
                fix = "Use batch size 1: the Edge TPU maps only the 3 innermost dimensions"
            else:
                fix = "Keep tensors to 3 dimensions beyond leading 1s, e.g. fold the outer one in"
            return Finding(UNSUPPORTED_RANK, fix)
    return None


# --- 4. op-specific restrictions (Coral's "Known limitations" column) ------------------------

Check = Callable[["Operator", Graph], "Finding | None"]
"""A restriction of Coral's "Known limitations" column, named by :data:`table.SUPPORTED_OPS`."""


def _limitation(fix: str) -> Finding:
    return Finding(UNSPECIFIED_LIMITATION, fix)


def _cite(rule: table.Bounded) -> str:
    """The evidence a finding rests on, and the releases it holds for."""
    return f" [evidence: {'; '.join(rule.evidence)}; holds for {rule.compilers}]"


def _not_constant(what: str) -> Finding:
    return Finding(PARAM_NOT_CONSTANT, f"Make the {what} a constant of the model")


def no_fused_activation(op: Operator, graph: Graph) -> Finding | None:
    if builtin_option(op, "fusedActivationFunction"):
        return _limitation(f"{op.name} cannot carry a fused activation on the Edge TPU")
    return None


def constant_input_is_zero_pad(op: Operator, graph: Graph) -> Finding | None:
    """A constant input is allowed only as the zero padding of a 2-input concatenation."""
    constants = [p for p, t in enumerate(graph.inputs(op)) if t is not None and t.is_constant]
    if not constants:
        return None
    if len(op.inputs) == 2 and all(_all_zero(graph, op, p) for p in constants):
        return None
    return _limitation("Concatenate constants only as all-zero padding of exactly two inputs")


def _all_zero(graph: Graph, op: Operator, position: int) -> bool:
    """The constant's real values are all 0 (its integers all equal the zero point)."""
    values = graph.values(op, position)
    tensor = graph.input(op, position)
    if values is None or tensor is None:
        return False
    quantization = tensor.quantization
    zero = quantization.zero_points if quantization else (0,)
    if quantization and len(zero) > 1 and values.ndim:
        shape = [1] * values.ndim
        shape[quantization.axis] = len(zero)
        import numpy as np

        return not (values.astype("int64") - np.reshape(zero, shape)).any()
    return not (values.astype("int64") - zero[0]).any()


def constant_params(op: Operator, graph: Graph) -> Finding | None:
    """Filters, biases and output shapes must be constant (edgetpu#25)."""
    for position in table.CONSTANT_OPERANDS.get(op.name, ()):
        tensor = graph.input(op, position)
        if tensor is not None and not tensor.is_constant:
            return _not_constant("weights, bias and other parameters")
    return None


def _dilation(op: Operator) -> tuple[int, int]:
    return builtin_option(op, "dilationHFactor", 1), builtin_option(op, "dilationWFactor", 1)


def _kernel(op: Operator, graph: Graph) -> tuple[int, int]:
    """(height, width) of the filter: [out, h, w, in] for CONV_2D, [1, h, w, out] depthwise."""
    weights = graph.input(op, 1)
    if weights is None or len(weights.shape) != 4:
        return 0, 0
    return weights.shape[1], weights.shape[2]


def same_dilation(op: Operator, graph: Graph) -> Finding | None:
    """Dilation along an axis where the kernel is 1 wide has no effect, so only the axes the
    kernel spans are compared (a 3x1 kernel dilated (2, 1) maps)."""
    h, w = _dilation(op)
    kernel_h, kernel_w = _kernel(op, graph)
    if w != h and kernel_h != 1 and kernel_w != 1:
        return _limitation("Use the same dilation rate in x and y")
    return None


def no_dilation(op: Operator, graph: Graph) -> Finding | None:
    if _dilation(op) != (1, 1):
        return _lifted_later("A dilated depthwise convolution", op, "no_dilation")
    return None


def default_weights_format(op: Operator, graph: Graph) -> Finding | None:
    if builtin_option(op, "weightsFormat") != 0:
        return _limitation("Use the DEFAULT fully-connected weights format, not SHUFFLED4x16INT8")
    return None


def one_dimensional_output(op: Operator, graph: Graph) -> Finding | None:
    """FullyConnected and Softmax need a 1-D output beyond leading 1s (edgetpu#27)."""
    if len(_significant_dims(graph.output(op).shape)) > 1:
        return Finding(TWO_D_OUTPUT, f"Flatten the input so {op.name} has a 1-D output")
    return None


def _axes(op: Operator, graph: Graph) -> tuple[list[int] | None, int]:
    """The axes an op works along (normalised), and the rank they index; None if not constant."""
    if op.name == "PACK":
        rank = len(graph.output(op).shape)
        return [builtin_option(op, "axis") % max(rank, 1)], rank
    position, data_position = (0, 1) if op.name == "SPLIT" else (1, 0)
    source = graph.input(op, data_position)
    rank = len(source.shape) if source is not None else 0
    values = graph.values(op, position)
    if values is None:
        return None, rank
    return [int(a) % max(rank, 1) for a in values.reshape(-1)], rank


def no_batch_axis(op: Operator, graph: Graph) -> Finding | None:
    """A SPLIT into one output leaves the batch as it is, and maps."""
    axes, rank = _axes(op, graph)
    if axes is None:
        return _not_constant("axis")
    if op.name == "SPLIT" and len(op.outputs) == 1:
        return None
    if rank >= 2 and 0 in axes:
        return _limitation(f"{op.name} cannot work along the batch dimension")
    return None


def reduce_xy_only(op: Operator, graph: Graph) -> Finding | None:
    axes, rank = _axes(op, graph)
    if axes is None:
        return _not_constant("axis")
    if not set(axes) <= {rank - 3, rank - 2}:
        return _lifted_later("A MEAN over other axes than x and y", op, "reduce_xy_only")
    return None


def channel_reduce_multiple_of_4(op: Operator, graph: Graph) -> Finding | None:
    axes, rank = _axes(op, graph)
    source = graph.input(op, 0)
    if axes and source is not None and rank - 1 in axes and source.shape[-1] % 4:
        return _limitation("A MEAN over channels needs a channel count that is a multiple of 4")
    return None


def _paddings(op: Operator, graph: Graph) -> np.ndarray | None:
    values = graph.values(op, 1)
    return None if values is None else values.reshape(-1, 2)


def no_batch_padding(op: Operator, graph: Graph) -> Finding | None:
    paddings = _paddings(op, graph)
    if paddings is None:
        return _not_constant("paddings")
    if len(paddings) >= 2 and paddings[0].any():
        return _limitation("Do not pad the batch dimension")
    return None


def pad_xy_only(op: Operator, graph: Graph) -> Finding | None:
    paddings = _paddings(op, graph)
    if paddings is None:
        return _not_constant("paddings")
    rank = len(paddings)
    padded = {axis for axis, row in enumerate(paddings) if row.any()}
    if not padded <= {rank - 3, rank - 2}:
        return _lifted_later("Padding other axes than x and y", op, "pad_xy_only")
    return None


def alpha_innermost_only(op: Operator, graph: Graph) -> Finding | None:
    alpha = graph.input(op, 1)
    if alpha is not None and any(d != 1 for d in alpha.shape[:-1]):
        return _limitation("Share PReLU's alpha over height and width: PReLU(shared_axes=[1, 2])")
    return None


def batch_one_image(op: Operator, graph: Graph) -> Finding | None:
    for tensor in (graph.input(op, 0), graph.output(op)):
        if tensor is not None and (len(tensor.shape) != 4 or tensor.shape[0] != 1):
            return _limitation(f"{op.name} needs [1, H, W, C] input and output")
    return None


def squeeze_leading_only(op: Operator, graph: Graph) -> Finding | None:
    source = graph.input(op, 0)
    if source is None:
        return None
    rank = len(source.shape)
    dims = builtin_option(op, "squeezeDims", None)
    squeezed = {int(d) % rank for d in dims} if dims is not None and len(dims) else {
        axis for axis, d in enumerate(source.shape) if d == 1
    }
    leading = next((axis for axis, d in enumerate(source.shape) if d != 1), rank)
    if any(axis > leading for axis in squeezed):
        return _lifted_later("A SQUEEZE that needs a relayout", op, "squeeze_leading_only")
    return None


def unit_strides_no_masks(op: Operator, graph: Graph) -> Finding | None:
    if builtin_option(op, "ellipsisMask") or builtin_option(op, "newAxisMask"):
        return _limitation("Slice without ellipsis or new-axis masks")
    strides = graph.values(op, 3)
    if strides is None:
        return _not_constant("strides")
    if (strides != 1).any():
        return _limitation("Slice with stride 1 only")
    return None


CHECKS: dict[str, Check] = {
    "no_fused_activation": no_fused_activation,
    "constant_input_is_zero_pad": constant_input_is_zero_pad,
    "constant_params": constant_params,
    "same_dilation": same_dilation,
    "no_dilation": no_dilation,
    "default_weights_format": default_weights_format,
    "one_dimensional_output": one_dimensional_output,
    "no_batch_axis": no_batch_axis,
    "reduce_xy_only": reduce_xy_only,
    "channel_reduce_multiple_of_4": channel_reduce_multiple_of_4,
    "no_batch_padding": no_batch_padding,
    "pad_xy_only": pad_xy_only,
    "alpha_innermost_only": alpha_innermost_only,
    "batch_one_image": batch_one_image,
    "squeeze_leading_only": squeeze_leading_only,
    "unit_strides_no_masks": unit_strides_no_masks,
}
"""Restriction checks by the names :data:`table.SUPPORTED_OPS` uses."""


def check_restrictions(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """The row's restrictions that hold for the compiler, each with its evidence."""
    rule = table.rule_for(op.name, settings.runtime)
    for name in rule.checks if rule else ():
        restriction = table.RESTRICTIONS[name]
        if not restriction.holds_for(settings.compiler):
            continue
        finding = CHECKS[name](op, graph)
        if finding is not None:
            return dataclasses.replace(finding, fix=finding.fix + _cite(restriction))
    return None


# --- 5. size heuristics ----------------------------------------------------------------------


def check_size(op: Operator, graph: Graph, settings: Settings) -> Finding | None:
    """Memory-driven rejections cannot be known from the file; flag what the compiler's
    past logs rejected."""
    for limit in settings.compiler.size_limits:
        if limit.op not in (op.name, table.ANY_OP) or not limit.holds_for(settings.compiler):
            continue
        size = _measure(op, graph, limit.measure)
        if size > limit.limit:
            what = _MEASURES[limit.measure].format(size=size)
            return _limitation(
                f"{FIX_SMALLER}: {what}, above ~{limit.limit:,} ({limit.source}){_cite(limit)}"
            )
    return None


_MEASURES = {
    "input_elements": "its input holds {size:,} elements",
    "output_elements": "its output holds {size:,} elements",
    "input_width": "its input is {size:,} wide",
    "row_elements": "the two innermost dimensions of a tensor hold {size:,} elements",
}


def _measure(op: Operator, graph: Graph, measure: str) -> int:
    source = graph.input(op, 0)
    if measure == "row_elements":
        return max((_elements(t.shape[-2:]) for t in graph.activations(op)), default=0)
    if measure == "output_elements":
        return _elements(graph.output(op).shape)
    if source is None:
        return 0
    if measure == "input_width":
        return source.shape[-1] if source.shape else 0
    return _elements(source.shape)


RULES: tuple[Rule[Settings], ...] = (
    check_data_type,
    check_op_type,
    check_rank,
    check_restrictions,
    check_size,
)
"""Per-operator rules; the first that objects gives the status (order from Coral's logs [I])."""


# --- whole-compile failures ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CompileFailure:
    """The compiler writes no model: its message, its log lines, and what would fix it."""

    message: str
    log: tuple[str, ...]
    cause: str
    fix: str
    notes: tuple[str, ...] = ()


def unparseable_op_version(graph: Graph, settings: Settings) -> CompileFailure | None:
    """Op versions newer than the compiler's TFLite build (edgetpu#34, #147, #384)."""
    for op in graph.model.operators:
        for limit in table.UNPARSEABLE_OP_VERSIONS:
            if limit.applies(op.name, op.version, settings.compiler):
                error = (
                    f"ERROR: Didn't find op for builtin opcode '{op.name}' "
                    f"version '{op.version}'"
                )
                return CompileFailure(
                    message=f"{error}. Model could not be parsed",
                    log=(error, "", "ERROR: Registration failed.", "",
                         f"Invalid model: {_file(graph)}", "Model could not be parsed"),
                    cause=f"compiler {settings.compiler.version} cannot parse {op.name} "
                    f"version {op.version}",
                    fix=f"Target a newer runtime_version, or convert so {op.name} gets an older "
                    f"version ({limit.source})",
                )
    return None


def not_quantized(graph: Graph, settings: Settings) -> CompileFailure | None:
    """Float and dynamic-range models are rejected (edgetpu#168, #238, #313)."""
    if graph.quantized:
        return None
    note = settings.compiler.float_model_note
    return CompileFailure(
        message=f"Invalid model: {_file(graph)}: Model not quantized",
        log=(f"Invalid model: {_file(graph)}", "Model not quantized"),
        cause="the model is not quantized",
        fix=FIX_QUANTIZE,
        notes=(note,) if note else (),
    )


def unpreparable_op(graph: Graph, settings: Settings) -> CompileFailure | None:
    """The compiler loads the model into TFLite first: Flex ops fail to prepare
    (edgetpu#479, #718). Other custom ops do not fail it (:data:`table.CUSTOM_ON_CPU`)."""
    for op in graph.model.operators:
        if not (op.is_custom and op.name.startswith(FLEX_PREFIX)):
            continue
        if not table.FLEX_FAILS.holds_for(settings.compiler):
            continue
        error = FLEX_NOT_SUPPORTED
        fix = "Convert without SELECT_TF_OPS: replace the layer that needs a TensorFlow op"
        node = f"ERROR: Node number {op.index} ({op.name}) failed to prepare."
        return CompileFailure(
            message=f"{error} {node} {INTERPRETER_FAILED}",
            log=(error, node, "", INTERPRETER_FAILED),
            cause=f"TFLite cannot prepare {op.name}",
            fix=fix,
        )
    return None


def dynamic_tensors(graph: Graph, settings: Settings) -> CompileFailure | None:
    """An output sized from a run-time value makes the graph dynamic (edgetpu#654, #829)."""
    culprits = [
        op for op in graph.model.operators
        if any(
            (t := graph.input(op, p)) is not None and not t.is_constant
            for p in table.SHAPE_OPERANDS.get(op.name, ())
        )
    ]
    if not culprits:
        return None
    named = ", ".join(f"{op.index} ({op.name})" for op in culprits[:5])
    return CompileFailure(
        message=f"{DYNAMIC_TENSORS} {INTERPRETER_FAILED}",
        log=(DYNAMIC_TENSORS, INTERPRETER_FAILED),
        cause="the graph has dynamic-sized tensors",
        fix=FIX_BATCH_ONE,
        notes=(f"operator(s) {named} size their output from a tensor computed at run time",),
    )


FailureCheck = Callable[[Graph, "Settings"], "CompileFailure | None"]

FAILURE_CHECKS: tuple[FailureCheck, ...] = (
    unparseable_op_version,
    not_quantized,
    unpreparable_op,
    dynamic_tensors,
)
"""In the order the compiler meets them: parse, validate, prepare in TFLite, delegate."""


def compile_failure(graph: Graph, settings: Settings) -> CompileFailure | None:
    return next((f for check in FAILURE_CHECKS if (f := check(graph, settings)) is not None), None)


def _file(graph: Graph) -> str:
    return f"{graph.model.name}.tflite"


# --- partition --------------------------------------------------------------------------------


def _kept_regions(regions: list[Region], multiple: bool) -> list[Region]:
    """The compiler keeps the first candidate region, not the largest (edgetpu#342);
    with ``-a`` every one becomes a subgraph."""
    candidates = [r for r in regions if r.supported]
    return candidates if multiple else candidates[:1]


def _leftover(op: Operator, breaker: Operator | None, settings: Settings) -> OpPlacement:
    """A candidate outside the kept region (edgetpu#461: QUANTIZE gets the other text)."""
    status = UNSPECIFIED_LIMITATION if op.name == "QUANTIZE" else MORE_THAN_ONE_SUBGRAPH
    fix = "It runs on the CPU because the Edge TPU subgraph ended earlier"
    if breaker is not None:
        fix = (
            f"It runs on the CPU because operator {breaker.index} ({breaker.name}) ends the "
            "Edge TPU subgraph first: replace that operator or move it to the end of the graph"
        )
    if settings.compiler.multiple_subgraphs:
        fix += ", or compile with -a (multiple_subgraphs=True)"
    return OpPlacement(op.index, op.name, op.version, ON_CPU, status, fix)


def _breaker(regions: list[Region], kept: list[Region], graph: Graph) -> Operator | None:
    """The first operator of the non-candidate region right after the kept one."""
    if not kept:
        return None
    after = regions[regions.index(kept[0]) + 1:]
    first = next((r for r in after if not r.supported), None)
    return graph.operators[first.ops[0]] if first else None


def place(
    graph: Graph, found: Sequence[Finding | None], settings: Settings
) -> tuple[list[OpPlacement], int]:
    """Placements of every operator, and the number of Edge TPU subgraphs."""
    regions = partition(graph.model, [f is None for f in found])
    kept = _kept_regions(regions, settings.multiple_subgraphs)
    mapped = {i for region in kept for i in region.ops}
    breaker = _breaker(regions, kept, graph)
    placements = []
    for op, finding in zip(graph.operators, found):
        if op.index in mapped:
            placements.append(OpPlacement(op.index, op.name, op.version, ON_TARGET, MAPPED))
        elif finding is not None:
            placements.append(finding.placement(op))
        else:
            placements.append(_leftover(op, breaker, settings))
    return placements, len(kept)


def _failed_placements(
    graph: Graph, found: Sequence[Finding | None], failure: CompileFailure
) -> list[OpPlacement]:
    """No model comes out: every operator runs on the CPU in the uncompiled model."""
    placements = []
    for op, finding in zip(graph.operators, found):
        reason = finding.reason if finding else f"Not mapped: {failure.cause}"
        fix = (finding.fix if finding else "") or failure.fix
        placements.append(OpPlacement(op.index, op.name, op.version, ON_CPU, reason, fix))
    return placements


# --- the target ------------------------------------------------------------------------------


def analyze(model: TFLiteModel, options: Mapping[str, object]) -> CompatibilityReport:
    """The ``edgetpu_compiler`` verdict for ``model``: per operator, the status the
    compiler's log prints; measured where the compiler runs, predicted otherwise."""
    settings = read_settings(Settings, "edgetpu", options)
    graph = Graph(model)
    found = findings(RULES, graph, settings)
    failure = compile_failure(graph, settings)
    if failure is None:
        ops, subgraphs = place(graph, found, settings)
    else:
        ops, subgraphs = _failed_placements(graph, found, failure), 0
    compiler, flags = settings.compiler, settings.flags
    using = f" with {' '.join(flags)}" if flags else ""
    notes = [
        f"predicted for edgetpu_compiler {compiler.version} / runtime {settings.runtime}{using}, "
        "from Coral's published rules and real compilations; no compiler was run",
        *(failure.notes if failure else ()),
    ]
    details: dict[str, object] = {
        "compiler_version": compiler.version,
        "runtime_version": settings.runtime,
        "compiler_flags": list(flags),
        "edgetpu_subgraphs": subgraphs,
    }
    if failure is not None:
        details["compiler_errors"] = list(failure.log)
    custom = sorted({op.name for op in model.operators if op.is_custom})
    if custom:
        details["custom_ops"] = custom
    predicted = CompatibilityReport(
        target="edgetpu",
        model=model.name,
        mode=model.mode,
        ops=tuple(ops),
        static=True,
        failure=failure.message if failure else None,
        notes=tuple(notes),
        details=details,
        target_title="Edge TPU",
    )
    return _measured(predicted, model, settings) or predicted


def _measured(predicted: CompatibilityReport, model: TFLiteModel, settings: Settings) -> CompatibilityReport | None:
    """The real compiler's verdict when it can be run (``compiler_path`` option), the
    prediction kept beside it; None when there is no compiler to run."""
    if settings.compiler_path == NO_COMPILER:
        return None
    from .compiler import confirm_with_compiler

    explicit = None if settings.compiler_path == AUTO_COMPILER else settings.compiler_path
    return confirm_with_compiler(predicted, model, explicit, settings.timeout_s, settings.flags)


def format_compiler_log(
    report: CompatibilityReport,
    input_file: str | None = None,
    *,
    show_operations: bool = True,
    operation_log: bool = False,
    out_dir: str | None = None,
) -> str:
    """What ``edgetpu_compiler [-s]`` would print for this report (sizes and timings left
    out), or with ``operation_log`` the ``<name>_edgetpu.log`` file it writes.

    ``input_file`` is the path the compiler was given (the model's name unless set);
    ``out_dir`` its ``-o`` directory, which the log prints before the output file.
    """
    version = str(report.details.get("compiler_version", ""))
    compiler = table.compiler_named(version) or table.default_compiler()
    source = input_file or f"{report.model}.tflite"
    stem = source.rsplit("/", 1)[-1].removesuffix(".tflite")
    output = f"{out_dir.rstrip('/')}/{stem}_edgetpu.tflite" if out_dir else f"{stem}_edgetpu.tflite"
    header = f"Edge TPU Compiler version {version or compiler.version}"
    if operation_log:
        return "\n".join([header, f"Input: {source}", f"Output: {output}", "", _log_table(report)])
    lines = [header]
    if compiler.child_process:
        lines.append(f"Started a compilation timeout timer of {compiler.timeout_seconds} seconds.")
    if report.failure:
        lines += [str(line) for line in report.details.get("compiler_errors", [report.failure])]
        return "\n".join(lines + _child_process_lines(compiler, succeeded=False))
    lines += [
        "",
        f"Input model: {source}",
        f"Output model: {output}",
        f"Number of Edge TPU subgraphs: {report.details.get('edgetpu_subgraphs', 0)}",
        f"Total number of operations: {report.ops_total}",
        f"Operation log: {output.removesuffix('.tflite')}.log",
        "",
    ]
    if report.ops_on_target < report.ops_total:
        lines += [
            NOT_ALL_MAPPED,
            f"Number of operations that will run on Edge TPU: {report.ops_on_target}",
            f"Number of operations that will run on CPU: {report.ops_total - report.ops_on_target}",
            "",
        ]
    if show_operations:
        lines += [_log_table(report), ""]
    else:
        lines.append("See the operation log file for individual operation details.")
    return "\n".join(lines + _child_process_lines(compiler, succeeded=True))


def _log_table(report: CompatibilityReport) -> str:
    """The operator table as the compiler prints it: custom operators as ``CUSTOM``."""
    custom = set(report.details.get("custom_ops", ()) or ())
    counts: dict[tuple[str, str], int] = {}
    for op in report.ops:
        key = ("CUSTOM" if op.op in custom else op.op, op.reason)
        counts[key] = counts.get(key, 0) + 1
    lines = [f"{'Operator':<31}{'Count':<11}Status", ""]
    lines += [f"{name:<31}{count:<11}{status}" for (name, status), count in counts.items()]
    return "\n".join(lines)


def _child_process_lines(compiler: table.Compiler, *, succeeded: bool) -> list[str]:
    if not compiler.child_process:
        return []
    return [
        "Compilation child process completed within timeout period.",
        "Compilation succeeded!" if succeeded else "Compilation failed!",
    ]


EDGETPU = Target(
    name="edgetpu",
    title="Edge TPU",
    description="Coral Edge TPU: the operators edgetpu_compiler maps, measured where it is "
    "installed, else predicted from Coral's published rules and real compilations (compiler "
    f"{table.default_compiler().release} / "
    f"runtime {table.DEFAULT_RUNTIME} unless compiler_version or runtime_version says otherwise)",
    analyze=analyze,
    accepts=("int8",),
    options=default_options(Settings),
)
