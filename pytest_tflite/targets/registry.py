"""Targets: a name, the arithmetic it accepts, and the rule engine that places operators.

A target is data plus one function, like a quantization mode: ``analyze(model, options)``
returns a :class:`CompatibilityReport`. The registry is open, so a conftest can add a
target or a variant with other options (an older Edge TPU runtime, say).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..conversion.modes import ACTIVATIONS, Mode, get_mode, iter_modes
from ..errors import CompatibilityFailure, TargetError
from ..registry import Registry
from .compatibility import CompatibilityReport

if TYPE_CHECKING:
    import numpy as np

    from ..model.flatbuffer import TFLiteModel

Analyze = Callable[["TFLiteModel", Mapping[str, object]], CompatibilityReport]
"""``analyze(model, options)``: place every operator of the model on the target."""
CompareOn = Callable[["TFLiteModel", Sequence["np.ndarray"]], Mapping[str, Any]]
"""``compare_on(model, inputs)``: run float inputs on the target itself and say how its
outputs agree with LiteRT's reference kernels (figures for the report's details)."""


@dataclasses.dataclass(frozen=True)
class Target:
    """Hardware a model is checked against, and how it is checked."""

    name: str
    title: str
    description: str
    analyze: Analyze = dataclasses.field(repr=False, compare=False)
    accepts: tuple[str, ...] = ACTIVATIONS
    """The arithmetic (a mode's ``activations``) this target can run at all."""
    options: Mapping[str, object] = dataclasses.field(default_factory=dict)
    hybrid: bool = True
    """Whether it runs float arithmetic on weights stored as int8 or float16 (the
    dynamic-range and float16 modes); TFLite Micro has no such kernels."""
    compare_on: CompareOn | None = dataclasses.field(default=None, repr=False, compare=False)
    """Set for a target that runs models itself: declared models' evaluation data go through it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        object.__setattr__(self, "accepts", tuple(self.accepts))

    def check(self, model: TFLiteModel) -> CompatibilityReport:
        """Where each operator of ``model`` runs on this target (a variant registered
        under its own name reports under that name)."""
        report = self.analyze(model, self.options)
        if report.target != self.name:
            report = dataclasses.replace(report, target=self.name)
        return report

    def with_options(self, *, name: str | None = None, **options: object) -> Target:
        """A copy with some options changed (unknown options are an error)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise TargetError(
                f"target {self.name!r} has no option(s) {', '.join(unknown)}",
                hint=f"It takes: {known}",
            )
        return dataclasses.replace(self, name=name or self.name, options={**self.options, **options})

    def skip_reason(self, mode: str | Mode) -> str | None:
        """Why ``mode`` can never hold on this target (and which modes would), else None."""
        mode = get_mode(mode)
        if self.runs(mode):
            return None
        fitting = [m.name for m in iter_modes() if self.runs(m)]
        what = f"{mode.activations} arithmetic"
        if mode.activations in self.accepts:
            what += f" on {mode.weights} weights"
        return (
            f"the {self.title} cannot run {what}, which mode "
            f"{mode.name!r} produces; modes that fit: {', '.join(fitting) or 'none registered'}"
        )

    def runs(self, mode: Mode) -> bool:
        """Whether models of ``mode`` can run here at all."""
        return mode.activations in self.accepts and (self.hybrid or not mode.hybrid)

    def __str__(self) -> str:
        return self.name


_TARGETS: Registry[Target] = Registry("target", "targets", Target, TargetError)
_REGISTRY = _TARGETS.items


def register_target(target: Target, *, replace: bool = False) -> Target:
    """Add a target, so ``--tflite-target`` and markers can name it."""
    return _TARGETS.register(target, replace=replace)


def get_target(target: str | Target) -> Target:
    """The registered target of that name (a :class:`Target` is returned as is)."""
    return _TARGETS.get(target)


def target_names() -> list[str]:
    return _TARGETS.names()


def iter_targets() -> Iterator[Target]:
    return iter(_TARGETS)


def check(model: TFLiteModel, target: str | Target) -> CompatibilityReport:
    """Where each operator of ``model`` runs on ``target`` (a name or a :class:`Target`)."""
    return get_target(target).check(model)


def assert_compatible(
    model: TFLiteModel, target: str | Target, *, min_on_target: float = 1.0
) -> CompatibilityReport:
    """Fail unless at least ``min_on_target`` of the operators run on the target and
    every operator can run somewhere; the message lists the offenders and what would fix them."""
    if not 0.0 <= min_on_target <= 1.0:
        raise TargetError(
            f"min_on_target must be a fraction between 0 and 1, not {min_on_target!r}",
            hint="Write min_on_target=0.9 for 90 percent",
        )
    return require_fit(check(model, target), min_on_target)


def require_fit(report: CompatibilityReport, min_on_target: float = 1.0) -> CompatibilityReport:
    """``report`` itself when its model fits (see :func:`assert_compatible`), else the
    failure: for a report already made, so the target's tool does not run twice."""
    problems = []
    if report.failure:
        problems.append(report.failure)
    if report.ops_nowhere:
        problems.append(f"{report.ops_nowhere} operator(s) cannot run at all")
    if report.fraction_on_target < min_on_target:
        problems.append(
            f"{report.ops_on_target} of {report.ops_total} operators "
            f"({report.fraction_on_target:.0%}) run on the {report.target_title}, "
            f"below the required {min_on_target:.0%}"
        )
    if problems:
        raise CompatibilityFailure(
            f"does not fit the {report.target_title}: " + "; ".join(problems),
            source=report.model,
            mode=report.mode,
            hint=". ".join(fix.rstrip(". ") for fix in report.fixes()) or None,
            detail=_offenders(report),
        )
    return report


def _offenders(report: CompatibilityReport) -> str:
    from tabulate import tabulate

    rows = [(op.index, op.op, op.runs_on, op.reason) for op in report.off_target]
    return tabulate(rows, headers=["#", "operator", "runs on", "reason"]) if rows else ""
