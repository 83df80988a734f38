"""LiteRT's GPU accelerator's operator table: ML Drift's model builder, as data.

The accelerator in the ai-edge-litert wheel (``libLiteRtWebGpuAccelerator.so``) is not the
TFLite GPU delegate of :mod:`.table`. It decides with ML Drift's own builder
(google-ai-edge/LiteRT, ``ml_drift_delegate/tflite/model_builder.cc``), which still calls
``tflite/tools/versioning/gpu_compatibility.cc`` for many operators:

* ``NewOperationParser`` has parsers the classic delegate lacks: TOPK_V2 (constant scalar
  k), ARG_MAX (int32 output only), ATAN2, REVERSE_V2, EMBEDDING_LOOKUP, CEIL, ROUND,
  LOGICAL_OR / NOT, REDUCE_ANY / ALL; GATHER and SIGN and GELU are real parsers there.
  DENSIFY has none ("ML Drift doesn't support sparsity"); UNIDIRECTIONAL_SEQUENCE_LSTM,
  NON_MAX_SUPPRESSION_V4/V5, L2_NORMALIZATION, ARG_MIN, GATHER_ND, SCATTER_ND,
  UNSORTED_SEGMENT_SUM and MATRIX_DIAG answer "Operation is not supported.".
* Newer version limits: ADD 6, MUL 8, ABS 5, MAXIMUM / MINIMUM 4, FLOOR_DIV 3, GELU 3,
  CONCATENATION 6, FULLY_CONNECTED 14 (dynamic-range and int4 weights), PAD 5, SOFTMAX 4,
  SLICE 8, TRANSPOSE 9; STRIDED_SLICE 2.
* Its own checks replace gpu_compatibility.cc's for STRIDED_SLICE and SLICE (any rank up
  to 4, so 2-D slices run), SELECT_V2 (no rule on 2-D constants), CAST (types only) and
  the comparisons (no consumer rule); ADD and MUL broadcast the numpy way
  (``kEnhancedBroadcast``).
* ``IsAllAllowedTensors`` refuses any tensor of rank 5 or more ("Tensor dimensions must be
  less than 5.") and runtime tensors of other types ("Tensor type(INT64) is not
  supported.": no int64 or float64 anywhere), with per-operator type families.
* The WebGPU delegate kernel calls ``GetOpsToReplace`` with quantized operators allowed
  and ``max_delegated_partitions`` = 1, the same FP16 partition helper as the classic
  delegate.

The log lines this accelerator writes on this machine (through Mesa's lavapipe) quote the
messages above; the reasons below cite them so a static verdict and a measured one read alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..engine import Finding, Graph, builtin_option
from . import table
from .table import (
    FLOATS,
    OpRule,
    activation_supported,
    axes_int32_const,
    inputs_consts_outputs,
    inputs_outputs,
)

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator

NAME = "LiteRT's GPU accelerator"
SOURCES = "LiteRT's GPU accelerator's rules (ML Drift's model_builder.cc, gpu_compatibility.cc)"
MAX_RANK = 4


def _says(message: str) -> str:
    return f'(the accelerator: "{message}")'


# --- checks that differ from the classic delegate's -----------------------------------


CANNOT_PARSE_CONSTANT = "Can't parse inputs with const tensors."


def one_or_two_operands(op: Operator, graph: Graph) -> str | None:
    """Two runtime inputs, or one runtime input and a constant the builder can read
    (``CanParseInputsWithConstTensor``)."""
    runtime, const = graph.runtime_inputs(op), graph.constant_inputs(op)
    if (runtime, const) == (2, 0):
        scalar = next((t for t in graph.present_inputs(op) if not t.shape), None)
        if scalar is not None:
            return (
                f"{op.name} of a runtime scalar ({scalar.name!r}) with a tensor: LiteRT's GPU "
                f"accelerator broadcasts operands of rank 1 to 4 only "
                f'{_says(f"Tensor {chr(34)}{scalar.name}{chr(34)} has bad input dims size: 0.")}'
            )
        return None
    if (runtime, const) == (1, 1):
        constant = next(t for t in graph.present_inputs(op) if t.is_constant)
        if constant.dtype in ("int64", "float64") or len(constant.shape) > MAX_RANK:
            return (
                f"{op.name} with a {constant.dtype} constant of shape {list(constant.shape)} "
                f"{_says(CANNOT_PARSE_CONSTANT)}"
            )
        return None
    return (
        f"{op.name} with {runtime} runtime and {const} constant inputs: LiteRT's GPU "
        f"accelerator takes two runtime inputs, or one runtime and one constant "
        f"{_says('Op can only handle 1 or 2 operand(s).')}"
    )


def add_n_two_inputs(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) != 2:
        return f"ADD_N of {len(op.inputs)} inputs {_says('ADD_N only supports 2 inputs.')}"
    return None


def strided_slice(op: Operator, graph: Graph) -> str | None:
    """ML Drift's own STRIDED_SLICE check: no ellipsis, new-axis or shrink-axis masks,
    positive strides; any rank up to 4."""
    for field, message in (
        ("ellipsisMask", "Slice does not support ellipsis_mask."),
        ("newAxisMask", "Slice does not support new_axis_mask."),
        ("shrinkAxisMask", "Slice does not support shrink_axis_mask parameter."),
    ):
        if builtin_option(op, field):
            return (
                f"STRIDED_SLICE with {field[:-4].lower()} mask (indexing such as x[:, 0] or "
                f"x[..., None]) {_says(message)}"
            )
    if len(op.inputs) != 4:
        return f"STRIDED_SLICE with {len(op.inputs)} inputs {_says('STRIDED_SLICE requires 4 inputs.')}"
    strides = graph.values(op, 3)
    if strides is not None and (strides < 0).any():
        return f"STRIDED_SLICE with a negative stride (x[::-1]) {_says('Reverse slices are not supported.')}"
    if strides is not None and (strides == 0).any():
        return f"STRIDED_SLICE with a zero stride {_says('stride values must be non-zero')}"
    return None


def slice_runtime_input(op: Operator, graph: Graph) -> str | None:
    x = graph.input(op, 0)
    if len(op.inputs) < 3:
        return f"SLICE with {len(op.inputs)} inputs: LiteRT's GPU accelerator needs 3"
    if x is not None and x.is_constant:
        return f"SLICE of a constant {_says('Constant input is not supported.')}"
    return None


def transpose_permutation(op: Operator, graph: Graph) -> str | None:
    """ML Drift reads the permutation before the tensor check: 2 to 4 axes."""
    perm = graph.input(op, 1)
    if perm is not None and perm.shape and not 2 <= perm.shape[0] <= MAX_RANK:
        return (
            f"TRANSPOSE of {perm.shape[0]} axes: LiteRT's GPU accelerator permutes 2 to 4 "
            f"axes {_says('Permutation for transpose is invalid.')}"
        )
    return None


def gather(op: Operator, graph: Graph) -> str | None:
    """gpu_compatibility.cc's GATHER: 1-D int32 indices, at most one constant operand."""
    if graph.runtime_inputs(op) not in (1, 2):
        return f"GATHER of constants only {_says('Op can only handle 1 or 2 operand(s).')}"
    indices = graph.input(op, 1)
    if indices is not None and len(indices.shape) != 1:
        return f"GATHER with {len(indices.shape)}-D indices {_says('Only support 1D indices')}"
    if indices is not None and indices.dtype != "int32":
        return f"GATHER with {indices.dtype} indices {_says('Only accept INT32 indices')}"
    return None


def topk(op: Operator, graph: Graph) -> str | None:
    k = graph.input(op, 1)
    if k is None or not k.is_constant:
        return f"TOPK_V2 with a runtime k {_says('TopK k must be constant tensor.')}"
    if len(k.shape) > 1 or (k.shape and k.shape[0] != 1):
        return f"TOPK_V2 with k of shape {list(k.shape)} {_says('TopK k must be scalar.')}"
    if len(op.outputs) != 2:
        return f"TOPK_V2 with {len(op.outputs)} outputs {_says('TopK requires 2 output tensors')}"
    return None


def embedding_lookup(op: Operator, graph: Graph) -> str | None:
    ids, values = graph.input(op, 0), graph.input(op, 1)
    if ids is None or len(ids.shape) != 1:
        return f"EMBEDDING_LOOKUP with {len(ids.shape) if ids else 0}-D ids: LiteRT's GPU accelerator needs 1-D ids"
    if values is None or len(values.shape) < 2:
        return "EMBEDDING_LOOKUP of a 1-D table: LiteRT's GPU accelerator needs a 2-D or larger table"
    if values.dtype not in ("int8", "int4", "float32"):
        return (
            f"EMBEDDING_LOOKUP of a {values.dtype} table "
            f"{_says(f'Expected int8, int4, or float32, but got {values.dtype} for input #1.')}"
        )
    return None


def fully_connected(op: Operator, graph: Graph) -> str | None:
    """gpu_compatibility.cc's FULLY_CONNECTED (LiteRT's copy has no constant-input rule)."""
    if builtin_option(op, "weightsFormat") != 0:
        return "FULLY_CONNECTED with shuffled weights is not supported by LiteRT's GPU accelerator"
    if graph.runtime_inputs(op) > 2:
        return (
            "FULLY_CONNECTED with a runtime bias "
            f"{_says('FullyConnected does not support more than 2 runtime inputs.')}"
        )
    x = graph.input(op, 0)
    if builtin_option(op, "keepNumDims", False) and x is not None and len(x.shape) != len(graph.output(op).shape):
        return "FULLY_CONNECTED with keep_num_dims whose input and output ranks differ"
    return None


def select(op: Operator, graph: Graph) -> str | None:
    """ML Drift's own SELECT_V2 check: a bool or float condition; each branch the
    output's shape or a scalar."""
    if len(op.inputs) != 3 or len(op.outputs) != 1:
        return f"{op.name} without three inputs and one output {_says('Expected 3 inputs and 1 output')}"
    cond = graph.input(op, 0)
    out = graph.output(op).shape
    if cond is None or cond.dtype not in ("bool", *FLOATS):
        return f"{op.name} with a {cond.dtype if cond else 'missing'} condition: the condition must be bool or float"
    for tensor in graph.inputs(op)[1:]:
        if tensor is not None and tensor.shape != out and math.prod(tensor.shape) != 1:
            return (
                f"{op.name} whose branch {list(tensor.shape)} neither matches the output "
                f"{list(out)} nor is a scalar: LiteRT's GPU accelerator does not broadcast it"
            )
    return None


def dequantize(op: Operator, graph: Graph) -> str | None:
    x = graph.input(op, 0)
    if x is None:
        return "DEQUANTIZE without an input"
    if x.dtype == "int16":
        return f"DEQUANTIZE of int16 {_says('Unsupported dequantization type.')}"
    if not x.is_constant and x.quantization is None:
        densify = any(p.name == "DENSIFY" for p in graph.producers(x.index))
        message = (
            "Dequantize for Densify is not supported"
            if densify
            else "Encountered Dequantize input with no quant params"
        )
        return f"DEQUANTIZE of a runtime {x.dtype} tensor without quantization parameters {_says(message)}"
    if x.is_constant and x.dtype != "float16" and not 2 <= len(x.shape) <= MAX_RANK:
        return (
            f"DEQUANTIZE of a {len(x.shape)}-D constant: LiteRT's GPU accelerator dequantizes "
            f"2-D to 4-D constants {_says('Unsupported dims for tensor')}"
        )
    return None


def depthwise_conv(op: Operator, graph: Graph) -> str | None:
    """gpu_compatibility.cc's DEPTHWISE_CONV_2D: 4-D tensors whose channels line up; any
    depth multiplier (the classic delegate's one-input-channel rule is not ML Drift's)."""
    x, w, out = graph.input(op, 0), graph.input(op, 1), graph.output(op)
    for role, tensor in (("input", x), ("filter", w), ("output", out)):
        if tensor is None or len(tensor.shape) != 4:
            return f"DEPTHWISE_CONV_2D with a {role} that is not 4-D {_says(f'{role}.dims.size != 4')}"
    if x is None or w is None:
        return None
    if out.shape[3] != x.shape[3] * builtin_option(op, "depthMultiplier"):
        return "DEPTHWISE_CONV_2D whose output channels are not input channels x depth_multiplier"
    return None


def one_hot(op: Operator, graph: Graph) -> str | None:
    """ML Drift's ONE_HOT: four inputs, the last axis, indices with one channel."""
    indices = graph.input(op, 0)
    if len(op.inputs) < 4:
        return f"ONE_HOT with {len(op.inputs)} inputs: LiteRT's GPU accelerator needs 4"
    axis = builtin_option(op, "axis", -1)
    if indices is not None and axis not in (-1, len(indices.shape)):
        return f"ONE_HOT along axis {axis} {_says('OneHot axis must be -1 or the last dimension.')}"
    return None


def batch_matmul(op: Operator, graph: Graph) -> str | None:
    if len(op.inputs) != 2 or len(op.outputs) != 1:
        return "BATCH_MATMUL without two inputs and one output"
    rhs = graph.input(op, 1)
    if graph.runtime_inputs(op) == 1 and (rhs is None or not rhs.is_constant):
        return "BATCH_MATMUL of a constant left operand: LiteRT's GPU accelerator needs it at run time"
    if graph.runtime_inputs(op) == 1 and rhs is not None and not 2 <= len(rhs.shape) <= MAX_RANK:
        return "BATCH_MATMUL with a constant right operand of unsupported rank"
    return None


# --- the table ------------------------------------------------------------------------

_ONE_ARG = (inputs_consts_outputs(1, 0, 1),)
_TWO_ARG = (one_or_two_operands,)
_TWO_ARG_ACT = (one_or_two_operands, activation_supported)
_REDUCE = (inputs_outputs(1, 1), axes_int32_const(1))
_KEEP = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "TRANSPOSE_CONV",
    "AVERAGE_POOL_2D",
    "MAX_POOL_2D",
    "RELU",
    "RELU6",
    "LEAKY_RELU",
    "RELU_N1_TO_1",
    "PRELU",
    "HARD_SWISH",
    "RESHAPE",
    "SPLIT",
    "SPLIT_V",
    "TILE",
    "DEPTH_TO_SPACE",
    "SPACE_TO_DEPTH",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "MEAN",
    "SUM",
    "REDUCE_MAX",
    "REDUCE_MIN",
    "REDUCE_PROD",
    "CUMSUM",
    "ONE_HOT",
    "LSTM",
    "QUANTIZE",
    "Convolution2DTransposeBias",
    "MaxPoolingWithArgmax2D",
    "MaxUnpooling2D",
    "Resampler",
)
"""Rows whose parser and checks ML Drift shares with the classic delegate."""

OPS: dict[str, OpRule] = {
    **{name: table.OPS[name] for name in _KEEP},
    "DEPTHWISE_CONV_2D": OpRule(6, (*table.OPS["CONV_2D"].checks, depthwise_conv)),
    "ONE_HOT": OpRule(1, (one_hot,)),
    **{
        name: OpRule(2, _ONE_ARG)
        for name in (
            "CEIL",
            "COS",
            "ELU",
            "EXP",
            "FLOOR",
            "LOG",
            "LOGICAL_NOT",
            "LOGISTIC",
            "NEG",
            "ROUND",
            "RSQRT",
            "SIGN",
            "SIN",
            "SQRT",
            "SQUARE",
            "TANH",
        )
    },
    "ABS": OpRule(5, _ONE_ARG),
    "GELU": OpRule(3, _ONE_ARG),
    **{
        name: OpRule(2, _TWO_ARG)
        for name in (
            "ATAN2",
            "FLOOR_MOD",
            "POW",
            "SQUARED_DIFFERENCE",
            "LOGICAL_AND",
            "LOGICAL_OR",
            *sorted(table.LOGICAL_OPS),
        )
    },
    "FLOOR_DIV": OpRule(3, _TWO_ARG),
    "MAXIMUM": OpRule(4, _TWO_ARG),
    "MINIMUM": OpRule(4, _TWO_ARG),
    "DIV": OpRule(2, _TWO_ARG_ACT),
    "SUB": OpRule(2, _TWO_ARG_ACT),
    "ADD": OpRule(6, _TWO_ARG_ACT),
    "MUL": OpRule(8, _TWO_ARG_ACT),
    "ADD_N": OpRule(2, (add_n_two_inputs,)),
    "FULLY_CONNECTED": OpRule(
        14, (fully_connected,), "Feed the Dense layer a runtime tensor and keep its default weight layout"
    ),
    "BATCH_MATMUL": OpRule(None, (batch_matmul,)),
    "SOFTMAX": OpRule(4, table.OPS["SOFTMAX"].checks, table.OPS["SOFTMAX"].fix),
    "CONCATENATION": OpRule(6),
    "PACK": OpRule(None),
    "UNPACK": OpRule(None),
    "SLICE": OpRule(8, (slice_runtime_input,)),
    "STRIDED_SLICE": OpRule(
        2,
        (strided_slice,),
        "Slice with ranges (x[:, 0:1]) followed by a Reshape instead of integer indexing "
        "(x[:, 0]) or new axes, with positive strides",
    ),
    "TRANSPOSE": OpRule(
        9,
        (inputs_outputs(1, 1), transpose_permutation),
        table.RANK_FIX,
    ),
    "PAD": OpRule(5, table.OPS["PAD"].checks, table.OPS["PAD"].fix),
    "PADV2": OpRule(5, table.OPS["PAD"].checks, table.OPS["PAD"].fix),
    "MIRROR_PAD": OpRule(5, table.OPS["MIRROR_PAD"].checks, table.OPS["MIRROR_PAD"].fix),
    "REDUCE_ANY": OpRule(None, _REDUCE),
    "REDUCE_ALL": OpRule(None, _REDUCE),
    "CAST": OpRule(
        None, (inputs_outputs(1, 1),), "Cast between float, integer and bool types other than int64 / float64"
    ),
    "SELECT": OpRule(1, (select,)),
    "SELECT_V2": OpRule(1, (select,)),
    "ARG_MAX": OpRule(
        None,
        (inputs_consts_outputs(1, 1, 1),),
        "Ask for an int32 result (tf.argmax(..., output_type=tf.int32)); LiteRT's GPU accelerator has no int64 tensors",
    ),
    "TOPK_V2": OpRule(1, (topk,), "Give tf.math.top_k a constant k"),
    "REVERSE_V2": OpRule(None, (inputs_consts_outputs(1, 1, 1), axes_int32_const(1))),
    "GATHER": OpRule(None, (gather,), "Gather with 1-D int32 indices (reshape the indices, then the result)"),
    "EMBEDDING_LOOKUP": OpRule(None, (embedding_lookup,)),
    "DEQUANTIZE": OpRule(3, (dequantize,), quantized_only=True),
}
"""Operator name -> the rule ML Drift's parser applies."""

# --- tensors --------------------------------------------------------------------------

_QUANT_IN = frozenset({"int2", "int4", "int8", "uint8"})
_QUANT_OUT = frozenset({"int8", "uint8"})
_INTS = frozenset({"int8", "int16", "int32", "uint8", "uint16", "uint32"})
_ALL_PRECISION = frozenset(
    {
        "BITCAST",
        "CAST",
        "CONCATENATION",
        "DYNAMIC_UPDATE_SLICE",
        "GATHER",
        "PACK",
        "PAD",
        "PADV2",
        "RESHAPE",
        "REVERSE_V2",
        "SELECT",
        "SELECT_V2",
        "SLICE",
        "STRIDED_SLICE",
        "TRANSPOSE",
    }
)
"""``SupportAllPrecisionOp``: integer, bool and bfloat16 tensors allowed in and out."""
_INT_OPS = frozenset(
    {
        "ABS",
        "ADD",
        "ATAN2",
        "COS",
        "DIV",
        "FLOOR_DIV",
        "FLOOR_MOD",
        "MAXIMUM",
        "MINIMUM",
        "MUL",
        "NEG",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "REDUCE_PROD",
        "RIGHT_SHIFT",
        "SIGN",
        "SIN",
        "SUB",
        "SUM",
        "TILE",
    }
)
"""``IsIntSupportedOp``: integer tensors allowed in and out."""


def allowed_types(op: Operator, quantized: bool) -> tuple[frozenset[str], frozenset[str]]:
    """The runtime tensor types ``IsAllAllowedTensors`` lets in and out of this operator."""
    ins = {*FLOATS, "bool"}
    outs = set(FLOATS)
    if quantized:
        ins |= _QUANT_IN
        outs |= _QUANT_OUT
    name = op.name
    if name == "ARG_MAX":
        outs = {"int32"}
    elif name in ("REDUCE_ANY", "REDUCE_ALL"):
        ins, outs = {"bool"}, {"bool"}
    elif name in ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"):
        ins, outs = {"bool", "int8", "int16", "int32"}, {"bool", "int8", "int16", "int32"}
    elif name in table.LOGICAL_OPS:
        ins |= _INTS
        outs.add("bool")
    elif name in ("EMBEDDING_LOOKUP", "ONE_HOT", "DYNAMIC_UPDATE_SLICE"):
        ins.add("int32")
    elif name == "TOPK_V2":
        outs.add("int32")
    if name in _INT_OPS:
        ins |= _INTS
        outs |= _INTS
    if name in _ALL_PRECISION:
        ins |= _INTS | {"bool", "bfloat16"}
        outs |= _INTS | {"bool", "bfloat16"}
    return frozenset(ins), frozenset(outs)


def tensor_rules(op: Operator, graph: Graph, quantized: bool) -> Finding | None:
    """``IsAllAllowedTensors``: rank at most 4 for every tensor, allowed types for runtime ones."""
    refused = table.first_refused_tensor(op, graph, *allowed_types(op, quantized))
    if refused is None:
        return None
    role, tensor, too_many_dims = refused
    if too_many_dims:
        return Finding(
            f"{op.name} with a {len(tensor.shape)}-D {role}: LiteRT's GPU accelerator "
            f"handles tensors of up to {MAX_RANK} dimensions "
            f"{_says('Tensor dimensions must be less than 5.')}",
            table.RANK_FIX,
        )
    if tensor.dtype in _QUANT_IN and not quantized:
        return Finding(
            f"{op.name} with {tensor.dtype} tensors: quantized models are switched off",
            "Set quantized_models=True, or convert with float16",
        )
    return Finding(
        f"{op.name} with a {tensor.dtype} runtime {role} "
        f"{_says(f'Tensor type({tensor.dtype.upper()}) is not supported.')}",
        _type_fix(op.name, tensor.dtype),
    )


def _type_fix(op: str, dtype: str) -> str:
    if op == "ARG_MAX" or dtype == "int64":
        return (
            "Keep int64 out of the model: ask for int32 results (tf.argmax(..., "
            "output_type=tf.int32)), or move the operator to the model's end"
        )
    return (
        "Keep integer or boolean computations (shapes, indices) out of the model, or at "
        "its start or end, so they do not split the GPU partition"
    )


# --- whole-model refusals -------------------------------------------------------------


def refusal(graph: Graph, delegated: frozenset[int]) -> str | None:
    """Why LiteRT cannot prepare this model for the accelerator at all, if it cannot.

    * ``litert/core/model/model_load.cc``: "Variable tensors not yet supported." (a stateful
      LSTM's state): the CompiledModel does not load the model.
    * A delegated FULLY_CONNECTED whose weights come from DEQUANTIZE of an int8 or int4
      constant (ai-edge-quantizer's weight-only recipes): ML Drift builds the weights with
      a transposed shape and fails ("Shape mismatch: {bhwc, {o, 1, 1, i}} vs {bhwc, {1, 1,
      o, i}}"), so the delegate cannot be applied and the compile fails. Measured with
      LiteRT 2.3 on lavapipe; CONV_2D and DEPTHWISE_CONV_2D read such weights fine.
    * A delegated FULLY_CONNECTED with blockwise int4 weights (ai-edge-quantizer's
      blockwise recipes): building it corrupts the heap and the process dies, of SIGABRT
      ("malloc(): unaligned tcache chunk detected") or SIGSEGV, measured likewise;
      channelwise int4 runs.
    """
    variable = next((t for t in graph.tensors if t.is_variable), None)
    if variable is not None:
        return (
            f"the model keeps state in variable tensors ({variable.name!r}), which LiteRT's "
            'CompiledModel does not load (model_load.cc: "Variable tensors not yet supported.")'
        )
    for op in graph.operators:
        why = _kernel_failure(op, graph) if op.index in delegated else None
        if why:
            return why
        if op.name != "FULLY_CONNECTED" or op.index not in delegated or len(op.inputs) < 2:
            continue
        weights = graph.input(op, 1)
        if weights is not None and weights.index in graph.blockwise:
            return (
                f"FULLY_CONNECTED (operator {op.index}) has int4 weights quantized in blocks (blockwise "
                "scales): building it corrupts LiteRT's heap and the process dies (SIGABRT, \"malloc(): "
                'unaligned tcache chunk detected", or SIGSEGV)'
            )
        sources = graph.producers(op.inputs[1]) if op.inputs[1] >= 0 else []
        if weights is not None and any(_integer_weights(p, graph) for p in sources):
            return (
                f"FULLY_CONNECTED (operator {op.index}) reads weights that DEQUANTIZE expands "
                "from an integer constant (weight-only quantization): ML Drift builds them with "
                'the wrong shape and the GPU compile fails ("Shape mismatch")'
            )
    return None


def _kernel_failure(op: Operator, graph: Graph) -> str | None:
    """Delegated operators ML Drift accepts but then cannot build (measured, LiteRT 2.3):

    * BATCH_MATMUL of a tensor with itself: "Check failed: !IsInput(consumer, value)",
      which aborts the process;
    * CONCATENATION along the batch axis of 4-D tensors: "Unable to parse bc coord for
      BATCH axis", the delegate cannot be applied.
    """
    if op.name == "BATCH_MATMUL" and len(op.inputs) == 2 and op.inputs[0] == op.inputs[1]:
        return (
            f"BATCH_MATMUL (operator {op.index}) multiplies a tensor by itself, which aborts "
            'ML Drift\'s graph builder ("Check failed: !IsInput(consumer, value)")'
        )
    out = graph.output(op) if op.outputs else None
    if op.name == "CONCATENATION" and out is not None and len(out.shape) == 4 and builtin_option(op, "axis") in (0, -4):
        return (
            f"CONCATENATION (operator {op.index}) along the batch axis: ML Drift cannot write "
            'it ("Unable to parse bc coord for BATCH axis") and the GPU compile fails'
        )
    return None


def _integer_weights(producer: Operator, graph: Graph) -> bool:
    source = graph.input(producer, 0)
    return (
        producer.name == "DEQUANTIZE" and source is not None and source.is_constant and source.dtype in ("int8", "int4")
    )


REFUSAL_FIX = (
    "Quantize the Dense layers' weights dynamically and per channel (ai-edge-quantizer's "
    "dynamic_wi4_afp32 or dynamic_wi8_afp32: the dynamic_int4 mode) instead of weight-only or "
    "in blocks, and export recurrent layers unrolled or stateless; or run the model with the "
    "TFLite Interpreter's GPU delegate"
)
