"""How a delegate's graph is cut into regions, as TensorFlow Lite's partitioner does it.

``tensorflow/lite/graph_info.cc`` (``PartitionGraphIntoIndependentNodeSubsets``) walks
the nodes in execution order and grows a subset of one kind (supported by the delegate
or not) with every node whose inputs are ready, until none can join; then it starts a
subset of the other kind. Independent branches therefore join a region even when they
come later in the operator list. Delegates then keep some of the supported subsets: the
GPU delegate the largest, the Edge TPU compiler the first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model.flatbuffer import Operator, TFLiteModel


@dataclasses.dataclass(frozen=True)
class Region:
    """A run of operators of one kind, in the order the partitioner formed them."""

    supported: bool
    ops: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ops)


def partition(model: TFLiteModel, supported: Sequence[bool]) -> list[Region]:
    """Cut the main subgraph into alternating supported / unsupported regions."""
    operators = model.operators
    if len(supported) != len(operators):
        raise ValueError(f"{len(supported)} flags for {len(operators)} operators")
    produced = {t for op in operators for t in op.outputs}
    available = {t.index for t in model.tensors if t.index not in produced}
    pending = list(range(len(operators)))
    regions: list[Region] = []
    while pending:
        kind = _first_ready_kind(operators, pending, available, supported)
        members: list[int] = []
        grown = True
        while grown:
            grown = False
            for i in list(pending):
                if supported[i] == kind and _ready(operators[i].inputs, available):
                    members.append(i)
                    pending.remove(i)
                    available.update(operators[i].outputs)
                    grown = True
        if not members:  # only a malformed graph gets here; keep going in listed order
            members.append(pending.pop(0))
            available.update(operators[members[0]].outputs)
        regions.append(Region(kind, tuple(members)))
    return regions


def _first_ready_kind(
    operators: Sequence[Operator], pending: list[int], available: set[int], supported: Sequence[bool]
) -> bool:
    for i in pending:
        if _ready(operators[i].inputs, available):
            return supported[i]
    return supported[pending[0]]


def _ready(inputs: Sequence[int], available: set[int]) -> bool:
    return all(t < 0 or t in available for t in inputs)
