"""What the rule engines share: the graph their rules read, the finding a rule makes, the settings.

An engine reads its table, runs its rules over each operator of a :class:`Graph` and gets
a :class:`Finding` (the operator stays off the target) or None (a candidate) per operator;
the candidates are partitioned (:mod:`.partition`) and the result is a
:class:`~.compatibility.CompatibilityReport`. Settings are a frozen dataclass whose
fields are the target's options, read by :func:`read_settings`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import TargetError
from .compatibility import ON_CPU, OpPlacement

if TYPE_CHECKING:
    import numpy as np
    from _typeshed import DataclassInstance

    from ..model.flatbuffer import Operator, Tensor, TFLiteModel

T = TypeVar("T")
S = TypeVar("S")
D = TypeVar("D", bound="DataclassInstance")


@dataclasses.dataclass(frozen=True)
class Finding:
    """What a rule says about an operator it keeps off the target: where the operator runs
    instead, why (in the target's own words), and what would change that."""

    reason: str
    fix: str = ""
    runs_on: str = ON_CPU

    def placement(self, op: Operator) -> OpPlacement:
        return OpPlacement(op.index, op.name, op.version, self.runs_on, self.reason, self.fix)


Rule = Callable[["Operator", "Graph", S], "Finding | None"]
"""``rule(op, graph, settings)``: a finding when ``op`` cannot be a candidate, else None."""


def first_finding(rules: Iterable[Rule[S]], op: Operator, graph: Graph, settings: S) -> Finding | None:
    """The finding of the first rule that objects to ``op`` (the rules' order is the target's)."""
    return next((f for rule in rules if (f := rule(op, graph, settings)) is not None), None)


def findings(rules: Sequence[Rule[S]], graph: Graph, settings: S) -> list[Finding | None]:
    """One entry per operator, in execution order: its first finding, or None."""
    return [first_finding(rules, op, graph, settings) for op in graph.operators]


# --- the model as rules see it ---------------------------------------------------------


class Graph:
    """The main subgraph as rules read it: operators, tensors, who writes and who reads each.

    ``aliases`` (tensor -> tensor) makes operators read one tensor as another, as a
    delegate does when it skips a node: the GPU delegate's readers of a float16
    DEQUANTIZE read its float16 constant.
    """

    def __init__(self, model: TFLiteModel, aliases: Mapping[int, int] | None = None) -> None:
        self.model = model
        self.operators = model.operators
        self.tensors = model.tensors
        self.aliases = dict(aliases or {})
        self._producers: dict[int, list[Operator]] = defaultdict(list)
        self._consumers: dict[int, list[Operator]] = defaultdict(list)
        for op in self.operators:
            for t in op.outputs:
                self._producers[t].append(op)
            for t in op.inputs:
                if t >= 0:
                    self._consumers[t].append(op)

    def producers(self, tensor: int) -> Sequence[Operator]:
        return self._producers.get(tensor, [])

    def consumers(self, tensor: int) -> Sequence[Operator]:
        return self._consumers.get(tensor, [])

    def inputs(self, op: Operator) -> tuple[Tensor | None, ...]:
        """The operands in order; None where the model omits an optional one (index -1)."""
        return tuple(None if t < 0 else self.tensors[self.aliases.get(t, t)] for t in op.inputs)

    def input(self, op: Operator, position: int) -> Tensor | None:
        return self.inputs(op)[position] if position < len(op.inputs) else None

    def present_inputs(self, op: Operator) -> list[Tensor]:
        return [t for t in self.inputs(op) if t is not None]

    def outputs(self, op: Operator) -> tuple[Tensor, ...]:
        return tuple(self.tensors[t] for t in op.outputs)

    def output(self, op: Operator) -> Tensor:
        return self.tensors[op.outputs[0]]

    def operands(self, op: Operator) -> list[Tensor]:
        return [*self.present_inputs(op), *self.outputs(op)]

    def activations(self, op: Operator) -> list[Tensor]:
        """The operands computed at run time."""
        return [t for t in self.operands(op) if not t.is_constant]

    def runtime_inputs(self, op: Operator) -> int:
        """Inputs that are neither constant nor omitted (TFLite's ``GetNumberOfRuntimeInputs``)."""
        return sum(not t.is_constant for t in self.present_inputs(op))

    def constant_inputs(self, op: Operator) -> int:
        return sum(t.is_constant for t in self.present_inputs(op))

    def at_the_ends(self, op: Operator) -> bool:
        """The op reads a graph input or writes a graph output."""
        ends = {t.index for t in (*self.model.inputs, *self.model.outputs)}
        return bool(ends & {*op.inputs, *op.outputs})

    def values(self, op: Operator, position: int) -> np.ndarray | None:
        """The constant data of an operand, or None when it is computed at run time."""
        tensor = self.input(op, position)
        if tensor is None or not tensor.is_constant:
            return None
        return self.model.constant_value(tensor.index)

    @functools.cached_property
    def blockwise(self) -> frozenset[int]:
        return blockwise_tensors(self.model)

    @functools.cached_property
    def quantized(self) -> bool:
        """Some activation carries quantization parameters (int8, uint8 or int16)."""
        return any(not t.is_constant and t.quantization is not None for t in self.tensors)


def blockwise_tensors(model: TFLiteModel) -> frozenset[int]:
    """Tensors of the main subgraph quantized in blocks along their input dimension
    (ai-edge-quantizer's blockwise int4 weights, whose scales are a tensor of their own):
    some kernels compute them wrongly, or not at all."""
    from ai_edge_litert import schema_py_generated as schema

    graph = schema.Model.GetRootAs(model.content, 0).Subgraphs(0)
    blockwise = schema.QuantizationDetails.BlockwiseQuantization
    found = set()
    for index in range(graph.TensorsLength()):
        quantization = graph.Tensors(index).Quantization()
        if quantization is not None and quantization.DetailsType() == blockwise:
            found.add(index)
    return frozenset(found)


def builtin_option(op: Operator, field: str, default: Any = 0) -> Any:
    """A builtin option of ``op`` (the flatbuffer's field name), with the schema default when
    the model stores none."""
    value = getattr(op.options, field, None) if op.options is not None else None
    return default if value is None else value


# --- settings ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Accepts:
    test: Callable[[object], bool]
    expected: str
    hint: str | Callable[[], str]


def setting(
    default: T, accepts: Callable[[object], bool], expected: str, hint: str | Callable[[], str] = ""
) -> T:
    """A settings field, read from the target option of the same name.

    ``accepts`` tests a value; ``expected`` completes "<option> must be ..." in the error;
    ``hint`` says what to write instead (a function when it is drawn from a table that
    can grow).
    """
    return dataclasses.field(
        default=default, metadata={"accepts": _Accepts(accepts, expected, hint)}
    )


def read_settings(settings: type[D], target: str, options: Mapping[str, object]) -> D:
    """The target's options as ``settings``; an option left out takes the field's default."""
    values: dict[str, object] = {}
    for field in dataclasses.fields(settings):
        accepts = field.metadata.get("accepts")
        if not isinstance(accepts, _Accepts):
            continue
        value = options.get(field.name, field.default)
        if not accepts.test(value):
            hint = accepts.hint() if callable(accepts.hint) else accepts.hint
            raise TargetError(
                f"{target} target: {field.name} must be {accepts.expected}, not {value!r}",
                hint=hint or None,
            )
        values[field.name] = value
    return settings(**values)


def default_options(settings: type[DataclassInstance]) -> dict[str, object]:
    """The options a target built on ``settings`` takes, with their defaults."""
    return {f.name: f.default for f in dataclasses.fields(settings) if "accepts" in f.metadata}


def one_of(choices: Sequence[str]) -> Callable[[object], bool]:
    return lambda value: value in choices


def is_bool(value: object) -> bool:
    return isinstance(value, bool)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
