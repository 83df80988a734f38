"""The TensorFlow Lite GPU delegate's operator table, as data, and its per-operator checks.

Sources (tensorflow/tensorflow):

* ``tensorflow/lite/delegates/gpu/common/model_builder.cc``: ``NewOperationParser`` decides
  which operators have a GPU kernel at all (QUANTIZE and DEQUANTIZE only when quantized
  models are allowed), each parser's ``IsSupported`` adds a maximum operator version
  (``CheckMaxSupportedOpVersion``) and a few rules of its own (logical operators must feed a
  CAST to float; CAST from bool must come from a logical operator), and
  ``GetOpsToReplace`` / ``IsAllAllowedTensors`` add the tensor rules every operator obeys.
* ``tensorflow/lite/tools/versioning/gpu_compatibility.cc``: ``CheckGpuDelegateCompatibility``
  and its helpers (``CheckInputsOutputs``, ``CheckConvoultionInputOutput``,
  ``CheckStridesAndDilation``, ``CheckPooling2DGpuDelegateCompatibility``,
  ``CheckDepthwiseConvGpuDelegateCompatibility``, ``CheckAddMulBroadcastCompatibility``,
  ``CheckCumsumGpuDelegateCompatibility``, ``CheckSelectV2GpuDelegateCompatibility``,
  ``CheckOneHotGpuDelegateCompatibility``, ``CheckCustomOpsGpuDelegateCompatibility``),
  which the parsers call. At run time the delegate uses the standard broadcast rules, not
  the "enhanced" ones the offline analyzer assumes.

Operators that ``gpu_compatibility.cc`` lists but ``NewOperationParser`` has no parser for
(ADD_N, ATAN2, CEIL, GELU, SIGN, LOGICAL_AND, GATHER, EMBEDDING_LOOKUP,
DYNAMIC_UPDATE_SLICE, SELECT, PADV2, STABLEHLO_CLAMP) never reach the GPU: the delegate asks
the parser, and the fallback parser answers "Operation is not supported". The same holds
for BATCH_TO_SPACE_ND and SPACE_TO_BATCH_ND, whose parser classes exist in model_builder.cc
but are never returned.

Each row of :data:`OPS` holds an operator's checks and the fix that goes with them, so a
new operator is one entry. A check takes the operator and the shared graph view
and returns None when the operator passes, or the reason it does not, in plain words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..engine import Finding, Graph, builtin_option

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator, Tensor

FLOATS = ("float32", "float16")
QUANTIZED = ("int8", "uint8")
MAX_RANK = 4
"""``IsAllAllowedTensors`` rejects any tensor of rank 5 or more."""

LOGICAL_OPS = frozenset(
    {"GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL", "EQUAL", "NOT_EQUAL"}
)
"""``IsLogicalCode`` in model_builder.cc."""

# ActivationFunctionType in the flatbuffer schema; IsActivationSupported refuses SIGN_BIT.
_SIGN_BIT = 5
_WEIGHTS_FORMAT_DEFAULT = 0
_MIRROR_PAD_REFLECT = 0
_LSTM_FULL_KERNEL, _LSTM_BASIC_KERNEL = 0, 1
_ACTIVATION_TANH = 4


Check = Callable[["Operator", Graph], "str | None"]
"""``check(op, graph)``: None when the operator passes, else the reason it does not."""


GENERIC_CHECK_FIX = "Change the layer's options or operand shapes as the reason says"


@dataclasses.dataclass(frozen=True)
class OpRule:
    """One row of the table: the newest version the parser takes, the checks it runs, and
    what to change when a check fails."""

    max_version: int | None = None
    checks: tuple[Check, ...] = ()
    fix: str = GENERIC_CHECK_FIX
    quantized_only: bool = False
    """QUANTIZE and DEQUANTIZE get a parser only when quantized models are allowed."""


def _dims(tensor: Tensor) -> str:
    return "[" + ", ".join(str(d) for d in tensor.shape) + "]"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# --- input / output shape of the node -------------------------------------------------


def inputs_outputs(runtime: int, outputs: int) -> Check:
    """``CheckInputsOutputs``: exactly so many runtime (non-constant) inputs and outputs."""

    def check(op: Operator, graph: Graph) -> str | None:
        if graph.runtime_inputs(op) != runtime:
            return (
                f"{op.name} with {_count(graph.runtime_inputs(op), 'runtime input')}: the GPU "
                f"delegate needs exactly {runtime} (the others must be constant)"
            )
        if len(op.outputs) != outputs:
            return (
                f"{op.name} with {_count(len(op.outputs), 'output')}: the GPU delegate "
                f"needs exactly {outputs}"
            )
        return None

    return check


def inputs_consts_outputs(runtime: int, const: int, outputs: int) -> Check:
    """``CheckInputsConstsOutputs``: also the number of constant inputs."""
    io = inputs_outputs(runtime, outputs)

    def check(op: Operator, graph: Graph) -> str | None:
        if graph.constant_inputs(op) != const:
            return (
                f"{op.name} with {_count(graph.constant_inputs(op), 'constant input')}: the GPU "
                f"delegate needs exactly {const} here"
            )
        return io(op, graph)

    return check


def one_or_two_operands(op: Operator, graph: Graph) -> str | None:
    """Two-argument element-wise ops: two runtime inputs, or one runtime and one constant."""
    if inputs_consts_outputs(2, 0, 1)(op, graph) is None or inputs_consts_outputs(1, 1, 1)(op, graph) is None:
        return None
    return (
        f"{op.name} with {graph.runtime_inputs(op)} runtime and {graph.constant_inputs(op)} constant "
        "inputs: the GPU delegate takes two runtime inputs, or one runtime and one constant"
    )


def input_count(n: int) -> Check:
    def check(op: Operator, graph: Graph) -> str | None:
        if len(op.inputs) != n:
            return f"{op.name} with {_count(len(op.inputs), 'input')}: the GPU delegate needs {n}"
        return None

    return check


def activation_supported(op: Operator, graph: Graph) -> str | None:
    """``IsActivationSupported``: every fused activation but SIGN_BIT."""
    if builtin_option(op, "fusedActivationFunction") == _SIGN_BIT:
        return f"{op.name} with a fused SIGN_BIT activation is not supported by the GPU delegate"
    return None


def _positive(op: Operator, what: str, h_field: str, w_field: str) -> str | None:
    h, w = builtin_option(op, h_field), builtin_option(op, w_field)
    if h <= 0 or w <= 0:
        return f"{op.name} with {what} {h}x{w}: the GPU delegate needs positive values"
    return None


def strides_positive(op: Operator, graph: Graph) -> str | None:
    """``CheckStrides``."""
    return _positive(op, "strides", "strideH", "strideW")


def dilation_positive(op: Operator, graph: Graph) -> str | None:
    """``CheckDilation``."""
    return _positive(op, "dilation", "dilationHFactor", "dilationWFactor")


def kernel_positive(op: Operator, graph: Graph) -> str | None:
    """``CheckKernels``."""
    return _positive(op, "kernel", "filterHeight", "filterWidth")


def convolution_io(op: Operator, graph: Graph) -> str | None:
    """``CheckConvoultionInputOutput``: one or two runtime inputs, one output."""
    if graph.runtime_inputs(op) > 2:
        return (
            f"{op.name} with {graph.runtime_inputs(op)} runtime inputs: the GPU delegate takes "
            "the input and at most a runtime filter"
        )
    if len(op.outputs) != 1:
        return f"{op.name} with {len(op.outputs)} outputs: the GPU delegate needs one"
    if graph.runtime_inputs(op) == 1 and len(op.inputs) < 2:
        return f"{op.name} without a filter operand is not supported by the GPU delegate"
    return None


# --- per-operator rules (gpu_compatibility.cc) -----------------------------------------


def depthwise_conv(op: Operator, graph: Graph) -> str | None:
    """``CheckDepthwiseConvGpuDelegateCompatibility``: shapes must line up as 4-D NHWC."""
    x, w, out = graph.input(op, 0), graph.input(op, 1), graph.output(op)
    bias = graph.input(op, 2)
    for role, tensor in (("input", x), ("filter", w), ("output", out)):
        if tensor is None or len(tensor.shape) != 4:
            rank = "no" if tensor is None else f"a {len(tensor.shape)}-D"
            return f"DEPTHWISE_CONV_2D with {rank} {role}: the GPU delegate needs 4-D tensors"
    if x is None or w is None:  # returned above; this tells the type checker
        return None
    multiplier = builtin_option(op, "depthMultiplier")
    if x.shape[0] != out.shape[0]:
        return "DEPTHWISE_CONV_2D whose output batch differs from its input batch"
    if w.shape[3] != out.shape[3]:
        return "DEPTHWISE_CONV_2D whose filter depth differs from its output channels"
    if out.shape[3] != x.shape[3] * multiplier:
        return "DEPTHWISE_CONV_2D whose output channels are not input channels x depth_multiplier"
    if bias is not None and _elements(bias.shape) != out.shape[3]:
        return "DEPTHWISE_CONV_2D whose bias size differs from its output channels"
    if multiplier != 1 and x.shape[3] != 1:
        return (
            f"DEPTHWISE_CONV_2D with depth_multiplier {multiplier} on {x.shape[3]} input "
            "channels: the GPU delegate takes a multiplier other than 1 only for 1 input channel"
        )
    return None


def _elements(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def add_mul_broadcast(op: Operator, graph: Graph) -> str | None:
    """``CheckAddMulBroadcastCompatibility`` with the standard (run-time) flags."""
    a, b = graph.input(op, 0), graph.input(op, 1)
    if a is None or b is None or len(a.shape) <= 1 or len(b.shape) <= 1 or len(a.shape) == len(b.shape):
        return None
    longer, shorter = (a, b) if len(a.shape) >= len(b.shape) else (b, a)
    ld, sd = longer.shape, shorter.shape
    if len(ld) == 4 and len(sd) == 3 and ld[0] == 1:
        return None
    if len(ld) == 4 and len(sd) == 2 and ld[0] == 1 and sd == (1, 1):
        return None
    if len(ld) == 4 and len(sd) == 2 and ld[0] == sd[0] and ld[3] == sd[1]:
        return None
    return (
        f"{op.name} broadcasting {_dims(a)} with {_dims(b)}: the GPU delegate broadcasts "
        "different ranks only 3-D to 4-D with batch 1, [1, 1] to 4-D, or [b, c] to [b, h, w, c]"
    )


def two_inputs(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) != 2:
        return f"{op.name} with {len(op.inputs)} inputs: the GPU delegate needs two"
    return None


def mul_shapes(op: Operator, graph: Graph) -> str | None:
    """MUL: with equal ranks, one operand must be at least as large in every dimension."""
    a, b = graph.input(op, 0), graph.input(op, 1)
    if a is None or b is None:
        return None
    if len(a.shape) != len(b.shape):
        return add_mul_broadcast(op, graph)
    a_smaller = any(x < y for x, y in zip(a.shape, b.shape))
    b_smaller = any(y < x for x, y in zip(a.shape, b.shape))
    if a_smaller and b_smaller:
        return (
            f"MUL of {_dims(a)} by {_dims(b)}: the GPU delegate needs one operand at least "
            "as large as the other in every dimension (an outer product is not supported)"
        )
    return None


def cumsum(op: Operator, graph: Graph) -> str | None:
    """``CheckCumsumGpuDelegateCompatibility``: float data, constant int32 axis."""
    if len(op.inputs) != 2:
        return "CUMSUM without exactly two inputs is not supported by the GPU delegate"
    data, axis = graph.input(op, 0), graph.input(op, 1)
    if data is None or data.dtype not in FLOATS or graph.output(op).dtype != data.dtype:
        dtype = data.dtype if data else "no"
        return (
            f"CUMSUM of {dtype} data: the GPU delegate computes cumulative sums of float "
            "tensors only"
        )
    if axis is None or axis.dtype != "int32" or not axis.is_constant:
        return (
            "CUMSUM with a runtime or non-int32 axis: the GPU delegate needs a constant "
            "int32 axis"
        )
    return None


def one_hot(op: Operator, graph: Graph) -> str | None:
    """``CheckOneHotGpuDelegateCompatibility``."""
    indices, on, off = graph.input(op, 0), graph.input(op, 2), graph.input(op, 3)
    general = (
        "ONE_HOT on the GPU needs int32 indices, constant scalar float on/off values and "
        "the last axis"
    )
    if indices is None or indices.dtype != "int32" or on is None or off is None:
        return general
    axis = builtin_option(op, "axis", -1)
    if axis != -1 and (not indices.shape or axis != indices.shape[-1]):
        return general
    rank = len(indices.shape)
    for i in range(rank - 1):
        if rank > 3 and i == 0:
            continue
        if indices.shape[i] != 1:
            return (
                f"ONE_HOT with indices {_dims(indices)}: only batch and channels may exceed "
                "1 on the GPU"
            )
    for value in (on, off):
        if value.dtype != "float32" or not value.is_constant or len(value.shape) > 1:
            return general
        if value.shape and value.shape[0] > 1:
            return general
    return None


def select_v2(op: Operator, graph: Graph) -> str | None:
    """``CheckSelectV2GpuDelegateCompatibility``."""
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        return "SELECT_V2 without three inputs and one output is not supported by the GPU delegate"
    cond, then, other = graph.input(op, 0), graph.input(op, 1), graph.input(op, 2)
    if (
        cond is None
        or then is None
        or other is None
        or cond.dtype not in ("bool",) + FLOATS
        or then.dtype not in FLOATS
        or other.dtype not in FLOATS
    ):
        return "SELECT_V2 on the GPU needs a bool or float condition and float values"
    out_dims = graph.output(op).shape
    for role, tensor in (("if", then), ("else", other)):
        if tensor.shape and tensor.shape != out_dims and (len(tensor.shape) > 1 or tensor.shape[0] > 1):
            return (
                f"SELECT_V2 whose {role} tensor {_dims(tensor)} neither matches the output "
                f"{_dims(graph.output(op))} nor is a scalar: the GPU delegate does not broadcast it"
            )
        if tensor.is_constant and len(tensor.shape) == 2:
            return (
                f"SELECT_V2 with a constant 2-D {role} tensor is not supported by the GPU "
                "delegate"
            )
    return None


def pooling(op: Operator, graph: Graph) -> str | None:
    """``CheckPooling2DGpuDelegateCompatibility`` for the builtin pooling operators."""
    return (
        inputs_outputs(1, 1)(op, graph)
        or kernel_positive(op, graph)
        or strides_positive(op, graph)
        or activation_supported(op, graph)
    )


def cast(op: Operator, graph: Graph) -> str | None:
    """CAST: bool<->float, or between float32 and int32; from bool only after a comparison."""
    src, dst = graph.input(op, 0), graph.output(op)
    if src is None:
        return "CAST without an input is not supported by the GPU delegate"
    if src.dtype == "bool" and dst.dtype in FLOATS:
        producers = graph.producers(src.index)
        consumers = graph.consumers(src.index)
        if len(producers) != 1 or len(consumers) != 1 or producers[0].name not in LOGICAL_OPS:
            return (
                "CAST from bool runs on the GPU only right after a comparison "
                "(GREATER, LESS, EQUAL...) whose result nothing else reads"
            )
        return None
    if src.dtype in FLOATS and dst.dtype == "bool":
        return None
    if src.dtype in ("float32", "int32") and dst.dtype in ("float32", "int32"):
        return None
    return f"CAST from {src.dtype} to {dst.dtype} is not supported by the GPU delegate"


def logical_feeds_cast(op: Operator, graph: Graph) -> str | None:
    """Comparisons (model_builder.cc ``ElementwiseOperationParser``): only into a float CAST."""
    consumers = graph.consumers(graph.output(op).index)
    producers = graph.producers(graph.output(op).index)
    if len(consumers) == 1 and len(producers) == 1 and consumers[0].name == "CAST":
        return None
    return (
        f"{op.name} runs on the GPU only when its result goes straight into a single CAST "
        "to float"
    )


def dequantize(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        return "DEQUANTIZE without one input and one output is not supported by the GPU delegate"
    src = graph.input(op, 0)
    if src is not None and src.dtype == "int16":
        return "DEQUANTIZE of int16 values is not supported by the GPU delegate"
    return None


def fully_connected(op: Operator, graph: Graph) -> str | None:
    """FULLY_CONNECTED: default weight layout, a runtime input, keep_num_dims only when the
    rank stays the same."""
    if builtin_option(op, "weightsFormat") != _WEIGHTS_FORMAT_DEFAULT:
        return "FULLY_CONNECTED with shuffled weights is not supported by the GPU delegate"
    if graph.runtime_inputs(op) > 2:
        return "FULLY_CONNECTED with a runtime bias is not supported by the GPU delegate"
    x = graph.input(op, 0)
    if x is not None and x.is_constant:
        return "FULLY_CONNECTED with a constant input is not supported by the GPU delegate"
    if builtin_option(op, "keepNumDims", False) and x is not None and len(x.shape) != len(graph.output(op).shape):
        return (
            "FULLY_CONNECTED with keep_num_dims whose input and output ranks differ is "
            "not supported by the GPU delegate"
        )
    return None


def axes_int32_const(index: int) -> Check:
    """``CheckAxesAreInt32Const``."""

    def check(op: Operator, graph: Graph) -> str | None:
        axes = graph.input(op, index)
        if axes is None or not axes.is_constant:
            return f"{op.name} with runtime axes: the GPU delegate needs constant axes"
        if axes.dtype != "int32":
            return f"{op.name} with {axes.dtype} axes: the GPU delegate needs int32 axes"
        return None

    return check


def block_size(op: Operator, graph: Graph) -> str | None:
    size = builtin_option(op, "blockSize")
    if size == 1:
        return f"{op.name} with block size 1 is a no-op the GPU delegate refuses"
    if size < 1:
        return f"{op.name} needs a block size above 1 on the GPU"
    return None


def slice_rank(min_inputs: int) -> Check:
    """SLICE / STRIDED_SLICE: enough operands, and a 3-D or 4-D input."""

    def check(op: Operator, graph: Graph) -> str | None:
        if len(op.inputs) < min_inputs:
            return f"{op.name} with {len(op.inputs)} inputs: the GPU delegate needs {min_inputs}"
        x = graph.input(op, 0)
        if x is None or len(x.shape) not in (3, 4):
            rank = len(x.shape) if x else 0
            return (
                f"{op.name} of a {rank}-D tensor: the GPU delegate slices 3-D and "
                "4-D tensors only"
            )
        return None

    return check


def strided_slice_masks(op: Operator, graph: Graph) -> str | None:
    for field, what in (
        ("ellipsisMask", "ellipsis_mask"),
        ("newAxisMask", "new_axis_mask"),
        ("shrinkAxisMask", "shrink_axis_mask"),
    ):
        if builtin_option(op, field):
            return (
                f"STRIDED_SLICE with {what} (indexing such as x[:, 0] or x[..., None]) is "
                "not supported by the GPU delegate"
            )
    return None


def softmax_beta(op: Operator, graph: Graph) -> str | None:
    beta = builtin_option(op, "beta", 0.0)
    if beta != 1:
        return f"SOFTMAX with beta {beta:g}: the GPU delegate supports beta 1 only"
    return None


def resize_bilinear(op: Operator, graph: Graph) -> str | None:
    if builtin_option(op, "alignCorners", False) and builtin_option(op, "halfPixelCenters", False):
        return (
            "RESIZE_BILINEAR with both align_corners and half_pixel_centers is not supported "
            "by the GPU delegate"
        )
    return None


def pad(op: Operator, graph: Graph) -> str | None:
    """PAD / MIRROR_PAD: reflect mode only, and a 4x2 or 3x2 paddings tensor."""
    if op.name == "MIRROR_PAD" and builtin_option(op, "mode") != _MIRROR_PAD_REFLECT:
        return "MIRROR_PAD in SYMMETRIC mode: the GPU delegate supports REFLECT padding only"
    problem = inputs_outputs(1, 1)(op, graph)
    if problem:
        return problem
    paddings = graph.input(op, 1)
    if paddings is None:
        return f"{op.name} without a paddings tensor is not supported by the GPU delegate"
    if len(paddings.shape) != 2 or paddings.shape[0] not in (3, 4) or paddings.shape[1] != 2:
        return (
            f"{op.name} with paddings {_dims(paddings)}: the GPU delegate pads 3-D and "
            "4-D tensors only (a 3x2 or 4x2 paddings tensor)"
        )
    return None


def lstm(op: Operator, graph: Graph) -> str | None:
    kernel = builtin_option(op, "kernelType", _LSTM_FULL_KERNEL)
    activation = builtin_option(op, "fusedActivationFunction")
    if kernel == _LSTM_FULL_KERNEL:
        if len(op.inputs) not in (20, 24):
            return f"LSTM with {len(op.inputs)} inputs: the GPU delegate needs 20 or 24"
        if len(op.outputs) != 1:
            return "LSTM with more than one output is not supported by the GPU delegate"
        if activation != _ACTIVATION_TANH:  # SIGMOID is not in the flatbuffer's enum
            return "LSTM on the GPU needs a sigmoid or tanh activation"
        return None
    if kernel == _LSTM_BASIC_KERNEL:
        problem = inputs_consts_outputs(3, 2, 4)(op, graph)
        if problem:
            return problem
        if activation != _ACTIVATION_TANH:
            return "basic LSTM kernel on the GPU supports the TANH activation only"
        if builtin_option(op, "cellClip", 0.0) != 0.0 or builtin_option(op, "projClip", 0.0) != 0.0:
            return "LSTM with cell or projection clipping is not supported by the GPU delegate"
    return None


def batch_matmul(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return "BATCH_MATMUL without two inputs and one output is not supported by the GPU delegate"
    return None


def transpose_conv_custom(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) < 2:
        return "Convolution2DTransposeBias without weights is not supported by the GPU delegate"
    return None


# --- the table ------------------------------------------------------------------------

_ONE_ARG = (inputs_consts_outputs(1, 0, 1),)
_TWO_ARG = (one_or_two_operands,)
_TWO_ARG_ACT = (one_or_two_operands, activation_supported)
_CONV = (convolution_io, strides_positive, dilation_positive, activation_supported)
_REDUCE = (inputs_outputs(1, 1), axes_int32_const(1))

OPS: dict[str, OpRule] = {
    # element-wise, one argument (ElementwiseOperationParser: version <= 2)
    **{
        name: OpRule(2, _ONE_ARG)
        for name in (
            "ABS", "COS", "ELU", "EXP", "FLOOR", "LOG", "LOGISTIC", "NEG", "RSQRT",
            "SIN", "SQRT", "SQUARE", "TANH",
        )
    },
    # element-wise, two arguments
    **{
        name: OpRule(2, _TWO_ARG)
        for name in ("FLOOR_DIV", "FLOOR_MOD", "MAXIMUM", "MINIMUM", "POW", "SQUARED_DIFFERENCE")
    },
    "DIV": OpRule(2, _TWO_ARG_ACT),
    "SUB": OpRule(2, _TWO_ARG_ACT),
    **{
        name: OpRule(2, (logical_feeds_cast,), "Follow the comparison directly with a cast to float")
        for name in sorted(LOGICAL_OPS)
    },
    "ADD": OpRule(
        2,
        (two_inputs, add_mul_broadcast),
        "Reshape both operands to the same rank (4-D [1, h, w, c] with batch 1) before the add",
    ),
    "MUL": OpRule(
        3,
        (two_inputs, mul_shapes, activation_supported),
        "Reshape both operands to the same rank, with one operand at least as large as the "
        "other in every dimension",
    ),
    # convolution and pooling
    "CONV_2D": OpRule(6, _CONV),
    "DEPTHWISE_CONV_2D": OpRule(
        6, _CONV + (depthwise_conv,), "Use depth_multiplier=1 (or a single input channel)"
    ),
    "TRANSPOSE_CONV": OpRule(3, (convolution_io, strides_positive)),
    "AVERAGE_POOL_2D": OpRule(2, (pooling,)),
    "MAX_POOL_2D": OpRule(2, (pooling,)),
    "FULLY_CONNECTED": OpRule(
        9, (fully_connected,), "Feed the Dense layer a runtime tensor and keep its default weight layout"
    ),
    "BATCH_MATMUL": OpRule(None, (batch_matmul,)),
    # activations
    "RELU": OpRule(2),
    "RELU6": OpRule(2),
    "LEAKY_RELU": OpRule(2),
    "RELU_N1_TO_1": OpRule(None),
    "PRELU": OpRule(1),
    "HARD_SWISH": OpRule(None, (inputs_outputs(1, 1),)),
    "SOFTMAX": OpRule(
        2, (softmax_beta,), "Use a plain softmax (beta 1); scale the logits with a separate multiply"
    ),
    # shape and data movement
    "RESHAPE": OpRule(1, (inputs_outputs(1, 1),)),
    "CONCATENATION": OpRule(2),
    "PACK": OpRule(None),
    "SPLIT": OpRule(None),
    "SPLIT_V": OpRule(None),
    "SLICE": OpRule(2, (slice_rank(3),), "Reshape to 3-D or 4-D before slicing"),
    "STRIDED_SLICE": OpRule(
        2,
        (strided_slice_masks, slice_rank(4)),
        "Slice with ranges (x[:, 0:1]) followed by a Reshape instead of integer indexing "
        "(x[:, 0]) or new axes, on 3-D or 4-D tensors",
    ),
    "TILE": OpRule(None, (inputs_outputs(1, 1),)),
    "TRANSPOSE": OpRule(2, (inputs_outputs(1, 1),)),
    "PAD": OpRule(2, (pad,), "Pad 3-D or 4-D tensors only"),
    "MIRROR_PAD": OpRule(2, (pad,), "Use REFLECT mirror padding, on 3-D or 4-D tensors"),
    "DEPTH_TO_SPACE": OpRule(None, (inputs_outputs(1, 1), block_size)),
    "SPACE_TO_DEPTH": OpRule(2, (inputs_outputs(1, 1), block_size)),
    "RESIZE_BILINEAR": OpRule(3, (inputs_outputs(1, 1), resize_bilinear)),
    "RESIZE_NEAREST_NEIGHBOR": OpRule(3, (inputs_outputs(1, 1),)),
    # reductions
    "MEAN": OpRule(None, (inputs_consts_outputs(1, 1, 1), axes_int32_const(1)), "Reduce over constant axes"),
    "SUM": OpRule(None, _REDUCE),
    "REDUCE_MAX": OpRule(None, _REDUCE),
    "REDUCE_MIN": OpRule(None, _REDUCE),
    "REDUCE_PROD": OpRule(None, _REDUCE),
    # others
    "CAST": OpRule(
        None,
        (inputs_outputs(1, 1), cast),
        "Cast only between float32 and int32, or a comparison's result to float",
    ),
    "CUMSUM": OpRule(1, (cumsum,), "Run the cumulative sum on float data with a constant axis"),
    "ONE_HOT": OpRule(1, (one_hot,)),
    "SELECT_V2": OpRule(1, (select_v2,)),
    "LSTM": OpRule(4, (lstm,)),
    "DENSIFY": OpRule(1, (inputs_outputs(0, 1),)),
    "QUANTIZE": OpRule(2, (inputs_outputs(1, 1),), quantized_only=True),
    "DEQUANTIZE": OpRule(3, (dequantize,), quantized_only=True),
    # custom operators with GPU parsers
    "Convolution2DTransposeBias": OpRule(None, (transpose_conv_custom,)),
    "MaxPoolingWithArgmax2D": OpRule(None, (inputs_outputs(1, 2),)),
    "MaxUnpooling2D": OpRule(None, (inputs_outputs(2, 1),)),
    "Resampler": OpRule(None, (inputs_outputs(2, 1),)),
}
"""Operator name (custom code for custom operators) -> the rule its GPU parser applies."""

LISTED_WITHOUT_KERNEL = frozenset(
    {
        "ADD_N", "ATAN2", "CEIL", "GELU", "SIGN", "LOGICAL_AND", "GATHER",
        "EMBEDDING_LOOKUP", "DYNAMIC_UPDATE_SLICE", "SELECT", "PADV2", "STABLEHLO_CLAMP",
    }
)
"""In gpu_compatibility.cc's list, but with no parser in model_builder.cc."""

MEDIAPIPE_CUSTOM_OPS = frozenset(
    {
        "Landmarks2TransformMatrix", "Landmarks2TransformMatrixV2", "TransformLandmarks",
        "TransformTensor", "TransformTensorBilinear",
    }
)
"""MediaPipe's custom operators. The stock delegate sends every custom operator not in
:data:`OPS` to ``NewCustomOperationParser``, whose default (``default/custom_parsers.cc``)
answers "unimplemented"; MediaPipe's builds link the variant in
``delegates/gpu/common/mediapipe/``, which has parsers for exactly these."""

MEDIAPIPE_FIX = (
    "Run the model with MediaPipe's GPU inference, which has kernels for MediaPipe's custom "
    "operators; with the stock TFLite GPU delegate they run on the CPU and split the GPU "
    "partition"
)

GENERIC_UNSUPPORTED_FIX = (
    "Replace the layer that produces {op} with operators the GPU delegate has, or move it "
    "to the start or end of the model so the rest forms one GPU partition"
)
_DILATION_FIX = (
    "Dilated Conv2D layers convert to SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND around the "
    "convolution when the batch size is unknown; give the Input a fixed batch_size so "
    "the converter folds the dilation into CONV_2D, or use dilation_rate=1"
)
UNSUPPORTED_FIXES: dict[str, str] = {
    "TOPK_V2": "Take the top-k outside the model (after its output), so the rest stays on the GPU",
    "ARG_MAX": "Take the argmax outside the model (after its output)",
    "ARG_MIN": "Take the argmin outside the model (after its output)",
    "SHAPE": "Use static shapes (a fixed batch size) so the model needs no SHAPE operator",
    "GATHER": "Replace tf.gather with a constant selection (slice or matmul with one-hot weights)",
    "SPACE_TO_BATCH_ND": _DILATION_FIX,
    "BATCH_TO_SPACE_ND": _DILATION_FIX,
}
"""What to do about an operator without a row in :data:`OPS` (else the generic fix)."""

INT16_FIX = "int16x8 models cannot use the GPU delegate; convert with float16 or full_int8"


def allowed_types(op: Operator, quantized: bool) -> tuple[frozenset[str], frozenset[str]]:
    """The runtime tensor types ``GetOpsToReplace`` lets in and out of this operator."""
    ins = set(FLOATS)
    outs = set(FLOATS)
    if quantized:
        ins |= set(QUANTIZED)
        outs |= set(QUANTIZED)
    if op.name in LOGICAL_OPS:
        outs.add("bool")
    if op.name == "CAST":
        ins |= {"bool", "float32", "int32"}
        outs |= {"float32", "int32"}
    if op.name == "ONE_HOT":
        ins.add("int32")
    return frozenset(ins), frozenset(outs)


def first_refused_tensor(
    op: Operator, graph: Graph, ins: frozenset[str], outs: frozenset[str]
) -> tuple[str, Tensor, bool] | None:
    """``IsAllAllowedTensors``'s walk: the first (role, tensor, too_many_dims) of ``op``
    with more than :data:`MAX_RANK` dimensions, or a runtime tensor of a type not allowed."""
    for role, tensors, allowed in (
        ("input", graph.present_inputs(op), ins),
        ("output", list(graph.outputs(op)), outs),
    ):
        for tensor in tensors:
            if len(tensor.shape) > MAX_RANK:
                return role, tensor, True
            if not tensor.is_constant and tensor.dtype not in allowed:
                return role, tensor, False
    return None


RANK_FIX = "Keep tensors at 4 dimensions or fewer: fold extra axes into batch or channels"


def tensor_rules(op: Operator, graph: Graph, quantized: bool) -> Finding | None:
    """``IsAllAllowedTensors``: rank at most 4 everywhere, allowed types on runtime tensors."""
    ins, outs = allowed_types(op, quantized)
    refused = first_refused_tensor(op, graph, ins, outs)
    if refused is None:
        return None
    role, tensor, too_many_dims = refused
    if too_many_dims:
        return Finding(
            f"{op.name} with a {len(tensor.shape)}-D {role}: the GPU delegate handles "
            f"tensors of up to {MAX_RANK} dimensions",
            RANK_FIX,
        )
    if tensor.dtype == "int16":
        return Finding(f"{op.name} with int16 tensors: the GPU delegate does not support int16", INT16_FIX)
    if tensor.dtype in QUANTIZED and not quantized:
        return Finding(
            f"{op.name} with {tensor.dtype} tensors: quantized models are switched "
            "off for this GPU delegate",
            "Set quantized_models=True, or convert with float16",
        )
    allowed = ins if role == "input" else outs
    article = "an" if tensor.dtype[0] in "aeiou" else "a"
    return Finding(
        f"{op.name} with {article} {tensor.dtype} runtime {role}: the GPU delegate "
        f"takes {', '.join(sorted(allowed))} tensors here",
        "Keep integer or boolean computations (shapes, indices, argmax) out of the model, "
        "or at its start or end, so they do not split the GPU partition",
    )
