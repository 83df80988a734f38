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

Every check takes an :class:`OpSig` and returns None when the operator passes, or the
reason it does not, in plain words.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..model.flatbuffer import Operator

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


@dataclasses.dataclass(frozen=True)
class Spec:
    """One operand as ``OpSignatureTensorSpec`` sees it: type, dims, constant or not."""

    index: int
    dtype: str
    dims: tuple[int, ...]
    is_const: bool

    @property
    def rank(self) -> int:
        return len(self.dims)


@dataclasses.dataclass(frozen=True)
class OpSig:
    """What a check may look at: the operator, its operands, and its neighbours."""

    op: Operator
    inputs: tuple[Spec | None, ...]
    """Operands in order; None where the model omits an optional operand (index -1)."""
    outputs: tuple[Spec, ...]
    consumers: Callable[[int], Sequence[Operator]]
    producers: Callable[[int], Sequence[Operator]]

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def options(self) -> Any:
        return self.op.options

    def option(self, field: str, default: Any = 0) -> Any:
        """A builtin option, with the schema default when the model stores no options."""
        value = getattr(self.op.options, field, None) if self.op.options is not None else None
        return default if value is None else value

    def input(self, i: int) -> Spec | None:
        return self.inputs[i] if i < len(self.inputs) else None

    @property
    def present_inputs(self) -> list[Spec]:
        return [s for s in self.inputs if s is not None]

    @property
    def runtime_inputs(self) -> int:
        """``GetNumberOfRuntimeInputs``: inputs that are neither constant nor omitted."""
        return sum(not s.is_const for s in self.present_inputs)

    @property
    def const_inputs(self) -> int:
        return sum(s.is_const for s in self.present_inputs)


Check = Callable[[OpSig], "str | None"]


@dataclasses.dataclass(frozen=True)
class OpRule:
    """One row of the table: the newest version the parser takes, and the checks it runs."""

    max_version: int | None = None
    checks: tuple[Check, ...] = ()
    quantized_only: bool = False
    """QUANTIZE and DEQUANTIZE get a parser only when quantized models are allowed."""


def _dims(spec: Spec) -> str:
    return "[" + ", ".join(str(d) for d in spec.dims) + "]"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


# --- input / output shape of the node -------------------------------------------------


def inputs_outputs(runtime: int, outputs: int) -> Check:
    """``CheckInputsOutputs``: exactly so many runtime (non-constant) inputs and outputs."""

    def check(sig: OpSig) -> str | None:
        if sig.runtime_inputs != runtime:
            return (
                f"{sig.name} with {_count(sig.runtime_inputs, 'runtime input')}: the GPU "
                f"delegate needs exactly {runtime} (the others must be constant)"
            )
        if len(sig.outputs) != outputs:
            return (
                f"{sig.name} with {_count(len(sig.outputs), 'output')}: the GPU delegate "
                f"needs exactly {outputs}"
            )
        return None

    return check


def inputs_consts_outputs(runtime: int, const: int, outputs: int) -> Check:
    """``CheckInputsConstsOutputs``: also the number of constant inputs."""
    io = inputs_outputs(runtime, outputs)

    def check(sig: OpSig) -> str | None:
        if sig.const_inputs != const:
            return (
                f"{sig.name} with {_count(sig.const_inputs, 'constant input')}: the GPU "
                f"delegate needs exactly {const} here"
            )
        return io(sig)

    return check


def one_or_two_operands(sig: OpSig) -> str | None:
    """Two-argument element-wise ops: two runtime inputs, or one runtime and one constant."""
    if inputs_consts_outputs(2, 0, 1)(sig) is None or inputs_consts_outputs(1, 1, 1)(sig) is None:
        return None
    return (
        f"{sig.name} with {sig.runtime_inputs} runtime and {sig.const_inputs} constant "
        "inputs: the GPU delegate takes two runtime inputs, or one runtime and one constant"
    )


def input_count(n: int) -> Check:
    def check(sig: OpSig) -> str | None:
        if len(sig.inputs) != n:
            return f"{sig.name} with {_count(len(sig.inputs), 'input')}: the GPU delegate needs {n}"
        return None

    return check


def activation_supported(sig: OpSig) -> str | None:
    """``IsActivationSupported``: every fused activation but SIGN_BIT."""
    if sig.option("fusedActivationFunction") == _SIGN_BIT:
        return f"{sig.name} with a fused SIGN_BIT activation is not supported by the GPU delegate"
    return None


def _positive(sig: OpSig, what: str, h_field: str, w_field: str) -> str | None:
    h, w = sig.option(h_field), sig.option(w_field)
    if h <= 0 or w <= 0:
        return f"{sig.name} with {what} {h}x{w}: the GPU delegate needs positive values"
    return None


def strides_positive(sig: OpSig) -> str | None:
    """``CheckStrides``."""
    return _positive(sig, "strides", "strideH", "strideW")


def dilation_positive(sig: OpSig) -> str | None:
    """``CheckDilation``."""
    return _positive(sig, "dilation", "dilationHFactor", "dilationWFactor")


def kernel_positive(sig: OpSig) -> str | None:
    """``CheckKernels``."""
    return _positive(sig, "kernel", "filterHeight", "filterWidth")


def convolution_io(sig: OpSig) -> str | None:
    """``CheckConvoultionInputOutput``: one or two runtime inputs, one output."""
    if sig.runtime_inputs > 2:
        return (
            f"{sig.name} with {sig.runtime_inputs} runtime inputs: the GPU delegate takes "
            "the input and at most a runtime filter"
        )
    if len(sig.outputs) != 1:
        return f"{sig.name} with {len(sig.outputs)} outputs: the GPU delegate needs one"
    if sig.runtime_inputs == 1 and len(sig.inputs) < 2:
        return f"{sig.name} without a filter operand is not supported by the GPU delegate"
    return None


# --- per-operator rules (gpu_compatibility.cc) -----------------------------------------


def depthwise_conv(sig: OpSig) -> str | None:
    """``CheckDepthwiseConvGpuDelegateCompatibility``: shapes must line up as 4-D NHWC."""
    x, w, out = sig.input(0), sig.input(1), sig.outputs[0]
    bias = sig.input(2)
    for role, spec in (("input", x), ("filter", w), ("output", out)):
        if spec is None or spec.rank != 4:
            rank = "no" if spec is None else f"a {spec.rank}-D"
            return f"DEPTHWISE_CONV_2D with {rank} {role}: the GPU delegate needs 4-D tensors"
    multiplier = sig.option("depthMultiplier")
    if x.dims[0] != out.dims[0]:
        return "DEPTHWISE_CONV_2D whose output batch differs from its input batch"
    if w.dims[3] != out.dims[3]:
        return "DEPTHWISE_CONV_2D whose filter depth differs from its output channels"
    if out.dims[3] != x.dims[3] * multiplier:
        return "DEPTHWISE_CONV_2D whose output channels are not input channels x depth_multiplier"
    if bias is not None and _elements(bias.dims) != out.dims[3]:
        return "DEPTHWISE_CONV_2D whose bias size differs from its output channels"
    if multiplier != 1 and x.dims[3] != 1:
        return (
            f"DEPTHWISE_CONV_2D with depth_multiplier {multiplier} on {x.dims[3]} input "
            "channels: the GPU delegate takes a multiplier other than 1 only for 1 input channel"
        )
    return None


def _elements(dims: Sequence[int]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def add_mul_broadcast(sig: OpSig) -> str | None:
    """``CheckAddMulBroadcastCompatibility`` with the standard (run-time) flags."""
    a, b = sig.input(0), sig.input(1)
    if a is None or b is None or a.rank <= 1 or b.rank <= 1 or a.rank == b.rank:
        return None
    longer, shorter = (a, b) if a.rank >= b.rank else (b, a)
    ld, sd = longer.dims, shorter.dims
    if len(ld) == 4 and len(sd) == 3 and ld[0] == 1:
        return None
    if len(ld) == 4 and len(sd) == 2 and ld[0] == 1 and sd == (1, 1):
        return None
    if len(ld) == 4 and len(sd) == 2 and ld[0] == sd[0] and ld[3] == sd[1]:
        return None
    return (
        f"{sig.name} broadcasting {_dims(a)} with {_dims(b)}: the GPU delegate broadcasts "
        "different ranks only 3-D to 4-D with batch 1, [1, 1] to 4-D, or [b, c] to [b, h, w, c]"
    )


def two_inputs(sig: OpSig) -> str | None:
    if len(sig.inputs) != 2:
        return f"{sig.name} with {len(sig.inputs)} inputs: the GPU delegate needs two"
    return None


def mul_shapes(sig: OpSig) -> str | None:
    """MUL: with equal ranks, one operand must be at least as large in every dimension."""
    a, b = sig.input(0), sig.input(1)
    if a is None or b is None:
        return None
    if a.rank != b.rank:
        return add_mul_broadcast(sig)
    a_smaller = any(x < y for x, y in zip(a.dims, b.dims))
    b_smaller = any(y < x for x, y in zip(a.dims, b.dims))
    if a_smaller and b_smaller:
        return (
            f"MUL of {_dims(a)} by {_dims(b)}: the GPU delegate needs one operand at least "
            "as large as the other in every dimension (an outer product is not supported)"
        )
    return None


def cumsum(sig: OpSig) -> str | None:
    """``CheckCumsumGpuDelegateCompatibility``: float data, constant int32 axis."""
    if len(sig.inputs) != 2:
        return "CUMSUM without exactly two inputs is not supported by the GPU delegate"
    data, axis = sig.input(0), sig.input(1)
    if data is None or data.dtype not in FLOATS or sig.outputs[0].dtype != data.dtype:
        dtype = data.dtype if data else "no"
        return (
            f"CUMSUM of {dtype} data: the GPU delegate computes cumulative sums of float "
            "tensors only"
        )
    if axis is None or axis.dtype != "int32" or not axis.is_const:
        return (
            "CUMSUM with a runtime or non-int32 axis: the GPU delegate needs a constant "
            "int32 axis"
        )
    return None


def one_hot(sig: OpSig) -> str | None:
    """``CheckOneHotGpuDelegateCompatibility``."""
    indices, on, off = sig.input(0), sig.input(2), sig.input(3)
    general = (
        "ONE_HOT on the GPU needs int32 indices, constant scalar float on/off values and "
        "the last axis"
    )
    if indices is None or indices.dtype != "int32" or on is None or off is None:
        return general
    axis = sig.option("axis", -1)
    if axis != -1 and (not indices.dims or axis != indices.dims[-1]):
        return general
    rank = indices.rank
    for i in range(rank - 1):
        if rank > 3 and i == 0:
            continue
        if indices.dims[i] != 1:
            return (
                f"ONE_HOT with indices {_dims(indices)}: only batch and channels may exceed "
                "1 on the GPU"
            )
    for value in (on, off):
        if value.dtype != "float32" or not value.is_const or value.rank > 1:
            return general
        if value.dims and value.dims[0] > 1:
            return general
    return None


def select_v2(sig: OpSig) -> str | None:
    """``CheckSelectV2GpuDelegateCompatibility``."""
    if len(sig.inputs) != 3 or len(sig.outputs) != 1:
        return "SELECT_V2 without three inputs and one output is not supported by the GPU delegate"
    cond, then, other = sig.input(0), sig.input(1), sig.input(2)
    if (
        cond is None
        or then is None
        or other is None
        or cond.dtype not in ("bool",) + FLOATS
        or then.dtype not in FLOATS
        or other.dtype not in FLOATS
    ):
        return "SELECT_V2 on the GPU needs a bool or float condition and float values"
    out_dims = sig.outputs[0].dims
    for role, spec in (("if", then), ("else", other)):
        if spec.dims and spec.dims != out_dims and (spec.rank > 1 or spec.dims[0] > 1):
            return (
                f"SELECT_V2 whose {role} tensor {_dims(spec)} neither matches the output "
                f"{_dims(sig.outputs[0])} nor is a scalar: the GPU delegate does not broadcast it"
            )
        if spec.is_const and spec.rank == 2:
            return (
                f"SELECT_V2 with a constant 2-D {role} tensor is not supported by the GPU "
                "delegate"
            )
    return None


def pooling(sig: OpSig) -> str | None:
    """``CheckPooling2DGpuDelegateCompatibility`` for the builtin pooling operators."""
    return (
        inputs_outputs(1, 1)(sig)
        or kernel_positive(sig)
        or strides_positive(sig)
        or activation_supported(sig)
    )


def cast(sig: OpSig) -> str | None:
    """CAST: bool<->float, or between float32 and int32; from bool only after a comparison."""
    src, dst = sig.input(0), sig.outputs[0]
    if src is None:
        return "CAST without an input is not supported by the GPU delegate"
    if src.dtype == "bool" and dst.dtype in FLOATS:
        producers = sig.producers(src.index)
        consumers = sig.consumers(src.index)
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


def logical_feeds_cast(sig: OpSig) -> str | None:
    """Comparisons (model_builder.cc ``ElementwiseOperationParser``): only into a float CAST."""
    consumers = sig.consumers(sig.outputs[0].index)
    producers = sig.producers(sig.outputs[0].index)
    if len(consumers) == 1 and len(producers) == 1 and consumers[0].name == "CAST":
        return None
    return (
        f"{sig.name} runs on the GPU only when its result goes straight into a single CAST "
        "to float"
    )


def dequantize(sig: OpSig) -> str | None:
    if len(sig.inputs) != 1 or len(sig.outputs) != 1:
        return "DEQUANTIZE without one input and one output is not supported by the GPU delegate"
    src = sig.input(0)
    if src is not None and src.dtype == "int16":
        return "DEQUANTIZE of int16 values is not supported by the GPU delegate"
    return None


def fully_connected(sig: OpSig) -> str | None:
    """FULLY_CONNECTED: default weight layout, a runtime input, keep_num_dims only when the
    rank stays the same."""
    if sig.option("weightsFormat") != _WEIGHTS_FORMAT_DEFAULT:
        return "FULLY_CONNECTED with shuffled weights is not supported by the GPU delegate"
    if sig.runtime_inputs > 2:
        return "FULLY_CONNECTED with a runtime bias is not supported by the GPU delegate"
    x = sig.input(0)
    if x is not None and x.is_const:
        return "FULLY_CONNECTED with a constant input is not supported by the GPU delegate"
    if sig.option("keepNumDims", False) and x is not None and x.rank != sig.outputs[0].rank:
        return (
            "FULLY_CONNECTED with keep_num_dims whose input and output ranks differ is "
            "not supported by the GPU delegate"
        )
    return None


def axes_int32_const(index: int) -> Check:
    """``CheckAxesAreInt32Const``."""

    def check(sig: OpSig) -> str | None:
        axes = sig.input(index)
        if axes is None or not axes.is_const:
            return f"{sig.name} with runtime axes: the GPU delegate needs constant axes"
        if axes.dtype != "int32":
            return f"{sig.name} with {axes.dtype} axes: the GPU delegate needs int32 axes"
        return None

    return check


def block_size(sig: OpSig) -> str | None:
    size = sig.option("blockSize")
    if size == 1:
        return f"{sig.name} with block size 1 is a no-op the GPU delegate refuses"
    if size < 1:
        return f"{sig.name} needs a block size above 1 on the GPU"
    return None


def slice_rank(min_inputs: int) -> Check:
    """SLICE / STRIDED_SLICE: enough operands, and a 3-D or 4-D input."""

    def check(sig: OpSig) -> str | None:
        if len(sig.inputs) < min_inputs:
            return f"{sig.name} with {len(sig.inputs)} inputs: the GPU delegate needs {min_inputs}"
        x = sig.input(0)
        if x is None or x.rank not in (3, 4):
            rank = x.rank if x else 0
            return (
                f"{sig.name} of a {rank}-D tensor: the GPU delegate slices 3-D and "
                "4-D tensors only"
            )
        return None

    return check


def strided_slice_masks(sig: OpSig) -> str | None:
    for field, what in (
        ("ellipsisMask", "ellipsis_mask"),
        ("newAxisMask", "new_axis_mask"),
        ("shrinkAxisMask", "shrink_axis_mask"),
    ):
        if sig.option(field):
            return (
                f"STRIDED_SLICE with {what} (indexing such as x[:, 0] or x[..., None]) is "
                "not supported by the GPU delegate"
            )
    return None


def softmax_beta(sig: OpSig) -> str | None:
    beta = sig.option("beta", 0.0)
    if beta != 1:
        return f"SOFTMAX with beta {beta:g}: the GPU delegate supports beta 1 only"
    return None


def resize_bilinear(sig: OpSig) -> str | None:
    if sig.option("alignCorners", False) and sig.option("halfPixelCenters", False):
        return (
            "RESIZE_BILINEAR with both align_corners and half_pixel_centers is not supported "
            "by the GPU delegate"
        )
    return None


def pad(sig: OpSig) -> str | None:
    """PAD / MIRROR_PAD: reflect mode only, and a 4x2 or 3x2 paddings tensor."""
    if sig.name == "MIRROR_PAD" and sig.option("mode") != _MIRROR_PAD_REFLECT:
        return "MIRROR_PAD in SYMMETRIC mode: the GPU delegate supports REFLECT padding only"
    problem = inputs_outputs(1, 1)(sig)
    if problem:
        return problem
    paddings = sig.input(1)
    if paddings is None:
        return f"{sig.name} without a paddings tensor is not supported by the GPU delegate"
    if paddings.rank != 2 or paddings.dims[0] not in (3, 4) or paddings.dims[1] != 2:
        return (
            f"{sig.name} with paddings {_dims(paddings)}: the GPU delegate pads 3-D and "
            "4-D tensors only (a 3x2 or 4x2 paddings tensor)"
        )
    return None


def lstm(sig: OpSig) -> str | None:
    kernel = sig.option("kernelType", _LSTM_FULL_KERNEL)
    activation = sig.option("fusedActivationFunction")
    if kernel == _LSTM_FULL_KERNEL:
        if len(sig.inputs) not in (20, 24):
            return f"LSTM with {len(sig.inputs)} inputs: the GPU delegate needs 20 or 24"
        if len(sig.outputs) != 1:
            return "LSTM with more than one output is not supported by the GPU delegate"
        if activation != _ACTIVATION_TANH:  # SIGMOID is not in the flatbuffer's enum
            return "LSTM on the GPU needs a sigmoid or tanh activation"
        return None
    if kernel == _LSTM_BASIC_KERNEL:
        problem = inputs_consts_outputs(3, 2, 4)(sig)
        if problem:
            return problem
        if activation != _ACTIVATION_TANH:
            return "basic LSTM kernel on the GPU supports the TANH activation only"
        if sig.option("cellClip", 0.0) != 0.0 or sig.option("projClip", 0.0) != 0.0:
            return "LSTM with cell or projection clipping is not supported by the GPU delegate"
    return None


def batch_matmul(sig: OpSig) -> str | None:
    if len(sig.inputs) != 2 or len(sig.outputs) != 1:
        return "BATCH_MATMUL without two inputs and one output is not supported by the GPU delegate"
    return None


def transpose_conv_custom(sig: OpSig) -> str | None:
    if len(sig.inputs) < 2:
        return "Convolution2DTransposeBias without weights is not supported by the GPU delegate"
    return None


# --- the table ------------------------------------------------------------------------

_ONE_ARG = (inputs_consts_outputs(1, 0, 1),)
_TWO_ARG = (one_or_two_operands,)
_TWO_ARG_ACT = (one_or_two_operands, activation_supported)
_CONV = (convolution_io, strides_positive, dilation_positive, activation_supported)
_REDUCE = (inputs_outputs(1, 1), axes_int32_const(1))

OPS: Mapping[str, OpRule] = {
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
    **{name: OpRule(2, (logical_feeds_cast,)) for name in sorted(LOGICAL_OPS)},
    "ADD": OpRule(2, (two_inputs, add_mul_broadcast)),
    "MUL": OpRule(3, (two_inputs, mul_shapes, activation_supported)),
    # convolution and pooling
    "CONV_2D": OpRule(6, _CONV),
    "DEPTHWISE_CONV_2D": OpRule(6, _CONV + (depthwise_conv,)),
    "TRANSPOSE_CONV": OpRule(3, (convolution_io, strides_positive)),
    "AVERAGE_POOL_2D": OpRule(2, (pooling,)),
    "MAX_POOL_2D": OpRule(2, (pooling,)),
    "FULLY_CONNECTED": OpRule(9, (fully_connected,)),
    "BATCH_MATMUL": OpRule(None, (batch_matmul,)),
    # activations
    "RELU": OpRule(2),
    "RELU6": OpRule(2),
    "LEAKY_RELU": OpRule(2),
    "RELU_N1_TO_1": OpRule(None),
    "PRELU": OpRule(1),
    "HARD_SWISH": OpRule(None, (inputs_outputs(1, 1),)),
    "SOFTMAX": OpRule(2, (softmax_beta,)),
    # shape and data movement
    "RESHAPE": OpRule(1, (inputs_outputs(1, 1),)),
    "CONCATENATION": OpRule(2),
    "PACK": OpRule(None),
    "SPLIT": OpRule(None),
    "SPLIT_V": OpRule(None),
    "SLICE": OpRule(2, (slice_rank(3),)),
    "STRIDED_SLICE": OpRule(2, (strided_slice_masks, slice_rank(4))),
    "TILE": OpRule(None, (inputs_outputs(1, 1),)),
    "TRANSPOSE": OpRule(2, (inputs_outputs(1, 1),)),
    "PAD": OpRule(2, (pad,)),
    "MIRROR_PAD": OpRule(2, (pad,)),
    "DEPTH_TO_SPACE": OpRule(None, (inputs_outputs(1, 1), block_size)),
    "SPACE_TO_DEPTH": OpRule(2, (inputs_outputs(1, 1), block_size)),
    "RESIZE_BILINEAR": OpRule(3, (inputs_outputs(1, 1), resize_bilinear)),
    "RESIZE_NEAREST_NEIGHBOR": OpRule(3, (inputs_outputs(1, 1),)),
    # reductions
    "MEAN": OpRule(None, (inputs_consts_outputs(1, 1, 1), axes_int32_const(1))),
    "SUM": OpRule(None, _REDUCE),
    "REDUCE_MAX": OpRule(None, _REDUCE),
    "REDUCE_MIN": OpRule(None, _REDUCE),
    "REDUCE_PROD": OpRule(None, _REDUCE),
    # others
    "CAST": OpRule(None, (inputs_outputs(1, 1), cast)),
    "CUMSUM": OpRule(1, (cumsum,)),
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


def allowed_types(sig: OpSig, quantized: bool) -> tuple[frozenset[str], frozenset[str]]:
    """The runtime tensor types ``GetOpsToReplace`` lets in and out of this operator."""
    ins = set(FLOATS)
    outs = set(FLOATS)
    if quantized:
        ins |= set(QUANTIZED)
        outs |= set(QUANTIZED)
    if sig.name in LOGICAL_OPS:
        outs.add("bool")
    if sig.name == "CAST":
        ins |= {"bool", "float32", "int32"}
        outs |= {"float32", "int32"}
    if sig.name == "ONE_HOT":
        ins.add("int32")
    return frozenset(ins), frozenset(outs)


def tensor_rules(sig: OpSig, quantized: bool) -> str | None:
    """``IsAllAllowedTensors``: rank at most 4 everywhere, allowed types on runtime tensors."""
    ins, outs = allowed_types(sig, quantized)
    for role, specs, allowed in (
        ("input", sig.present_inputs, ins),
        ("output", list(sig.outputs), outs),
    ):
        for spec in specs:
            if spec.rank > MAX_RANK:
                return (
                    f"{sig.name} with a {spec.rank}-D {role}: the GPU delegate handles "
                    f"tensors of up to {MAX_RANK} dimensions"
                )
            if spec.is_const or spec.dtype in allowed:
                continue
            if spec.dtype == "int16":
                return f"{sig.name} with int16 tensors: the GPU delegate does not support int16"
            if spec.dtype in QUANTIZED and not quantized:
                return (
                    f"{sig.name} with {spec.dtype} tensors: quantized models are switched "
                    "off for this GPU delegate"
                )
            article = "an" if spec.dtype[0] in "aeiou" else "a"
            return (
                f"{sig.name} with {article} {spec.dtype} runtime {role}: the GPU delegate "
                f"takes {', '.join(sorted(allowed))} tensors here"
            )
    return None
