"""pytest collectors for declared models: a class of standard checks per model.

A file matching the ``tflite_model_files`` ini key (default ``tflite_models.py``) is
collected as a module of declarations; each :class:`DeclaredModel` in it becomes a class
named after the model, whose checks are parametrized over the selected modes and targets
like any test, so ids read ``tflite_models.py::mnist_mlp::test_compatible[int8-edgetpu]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..conversion.modes import Mode
from ..errors import TFLiteError
from ..gate.baseline import METRIC, NO_BASELINE_MARK, PLACEMENT, SIZE, BaselineFailure
from ..report.keys import CHECK_KEY
from ..session import TFLiteSession, skip_unavailable, tflite_session_of
from . import checks
from .checks import DeclaredModel, declared_in

if TYPE_CHECKING:
    from ..evaluate import Evaluation
    from ..latency import Latency
    from ..model.flatbuffer import TFLiteModel
    from ..targets import Target
    from ..targets.compatibility import CompatibilityReport


class DeclaredModule(pytest.Module):
    """A module of model declarations (it may hold ordinary tests too)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        try:
            models = declared_in(self.obj)
        except TFLiteError as exc:
            raise self.CollectError(str(exc)) from None
        tflite_session_of(self.config).declared_names.update(m.name for m in models)
        collected = list(super().collect())
        return collected + [DeclaredClass.from_parent(self, name=m.name, declared=m) for m in models]


class DeclaredClass(pytest.Class):
    """The standard checks of one declared model."""

    def __init__(self, *, declared: DeclaredModel, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.declared = declared

    def _getobj(self) -> type:
        marks = [pytest.mark.tflite(modes=self.declared.modes, targets=self.declared.targets)]
        return type(self.name, (StandardChecks,), {"declared": self.declared, "pytestmark": marks})


class StandardChecks:
    """converts, size, accuracy, compatible: what every declared model must keep; and
    latency, recorded for pytest-benchmark to save and compare between runs."""

    declared: DeclaredModel

    def test_converts(self, tflite_mode: Mode, tflite_session: TFLiteSession, request: pytest.FixtureRequest) -> None:
        request.node.user_properties.extend(checks.identity(self.declared, tflite_mode.name))
        model = _converted(tflite_session, self.declared, tflite_mode.name)
        model.runner  # noqa: B018 - loading it in the interpreter is the check
        request.node.user_properties.extend(checks.properties(model).items())

    def test_size(self, tflite_mode: Mode, tflite_session: TFLiteSession, request: pytest.FixtureRequest) -> None:
        request.node.user_properties.extend(checks.identity(self.declared, tflite_mode.name))
        model = _converted(tflite_session, self.declared, tflite_mode.name)
        _judge(request, tflite_session, self.declared, model, SIZE, op_histogram=model.op_histogram)

    def test_accuracy(self, tflite_mode: Mode, tflite_session: TFLiteSession, request: pytest.FixtureRequest) -> None:
        request.node.user_properties.extend(checks.identity(self.declared, tflite_mode.name))
        if self.declared.evaluation_data is None:
            pytest.skip(f"model {self.declared.name!r} declares no evaluation_data")
        model = _converted(tflite_session, self.declared, tflite_mode.name)
        evaluated = checks.evaluation(tflite_session, self.declared, model)
        try:
            _judge(request, tflite_session, self.declared, model, METRIC, evaluated=evaluated)
        except BaselineFailure as failure:
            if NO_BASELINE_MARK in str(failure):
                raise
            layers = _drill_down(request, tflite_session, self.declared, model, failed=True)
            if not layers:
                raise
            detail = f"{failure.detail}\n\n{layers}" if failure.detail else layers
            raise BaselineFailure(
                failure.problem, source=failure.source, mode=failure.mode, hint=failure.hint, detail=detail
            ) from None
        _drill_down(request, tflite_session, self.declared, model, failed=False)

    def test_compatible(
        self,
        tflite_mode: Mode,
        tflite_target: Target,
        tflite_session: TFLiteSession,
        request: pytest.FixtureRequest,
    ) -> None:
        from ..targets.registry import require_fit

        request.node.user_properties.extend(
            checks.identity(self.declared, tflite_mode.name, tflite_target.name)
        )
        model = _converted(tflite_session, self.declared, tflite_mode.name)
        report = tflite_session.compatibility(model, tflite_target)
        report = checks.compared_on_target(tflite_session, self.declared, model, tflite_target, report)
        if report.failure or report.ops_nowhere:
            require_fit(report, min_on_target=0.0)
        _judge(request, tflite_session, self.declared, model, PLACEMENT, reports=[report])

    def test_latency(
        self,
        tflite_mode: Mode,
        tflite_session: TFLiteSession,
        tflite_benchmark: Callable[..., Latency | None],
        request: pytest.FixtureRequest,
    ) -> None:
        request.node.user_properties.extend(checks.identity(self.declared, tflite_mode.name))
        model = _converted(tflite_session, self.declared, tflite_mode.name)
        request.node.user_properties.extend(checks.properties(model).items())
        tflite_benchmark(model)


def _drill_down(
    request: pytest.FixtureRequest, session: TFLiteSession, declared: DeclaredModel, model: TFLiteModel, *, failed: bool
) -> str:
    """The per-layer quantization errors of a model against its float32 conversion, when its
    accuracy check failed or ``--tflite-drill-down`` asks: recorded for the reports, and
    returned as text for the failure message (empty when not measured)."""
    from ..drilldown import drill_down_for_check

    if model.mode == checks.REFERENCE_MODE:
        return ""
    reference = _converted(session, declared, checks.REFERENCE_MODE)
    text, found = drill_down_for_check(session, declared, model, reference, failed=failed)
    request.node.user_properties.extend(found)
    return text


def _converted(session: TFLiteSession, declared: DeclaredModel, mode: str) -> TFLiteModel:
    return skip_unavailable(checks.convert_declared, session, declared, mode)


def _judge(
    request: pytest.FixtureRequest,
    session: TFLiteSession,
    declared: DeclaredModel,
    model: TFLiteModel,
    part: str,
    *,
    evaluated: Evaluation | None = None,
    reports: Sequence[CompatibilityReport] = (),
    op_histogram: Mapping[str, int] | None = None,
) -> None:
    """Measure, attach the figures to the report, and pass them through the gate."""
    gate = session.gate
    figures = checks.measurement(session, declared, model, evaluated=evaluated, reports=reports)
    request.node.user_properties.extend(checks.properties(model, evaluated, reports).items())
    mode = model.mode
    baseline = gate.baseline(declared.name, mode)
    request.node.user_properties.extend(checks.reference_properties(figures, baseline).items())
    gate.check(
        declared.name,
        mode,
        figures,
        part,
        budget=gate.budget(declared.name, mode, declared.budget_for(mode)),
        nodeid=request.node.nodeid,
        op_histogram=op_histogram,
        reports=reports,
    )


def declared_check(item: pytest.Item) -> tuple[DeclaredModel | None, str | None, str | None]:
    """The declared model, mode and target of a standard check (None for other tests)."""
    declared = getattr(getattr(item, "cls", None), "declared", None)
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    mode, target = params.get("tflite_mode"), params.get("tflite_target")
    return declared, mode if isinstance(mode, str) else None, target if isinstance(target, str) else None


def skipped_at_declaration(item: pytest.Item, report: pytest.TestReport) -> None:
    """A skipped standard check points at the model's declaration (``tflite_models.py:42``)
    rather than at the plugin's code, which pytest would name: the user's line is where
    the modes and targets that skip are chosen."""
    if not (report.skipped and isinstance(report.longrepr, tuple) and len(report.longrepr) == 3):
        return
    declared = getattr(getattr(item, "cls", None), "declared", None)
    if declared is None:
        return
    path, line = declaration_line(item.path, declared.name)
    report.longrepr = (str(path), line, report.longrepr[2])


def declaration_line(path: Path, name: str) -> tuple[Path, int]:
    """The file and (1-based) line that first names the model, else the file's first."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return path, 1
    quoted = (f'"{name}"', f"'{name}'")
    number = next((i for i, line in enumerate(lines, 1) if any(q in line for q in quoted)), 1)
    return path, number


def name_check(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the model, mode, target and check in a declared check's report, also when its
    body never ran (a skip or error at setup), so each has its place in the session report."""
    declared, mode, target = declared_check(item)
    if declared is None or mode is None:
        return
    check = getattr(item, "originalname", item.name).removeprefix("test_")
    present = {pair[0] for pair in report.user_properties}
    wanted = [*checks.identity(declared, mode, target), (CHECK_KEY, check)]
    report.user_properties = [p for p in wanted if p[0] not in present] + list(report.user_properties)
