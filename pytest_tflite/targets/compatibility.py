"""The compatibility report every target produces: where each operator runs, and why.

Plain data (no TensorFlow, no interpreter): a target's rule engine fills it in, tests
assert on it, the command line prints it, and ``to_dict`` makes it JSON.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

FLEX_PREFIX = "Flex"
"""How a Flex (Select TF) operator's custom code begins: TensorFlow ops no target runs."""

ON_TARGET = "target"
"""The operator runs on the target's accelerator (or, for ``cpu``, its builtin kernels)."""
ON_CPU = "cpu"
"""The operator falls back to the CPU: the model runs, but more slowly."""
NOWHERE = "none"
"""The operator cannot run at all on this target: the model does not load or run."""

PLACEMENTS = (ON_TARGET, ON_CPU, NOWHERE)

COMPATIBLE = "compatible"
PARTIAL = "partial"
INCOMPATIBLE = "incompatible"


@dataclasses.dataclass(frozen=True)
class OpPlacement:
    """Where one operator runs on a target, and the reason in words."""

    index: int
    op: str
    version: int
    runs_on: str
    reason: str
    fix: str = ""
    """What would move the operator onto the target (a mode, a layer change), if known."""

    def __post_init__(self) -> None:
        if self.runs_on not in PLACEMENTS:
            raise ValueError(f"runs_on must be one of {PLACEMENTS}, not {self.runs_on!r}")

    @property
    def on_target(self) -> bool:
        return self.runs_on == ON_TARGET

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "index": self.index,
            "op": self.op,
            "version": self.version,
            "runs_on": self.runs_on,
            "on_target": self.on_target,
            "reason": self.reason,
        }
        if self.fix:
            data["fix"] = self.fix
        return data


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(row, Mapping) for row in value)


@dataclasses.dataclass(frozen=True)
class CompatibilityReport:
    """Operator-by-operator placement of one model on one target, with a verdict.

    ``static`` is True when the placement was predicted from rules rather than observed
    on the hardware. ``failure`` is set when the whole model cannot be prepared for the
    target (a compile that fails, a model that does not allocate). ``details`` holds
    target-specific figures, such as the operators the XNNPACK delegate takes.
    """

    target: str
    model: str
    mode: str | None
    ops: tuple[OpPlacement, ...]
    static: bool = True
    failure: str | None = None
    notes: tuple[str, ...] = ()
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    target_title: str = ""
    """The target as people name it in prose ("Edge TPU"); defaults to ``target``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))
        if not self.target_title:
            object.__setattr__(self, "target_title", self.target)

    @property
    def ops_total(self) -> int:
        return len(self.ops)

    @property
    def ops_on_target(self) -> int:
        return sum(op.on_target for op in self.ops)

    @property
    def ops_on_cpu(self) -> int:
        return sum(op.runs_on == ON_CPU for op in self.ops)

    @property
    def ops_nowhere(self) -> int:
        return sum(op.runs_on == NOWHERE for op in self.ops)

    @property
    def fraction_on_target(self) -> float:
        """Share of operators on the target (1.0 for a model without operators)."""
        return self.ops_on_target / self.ops_total if self.ops else 1.0

    @property
    def off_target(self) -> tuple[OpPlacement, ...]:
        return tuple(op for op in self.ops if not op.on_target)

    @property
    def first_break(self) -> OpPlacement | None:
        """The first operator, in execution order, that does not run on the target."""
        return next(iter(self.off_target), None)

    @property
    def verdict(self) -> str:
        if self.failure or self.ops_nowhere or (self.ops and not self.ops_on_target):
            return INCOMPATIBLE
        return COMPATIBLE if self.ops_on_target == self.ops_total else PARTIAL

    @property
    def compatible(self) -> bool:
        return self.verdict == COMPATIBLE

    def table(self) -> list[tuple[str, int, str]]:
        """(operator, count, status) rows, as the Edge TPU compiler's log groups them,
        in order of first appearance."""
        counts: dict[tuple[str, str], int] = {}
        for op in self.ops:
            key = (op.op, op.reason)
            counts[key] = counts.get(key, 0) + 1
        return [(name, count, reason) for (name, reason), count in counts.items()]

    def format_table(self) -> str:
        """The table in the compiler log's fixed-width layout."""
        lines = [f"{'Operator':<31}{'Count':<11}Status", ""]
        lines += [f"{name:<31}{count:<11}{status}" for name, count, status in self.table()]
        return "\n".join(lines)

    def fixes(self) -> list[str]:
        """Distinct suggested fixes of the operators off the target, in order."""
        return list(dict.fromkeys(op.fix for op in self.off_target if op.fix))

    def summary(self) -> str:
        """One line: operators on target, first break, verdict."""
        mode = f" ({self.mode})" if self.mode else ""
        text = (
            f"{self.model}{mode} on {self.target_title}: {self.ops_on_target} of "
            f"{self.ops_total} operators on the target; verdict {self.verdict}"
        )
        if self.failure:
            text += f"; {self.failure}"
        elif self.first_break is not None:
            op = self.first_break
            text += f"; first break: operator {op.index} {op.op}: {op.reason}"
        return text

    def render(self) -> str:
        """Summary, notes, every operator with its placement, and the compiler-style table."""
        from tabulate import tabulate

        lines = [self.summary()]
        lines += [f"note: {note}" for note in self.notes]
        tables = {k: v for k, v in self.details.items() if _is_table(v)}
        lines += [f"{key}: {value}" for key, value in sorted(self.details.items()) if key not in tables]
        if self.ops:
            rows = [(op.index, op.op, op.version, op.runs_on, op.reason) for op in self.ops]
            lines += ["", tabulate(rows, headers=["#", "operator", "v", "runs on", "reason"])]
            lines += ["", self.format_table()]
        for key, rows in tables.items():  # a tool's own table, such as Vela's per-layer one
            lines += ["", f"{key}:", tabulate(rows, headers="keys")]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        first = self.first_break
        return {
            "target": self.target,
            "model": self.model,
            "mode": self.mode,
            "verdict": self.verdict,
            "static": self.static,
            "failure": self.failure,
            "ops_total": self.ops_total,
            "ops_on_target": self.ops_on_target,
            "ops_on_cpu": self.ops_on_cpu,
            "ops_nowhere": self.ops_nowhere,
            "fraction_on_target": round(self.fraction_on_target, 4),
            "first_break": first.to_dict() if first else None,
            "notes": list(self.notes),
            "details": dict(self.details),
            "ops": [op.to_dict() for op in self.ops],
            "table": [{"op": n, "count": c, "status": s} for n, c, s in self.table()],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), **{"indent": 2, "sort_keys": True, **kwargs})
