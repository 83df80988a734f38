"""What the Coral Edge TPU compiler accepts, as data: releases, operators, version quirks, limits.

The compiler is closed source; these rows come from Coral's published tables
(coral.ai/docs/edgetpu/models-intro, "Supported operations"), google-coral/edgetpu's
CHANGES.md and its issues (cited as ``edgetpu#N``), bounded by real compilations: models
and the twins the compiler made of them, with its logs (``edgetpu-pairs``). Every rule
that keeps an operator off the Edge TPU carries its evidence and the compiler releases
it holds for (:class:`Bounded`). The rule engine in
:mod:`.engine` reads only this module, so a new compiler release
(:func:`register_compiler`), runtime or operator is a change of the tables below.

Confidence of each row, as in Coral's own material: ``C`` confirmed by a document or a
posted log, ``P`` partly confirmed, ``I`` inferred from observed behaviour, ``U``
unconfirmed (runtime column remembered from the Coral table).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ...errors import TargetError

MAPPED = "Mapped to Edge TPU"
"""The compiler's status of an operator it maps."""


# --- runtimes and data types ----------------------------------------------------------

MIN_RUNTIME = 10
MAX_RUNTIME = 14
DEFAULT_RUNTIME = 14

SIGNED_INT8_MIN_RUNTIME = 12
"""int8 tensors (TF2 full-integer models) need runtime 12, i.e. compiler 2.0; with
``-m 10/11`` every int8 operator got the data-type status (edgetpu#222) [I]."""

ACTIVATION_DTYPES = ("uint8", "int8")
CONSTANT_DTYPES = ("uint8", "int8", "int32")
"""Weights are 8-bit, biases and shape/axis parameters int32."""


# --- evidence and the compiler versions it holds for ------------------------------------

CORAL_OPS = "coral.ai/docs/edgetpu/models-intro#supported-operations"
CORAL_REQUIREMENTS = "coral.ai/docs/edgetpu/models-intro#model-requirements"
CORAL_2019_OPS = "coral.withgoogle.com/docs/edgetpu/models-intro (2019 copy of the table)"
PAIRS = "edgetpu-pairs"
"""Real models and the twins ``edgetpu_compiler`` made of them (digests, truth.json, logs/)."""


@dataclasses.dataclass(frozen=True)
class Bounded:
    """A rule of the table, the evidence it rests on, and the compiler releases it holds for:
    from ``since`` to ``until`` (inclusive; None leaves that end open)."""

    evidence: tuple[str, ...]
    since: str | None = None
    until: str | None = None

    def holds_for(self, compiler: Compiler) -> bool:
        return (self.since is None or compiler.key >= version_key(self.since)) and (
            self.until is None or compiler.key <= version_key(self.until)
        )

    @property
    def compilers(self) -> str:
        """The releases it holds for, as a report names them."""
        if self.since and self.until:
            return f"compilers {self.since} to {self.until}"
        if self.since:
            return f"compiler {self.since} and newer"
        if self.until:
            return f"compilers up to {self.until}"
        return "every compiler"


@dataclasses.dataclass(frozen=True)
class Restriction(Bounded):
    """A known limitation of Coral's table, tested by ``engine.CHECKS[name]``."""

    name: str = ""
    confidence: str = "C"


def _restriction(
    name: str, *evidence: str, since: str | None = None, until: str | None = None, confidence: str = "C"
) -> Restriction:
    return Restriction(evidence, since, until, name=name, confidence=confidence)


_PAIR_LOG_16 = f"{PAIRS} logs/*_edgetpu.log (compiler 16.0.384591198)"

RESTRICTIONS: dict[str, Restriction] = {
    r.name: r
    for r in (
        _restriction("no_fused_activation", f"{CORAL_OPS} (AveragePool2d, MaxPool2d, Concatenation)"),
        _restriction("constant_input_is_zero_pad", f"{CORAL_OPS} (Concatenation)"),
        _restriction("constant_params", f"{CORAL_REQUIREMENTS} (parameters constant)", "edgetpu#25"),
        # The table's wording; a 3x1 kernel dilated (2,1) or (4,1) maps (16.0 log): a dilation
        # along an axis where the kernel is 1 wide changes nothing, so it is not compared.
        _restriction(
            "same_dilation", f"{CORAL_OPS} (Conv2d, DepthwiseConv2d)",
            f"bounded by {_PAIR_LOG_16}: 3x1 kernels dilated (2,1) and (4,1) mapped",
        ),
        _restriction("no_dilation", f"{CORAL_2019_OPS} (DepthwiseConv2d)", confidence="U"),
        _restriction("default_weights_format", f"{CORAL_OPS} (FullyConnected)"),
        _restriction("one_dimensional_output", f"{CORAL_OPS} (FullyConnected, Softmax)", "edgetpu#27"),
        # A SPLIT on the batch axis into one output maps (compiled YAMNet twin, 2022).
        _restriction(
            "no_batch_axis", f"{CORAL_OPS} (Pack, ReduceMax, ReduceMin, Sum, Split)",
            f"{PAIRS} twin of a SPLIT on axis 0 with one output (2022, mapped)",
        ),
        _restriction("reduce_xy_only", f"{CORAL_2019_OPS} (Mean)"),
        _restriction("channel_reduce_multiple_of_4", f"{CORAL_OPS} (Mean)"),
        _restriction("no_batch_padding", f"{CORAL_OPS} (Pad)"),
        _restriction("pad_xy_only", f"{CORAL_2019_OPS} (Pad)"),
        _restriction("alpha_innermost_only", f"{CORAL_OPS} (PReLU)"),
        _restriction("batch_one_image", f"{CORAL_OPS} (ResizeBilinear, ResizeNearestNeighbor)"),
        _restriction("squeeze_leading_only", f"{CORAL_2019_OPS} (Squeeze)"),
        _restriction("unit_strides_no_masks", f"{CORAL_2019_OPS} (StridedSlice)", confidence="P"),
    )
}
"""Every restriction :data:`SUPPORTED_OPS` names, with its evidence and compiler range."""


# --- size heuristics ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SizeLimit(Bounded):
    """Above ``limit`` (in ``measure`` units) the operator is predicted not to map [I].

    ``mapped`` and ``rejected`` are the sizes the evidence shows mapped and not mapped
    (0 when it shows none); ``limit`` lies between them.
    """

    op: str = "*"
    """An operator name, or :data:`ANY_OP`."""
    measure: str = "input_elements"
    """``input_elements``, ``output_elements``, ``input_width`` (innermost input dim) or
    ``row_elements`` (the two innermost dims of its largest activation multiplied)."""
    limit: int = 0
    mapped: int = 0
    rejected: int = 0

    @property
    def source(self) -> str:
        return self.evidence[0]


ANY_OP = "*"
"""A size limit's ``op`` that every operator meets."""

_UP_TO_15 = "15.0.340273435"

SIZE_LIMITS = (
    SizeLimit(("Coral 2019 table (Softmax: at most 16,000 elements)",),
              op="SOFTMAX", measure="input_elements", limit=16_000),
    SizeLimit(("edgetpu#461",), op="MEAN", measure="input_elements", limit=65_536,
              mapped=24_576, rejected=98_304),
    # "Internal compiler error" is the wording of 15.0 and older; 16.0 maps 1,228,800 (log).
    SizeLimit(("edgetpu#309", f"bounded by {_PAIR_LOG_16}: 1,228,800 mapped"), until=_UP_TO_15, op="CONCATENATION",
              measure="output_elements", limit=800_000, rejected=820_800),
    # 16.0 maps 94,400 (log) and 14,400 / 57,600 (twins dated 2023 and 2025).
    SizeLimit(("edgetpu#663", f"bounded by {_PAIR_LOG_16}: 94,400 mapped"), until=_UP_TO_15, op="FULLY_CONNECTED",
              measure="input_width", limit=8_192, mapped=8_192, rejected=14_400),
    SizeLimit(("edgetpu#598",), op="UNIDIRECTIONAL_SEQUENCE_LSTM", measure="input_width",
              limit=900, rejected=1_000),
    SizeLimit(("edgetpu#598",), op="LSTM", measure="input_width", limit=900, rejected=1_000),
    # A channels-to-height TRANSPOSE of 57,600 elements maps, of 230,400 does not (16.0 log).
    SizeLimit((_PAIR_LOG_16, "edgetpu#433"), since="16.0.384591198", op="TRANSPOSE",
              measure="input_elements", limit=65_536, mapped=57_600, rejected=230_400),
    # [1, 94400] maps (16.0 log) and so does [1, 1917, 91] (Coral's SSD v2 twin, compiler
    # not stated); [1, 144, 1600], [1, 64, 8400] and [1, 80, 8400] get the unspecified
    # limitation (16.0 log), whatever the operator.
    SizeLimit((_PAIR_LOG_16, "Coral model zoo mobilenet_ssd_v2_coco_quant_postprocess_edgetpu"),
              since="16.0.384591198", op=ANY_OP, measure="row_elements",
              limit=200_000, mapped=174_447, rejected=230_400),
)
"""Sizes above which operators were seen not to map, and the releases that showed it."""

# No limit on a single activation tensor: Coral's MobileNet SSD v2 (300x300) maps its
# 150x150x96 (2.16 MB) activations; YOLOv5s failing at 352 px (edgetpu#512) is about the whole
# model's memory, which the file alone does not tell.


# --- compiler releases -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Compiler:
    """One ``edgetpu_compiler`` release: the runtime its models need by default, and what
    differs from one release to the next. The engine reads these fields and compares no
    version numbers itself."""

    version: str
    runtime: int
    multiple_subgraphs: bool = False
    """Has ``-a`` / ``--enable_multiple_subgraphs`` (15.0 and later)."""
    min_runtime_flag: bool = False
    """Takes ``-m N`` for any runtime from 10 up to its own (16.0, per LibrEdgeTPU)."""
    child_process: bool = False
    """Compiles in a child process under a timeout, and its log prints the timeout-timer
    and child-process lines (16.0)."""
    timeout_seconds: int = 180
    """The timeout its log announces (``-t``, 180 seconds unless set)."""
    size_limits: tuple[SizeLimit, ...] = SIZE_LIMITS
    """Sizes above which operators were seen not to map with this release."""
    float_model_note: str = ""
    """What else is reported of how it treats a float model it rejects."""

    @property
    def key(self) -> tuple[int, ...]:
        return version_key(self.version)

    @property
    def release(self) -> str:
        """``16.0`` for ``16.0.384591198``: how Coral's documents name it."""
        return ".".join(self.version.split(".")[:2])


COMPILERS: tuple[Compiler, ...] = (
    Compiler("1.0.249710469", 10),  # runtime 10 is assumed [P]
    Compiler("2.0.267685300", 12),  # [C] CHANGES.md
    Compiler("2.1.302470888", 13),  # [C] CHANGES.md; a log in edgetpu-pairs names it
    Compiler("15.0.340273435", 13, multiple_subgraphs=True),  # [P] edgetpu#254, #464
    Compiler(
        "16.0.384591198",
        14,
        multiple_subgraphs=True,
        min_runtime_flag=True,
        child_process=True,
        float_model_note="compiler 16 is also reported to compile such a model with 0 Edge TPU "
        "subgraphs, every operator on the CPU (edgetpu#438)",
    ),  # [C] libcoral CHANGES.md, edgetpu#439
)
"""Oldest first; :func:`register_compiler` adds a release."""


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def register_compiler(compiler: Compiler, *, replace: bool = False) -> Compiler:
    """Add a compiler release to :data:`COMPILERS`; the newest release for a runtime is the
    one :func:`compiler_for` picks."""
    global COMPILERS
    known = compiler_named(compiler.version)
    if known is not None and not replace:
        raise TargetError(
            f"Edge TPU compiler {compiler.version} is already in the table",
            hint="Pass replace=True to redefine it on purpose",
        )
    others = [c for c in COMPILERS if c.version != compiler.version]
    COMPILERS = tuple(sorted([*others, compiler], key=lambda c: c.key))
    return compiler


def unregister_compiler(version: str) -> None:
    """Take a release out of :data:`COMPILERS` again (a test's cleanup)."""
    global COMPILERS
    COMPILERS = tuple(c for c in COMPILERS if c.version != version)


def compiler_named(version: str) -> Compiler | None:
    """The release of that full version (``16.0.384591198``) or, newest first, of that
    release name (``16.0``, as Coral's documents write it)."""
    exact = next((c for c in COMPILERS if c.version == version), None)
    if exact is not None:
        return exact
    return next((c for c in reversed(COMPILERS) if c.release == version), None)


def compiler_for(runtime: int) -> tuple[Compiler, tuple[str, ...]]:
    """The newest release that targets ``runtime`` by default, else the newest that takes
    ``-m runtime``.

    Returns the compiler and the command-line flags that select the runtime.
    """
    defaults = [c for c in COMPILERS if c.runtime == runtime]
    if defaults:
        return max(defaults, key=lambda c: c.key), ()
    flagged = [c for c in COMPILERS if c.min_runtime_flag] or list(COMPILERS)
    return max(flagged, key=lambda c: c.key), (f"-m {runtime}",)


def default_compiler() -> Compiler:
    """The newest registered release: what a prediction is for unless told otherwise."""
    return COMPILERS[-1]


def oldest_with(feature: Callable[[Compiler], bool]) -> Compiler | None:
    """The oldest release that has ``feature`` (a predicate on the row)."""
    return next((c for c in COMPILERS if feature(c)), None)


# --- supported operators ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OpRule:
    """One row of Coral's supported-operations table, for a range of runtimes.

    ``checks`` name the restrictions the engine tests (functions in
    ``engine.CHECKS``); a violation leaves the operator on the CPU.
    """

    op: str
    """TFLite ``BuiltinOperator`` name, as the compiler log prints it."""
    coral_name: str
    min_runtime: int = MIN_RUNTIME
    max_runtime: int = MAX_RUNTIME
    checks: tuple[str, ...] = ()
    confidence: str = "U"
    """Of the runtime column; each check's evidence is in :data:`RESTRICTIONS`."""
    evidence: str = CORAL_OPS
    """Where the row (the operator and its runtimes) comes from."""

    def covers(self, runtime: int) -> bool:
        return self.min_runtime <= runtime <= self.max_runtime


_NO_ACT = "no_fused_activation"

SUPPORTED_OPS: tuple[OpRule, ...] = (
    OpRule("ADD", "Add"),
    OpRule("AVERAGE_POOL_2D", "AveragePool2d", checks=(_NO_ACT,)),
    OpRule("CONCATENATION", "Concatenation", checks=(_NO_ACT, "constant_input_is_zero_pad")),
    OpRule("CONV_2D", "Conv2d", checks=("constant_params", "same_dilation")),
    OpRule("DEPTHWISE_CONV_2D", "DepthwiseConv2d", max_runtime=12,
           checks=("constant_params", "no_dilation")),
    OpRule("DEPTHWISE_CONV_2D", "DepthwiseConv2d", min_runtime=13,
           checks=("constant_params", "same_dilation")),
    OpRule("EXPAND_DIMS", "ExpandDims", min_runtime=13, confidence="C"),
    OpRule("FULLY_CONNECTED", "FullyConnected",
           checks=("constant_params", "default_weights_format", "one_dimensional_output")),
    OpRule("L2_NORMALIZATION", "L2Normalization"),
    OpRule("LOGISTIC", "Logistic"),
    # Which LSTM opcode the compiler takes is unconfirmed; Keras exports the unidirectional one.
    OpRule("LSTM", "LSTM", min_runtime=14, confidence="C"),
    OpRule("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM", min_runtime=14, confidence="C"),
    OpRule("MAXIMUM", "Maximum"),
    OpRule("MAX_POOL_2D", "MaxPool2d", checks=(_NO_ACT,)),
    OpRule("MEAN", "Mean", max_runtime=12, checks=("reduce_xy_only",)),
    OpRule("MEAN", "Mean", min_runtime=13,
           checks=("no_batch_axis", "channel_reduce_multiple_of_4")),
    OpRule("MINIMUM", "Minimum"),
    OpRule("MUL", "Mul"),
    OpRule("PACK", "Pack", min_runtime=13, checks=("no_batch_axis",), confidence="C"),
    OpRule("PAD", "Pad", max_runtime=12, checks=("pad_xy_only",)),
    OpRule("PAD", "Pad", min_runtime=13, checks=("no_batch_padding",)),
    OpRule("PRELU", "PReLU", min_runtime=13, checks=("alpha_innermost_only",)),
    OpRule("QUANTIZE", "Quantize", min_runtime=13, confidence="C"),
    OpRule("REDUCE_MAX", "ReduceMax", min_runtime=14, checks=("no_batch_axis",)),
    OpRule("REDUCE_MIN", "ReduceMin", min_runtime=14, checks=("no_batch_axis",)),
    OpRule("RELU", "ReLU"),
    OpRule("RELU6", "ReLU6"),
    OpRule("RELU_N1_TO_1", "ReLUN1To1"),
    OpRule("RESHAPE", "Reshape"),
    OpRule("RESIZE_BILINEAR", "ResizeBilinear", checks=("batch_one_image",)),
    OpRule("RESIZE_NEAREST_NEIGHBOR", "ResizeNearestNeighbor", checks=("batch_one_image",),
           confidence="C"),
    OpRule("RSQRT", "Rsqrt", min_runtime=14),
    OpRule("SLICE", "Slice"),
    OpRule("SOFTMAX", "Softmax", checks=("one_dimensional_output",)),
    OpRule("SPACE_TO_DEPTH", "SpaceToDepth"),
    OpRule("SPLIT", "Split", checks=("no_batch_axis",)),
    OpRule("SQUEEZE", "Squeeze", max_runtime=12, checks=("squeeze_leading_only",)),
    OpRule("SQUEEZE", "Squeeze", min_runtime=13),
    OpRule("STRIDED_SLICE", "StridedSlice", checks=("unit_strides_no_masks",)),
    OpRule("SUB", "Sub"),
    OpRule("SUM", "Sum", min_runtime=13, checks=("no_batch_axis",), confidence="C"),
    OpRule("SQUARED_DIFFERENCE", "Squared-difference", min_runtime=14),
    OpRule("TANH", "Tanh"),
    OpRule("TRANSPOSE", "Transpose", min_runtime=14, confidence="C"),  # edgetpu#193, #242
    OpRule("TRANSPOSE_CONV", "TransposeConv", min_runtime=13, checks=("constant_params",),
           confidence="C"),
)

CONSTANT_OPERANDS: dict[str, tuple[int, ...]] = {
    "CONV_2D": (1, 2),
    "DEPTHWISE_CONV_2D": (1, 2),
    "FULLY_CONNECTED": (1, 2),
    "TRANSPOSE_CONV": (0, 1, 3),
    "PRELU": (1,),
}
"""Operand positions that must be compile-time constants (filter, bias, output shape, alpha)."""


def rule_for(op: str, runtime: int) -> OpRule | None:
    """The table row that applies to ``op`` at ``runtime``, or None when it is unsupported."""
    return next((r for r in SUPPORTED_OPS if r.op == op and r.covers(runtime)), None)


def first_runtime(op: str) -> int | None:
    """The oldest runtime that supports ``op`` at all."""
    runtimes = [r.min_runtime for r in SUPPORTED_OPS if r.op == op]
    return min(runtimes) if runtimes else None


def first_runtime_without(op: str, check: str) -> int | None:
    """The oldest runtime whose row for ``op`` no longer has the restriction ``check``."""
    runtimes = [r.min_runtime for r in SUPPORTED_OPS if r.op == op and check not in r.checks]
    return min(runtimes) if runtimes else None


# --- operator versions ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VersionLimit:
    """``op`` at ``version`` or newer fails on compilers up to ``last_compiler``."""

    op: str
    version: int
    last_compiler: str
    source: str

    def applies(self, op: str, version: int, compiler: Compiler) -> bool:
        return op == self.op and version >= self.version and compiler.key <= version_key(
            self.last_compiler
        )

    def fixed_in(self) -> Compiler | None:
        """The oldest release in the table past the limit."""
        return oldest_with(lambda c: c.key > version_key(self.last_compiler))


UNPARSEABLE_OP_VERSIONS = (
    VersionLimit("RELU", 2, "2.0.267685300", "edgetpu#34"),
    VersionLimit("RESIZE_NEAREST_NEIGHBOR", 3, "2.1.302470888", "edgetpu#152"),
    VersionLimit("TRANSPOSE_CONV", 3, "2.1.302470888", "edgetpu#147"),
    VersionLimit("RSQRT", 2, "15.0.340273435", "edgetpu#384"),
    VersionLimit("DEPTH_TO_SPACE", 2, "15.0.340273435", "edgetpu#386"),
)
"""Newer than the TFLite build inside the compiler: the model is not parsed at all [C]
(older compilers are assumed to fail too [I])."""

UNSUPPORTED_OP_VERSIONS = (
    # half_pixel_centers / align_corners make version 3 (edgetpu#187, #206, #396, #420)
    VersionLimit("RESIZE_BILINEAR", 3, "15.0.340273435", "edgetpu#187"),
    VersionLimit("RESIZE_NEAREST_NEIGHBOR", 3, "15.0.340273435", "edgetpu#206"),
)
"""Parsed, but left on the CPU with "Operation version not supported" [C]."""


# --- custom operators ------------------------------------------------------------------

FLEX_FAILS = Bounded(("edgetpu#479", "edgetpu#718"))
"""A Flex (SELECT_TF_OPS) operator fails TFLite's prepare inside the compiler: no model
comes out [C]."""
CUSTOM_ON_CPU = Bounded((
    f"{PAIRS} twins of models ending in PosenetDecoderOp (2021): the ops before it map",
    f"{PAIRS} 2.1.302470888 log: CUSTOM (TFLite_Detection_PostProcess) on the CPU",
    "f0cal/google-coral#53: compiler 2.0.267685300 compiles an SSD, 63 of 64 operations "
    "mapped, CUSTOM 'Operation is working on an unsupported data type'",
    "tensorflow/models#10695: compiler 16.0.384591198, the same CUSTOM status beside mapped "
    "operators",
))
"""Any other custom operator stays on the CPU with "Operation is working on an unsupported
data type" and the operators before it map; compilers 2.0, 2.1 and 16.0 are seen doing so,
and none is known to fail on one (the failures cited for it were Flex ops)."""


# --- operators whose output shape depends on run-time values --------------------------

SHAPE_OPERANDS: dict[str, tuple[int, ...]] = {
    "RESHAPE": (1,),
    "FILL": (0,),
    "BROADCAST_TO": (1,),
    "TILE": (1,),
    "SLICE": (1, 2),
    "STRIDED_SLICE": (1, 2, 3),
    "PAD": (1,),
    "PADV2": (1,),
    "MIRROR_PAD": (1,),
    "RESIZE_BILINEAR": (1,),
    "RESIZE_NEAREST_NEIGHBOR": (1,),
    "TRANSPOSE": (1,),
    "TRANSPOSE_CONV": (0,),
    "EXPAND_DIMS": (1,),
    "MEAN": (1,),
    "SUM": (1,),
    "REDUCE_MAX": (1,),
    "REDUCE_MIN": (1,),
    "REDUCE_PROD": (1,),
    "SPLIT": (0,),
    "SPLIT_V": (1, 2),
    "RANGE": (0, 1, 2),
    "SPACE_TO_BATCH_ND": (1, 2),
    "BATCH_TO_SPACE_ND": (1, 2),
}
"""Operand positions a TFLite kernel reads to size its output. When such an operand is
computed at run time (a ``None`` batch carried through SHAPE -> STRIDED_SLICE -> PACK, as
a Keras Reshape or Conv2DTranspose emits), TFLite marks the output dynamic and the
compiler's delegate refuses the graph (edgetpu#654, #829; tensorflow#57905) [I]."""


# --- fixes for operators Coral does not support ------------------------------------------

_ACTIVATION_FIX = (
    "Replace this activation with ReLU, ReLU6 or PReLU: Coral does not plan to support it "
    "(edgetpu#272, #508)"
)

REPLACEMENTS: dict[str, str] = {
    "LEAKY_RELU": _ACTIVATION_FIX,
    "HARD_SWISH": _ACTIVATION_FIX,
    "ELU": _ACTIVATION_FIX,
    "DEPTH_TO_SPACE": "DepthToSpace is not supported and not planned (edgetpu#386); "
    "let it run on the CPU at the end of the graph",
    "SPACE_TO_BATCH_ND": "A dilated convolution became SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND; "
    "convert with a TensorFlow version that keeps the dilation in CONV_2D (tensorflow#52290)",
    "BATCH_TO_SPACE_ND": "A dilated convolution became SPACE_TO_BATCH_ND/BATCH_TO_SPACE_ND; "
    "convert with a TensorFlow version that keeps the dilation in CONV_2D (tensorflow#52290)",
    "BIDIRECTIONAL_SEQUENCE_LSTM": "Only unidirectional LSTM maps (runtime 14); use a "
    "unidirectional LSTM",
}

CONFIRMED_UNSUPPORTED = (
    "LEAKY_RELU", "HARD_SWISH", "GATHER", "GATHER_ND", "FLOOR_MOD", "DEQUANTIZE",
    "DEPTH_TO_SPACE", "REVERSE_V2", "ELU", "CUSTOM", "BIDIRECTIONAL_SEQUENCE_LSTM",
)
"""Seen unsupported in logs or stated by maintainers [C] (edgetpu#272, #386, #464, #508,
#659, #714): none may appear in :data:`SUPPORTED_OPS`."""
