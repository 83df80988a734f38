"""Declared models: what a model repository states once, and what is measured from it.

A declaration names a model, its source, its data and its budgets. The plugin turns each
into the standard checks for every mode and target (see :mod:`pytest_tflite.declared.collector`).
Sources and datasets may be given as zero-argument functions, called once when a check
first needs them, so that collecting tests never trains or loads anything.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ModeUnavailable, TFLiteError
from ..gate.budget import Budget
from ..gate.figures import FIGURE_NAMES, figures_of
from ..gate.golden import model_folder
from ..gate.measurement import Measurement
from ..report import keys

if TYPE_CHECKING:
    from ..evaluate import Evaluation, Metric
    from ..model.flatbuffer import TFLiteModel
    from ..session import TFLiteSession
    from ..targets import Target
    from ..targets.compatibility import CompatibilityReport

REFERENCE_MODE = "float32"
"""The conversion every other mode's accuracy drop and fidelity are measured against."""


@dataclasses.dataclass(frozen=True, eq=False)
class DeclaredModel:
    """One model of the repository, with everything its standard checks need.

    ``budget`` applies to every mode, ``budgets`` per mode name (int8 may lose more than
    float16); both are merged over the defaults and under the ``tflite_budgets`` ini key.
    ``modes`` and ``targets`` narrow the run's selection for this model (None: all of it).
    """

    name: str
    source: Any
    representative_data: Any = None
    evaluation_data: Any = None
    training_data: Any = None
    modes: Sequence[str] | None = None
    targets: Sequence[str] | None = None
    budget: Budget | None = None
    budgets: Mapping[str, Budget] = dataclasses.field(default_factory=dict)
    metric: Metric | None = None
    compile_config: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TFLiteError(
                f"a declared model needs a name, not {self.name!r}",
                hint="Write DeclaredModel('mnist_mlp', source=...)",
            )
        for label, value in (("modes", self.modes), ("targets", self.targets)):
            if isinstance(value, str):
                object.__setattr__(self, label, (value,))
        object.__setattr__(self, "budgets", MappingProxyType(dict(self.budgets)))
        if self.metric is not None:
            object.__setattr__(self, "metric", _metric(self.metric, self.name))
        unknown = [b for b in (self.budget, *self.budgets.values()) if b is not None and not isinstance(b, Budget)]
        if unknown:
            raise TFLiteError(
                f"budgets must be Budget objects, not {type(unknown[0]).__name__}",
                source=self.name,
                hint="Write budget=Budget(min_accuracy=0.9) or budgets={'int8': Budget(...)}",
            )
        object.__setattr__(self, "_resolved", {})
        object.__setattr__(self, "_lock", threading.Lock())

    def budget_for(self, mode: str | None) -> Budget:
        """The declared budget of one mode: ``budget`` with ``budgets[mode]`` over it (a
        model without a mode, as a loaded file has, gets ``budget`` alone)."""
        base = self.budget or Budget()
        return base.merged(self.budgets[mode]) if mode is not None and mode in self.budgets else base

    def resolved(self, field: str) -> Any:
        """A field's value, calling it first when it was given as a zero-argument function."""
        with self._lock:  # type: ignore[attr-defined]
            cache: dict[str, Any] = self._resolved  # type: ignore[attr-defined]
            if field not in cache:
                cache[field] = _call_if_factory(getattr(self, field), self.name, field)
            return cache[field]


def _metric(metric: Any, model: str) -> Metric:
    """A Metric, or a plain ``fn(outputs, labels)`` named after the function (higher is better)."""
    from ..evaluate import Metric

    if isinstance(metric, Metric):
        return metric
    if callable(metric):
        return Metric(getattr(metric, "__name__", "metric"), metric)
    raise TFLiteError(
        f"metric must be a Metric or a function of (outputs, labels), not {type(metric).__name__}",
        source=model,
        hint="Write metric=Metric('mae', mean_abs_error, higher_is_better=False)",
    )


def _call_if_factory(value: Any, model: str, field: str) -> Any:
    """Plain functions without required arguments are factories; Keras models, tf.functions
    and generators stay as they are (they are sources and data in their own right)."""
    if not (inspect.isfunction(value) or isinstance(value, functools.partial)):
        return value
    if field == "representative_data" or inspect.isgeneratorfunction(value):
        return value  # calibration accepts a function returning a generator
    try:
        inspect.signature(value).bind()
    except TypeError:
        return value
    try:
        return value()
    except TFLiteError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's factory may raise anything
        raise TFLiteError(
            f"the function given as {field} raised {type(exc).__name__}",
            source=model,
            hint=f"Fix the {field} function of this declared model",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc


def declared_in(module: ModuleType) -> list[DeclaredModel]:
    """The models a module declares: module-level DeclaredModel objects and the ones in
    module-level lists or tuples, in the order they are written; names must be unique."""
    found: list[DeclaredModel] = []
    for value in vars(module).values():
        if isinstance(value, DeclaredModel):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found.extend(v for v in value if isinstance(v, DeclaredModel))
    unique = list({id(m): m for m in found}.values())
    names = [m.name for m in unique]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise TFLiteError(
            f"{module.__name__} declares more than one model called {', '.join(duplicates)}",
            hint="Give every declared model its own name: it names the tests and the baselines",
        )
    folders: dict[str, list[str]] = {}
    for name in names:
        folders.setdefault(model_folder(name), []).append(name)
    shared = [group for group in folders.values() if len(group) > 1]
    if shared:
        pairs = "; ".join(" and ".join(repr(n) for n in group) for group in shared)
        raise TFLiteError(
            f"{module.__name__} declares models whose baselines would share one folder: {pairs}",
            hint="Give the models names that differ in letters or digits, not only in spaces, slashes or underscores",
        )
    return unique


# --- what the standard checks measure ---------------------------------------------------


def convert_declared(session: TFLiteSession, declared: DeclaredModel, mode: str) -> TFLiteModel:
    """The declared model converted under ``mode``, through the run's shared converter."""
    source = declared.resolved("source")
    if mode not in (declared.modes or ()):
        _require_applicable(source, mode, declared.name)
    model = session.converter.convert(
        source,
        mode,
        representative_data=declared.resolved("representative_data"),
        calibration_samples=session.calibration_samples,
        name=declared.name,
        training_data=declared.resolved("training_data"),
        compile_config=declared.compile_config,
    )
    if model.mode is not None:
        return model
    from ..model.flatbuffer import TFLiteModel

    # A flatbuffer taken as it is: its checks and baseline are the mode's it runs under.
    return session.memo(
        ("as given", declared.name, mode, model.digest),
        lambda: TFLiteModel(model.content, name=model.name, mode=mode, input_names=model.input_names),
    )


def _require_applicable(source: Any, mode_name: str, name: str) -> None:
    """A flatbuffer source (a .tflite file, or a PyTorch module, which becomes one) is
    checked as it is under float32 and quantized by the ai-edge-quantizer modes; the
    TensorFlow converter's modes and the training-time ones need a TensorFlow source.
    A declaration that names such a mode in its ``modes`` labels its .tflite with it (a
    file converted under ``full_int8``, say), and is taken at its word."""
    from ..conversion.modes import get_mode
    from ..conversion.sources import as_source

    mode = get_mode(mode_name)
    if mode.name == REFERENCE_MODE or mode.recipe is not None or not as_source(source, name).is_tflite:
        return
    raise ModeUnavailable(
        "this mode runs TensorFlow's converter, and the source is a flatbuffer already",
        source=name,
        mode=mode.name,
        hint="A .tflite or PyTorch source is checked as it is under float32 and quantized by the "
        "ai-edge-quantizer modes; a .tflite converted under this mode is checked under it when the "
        "declaration names it in modes=[...]",
    )


def evaluation(session: TFLiteSession, declared: DeclaredModel, model: TFLiteModel) -> Evaluation:
    """The model's metric on the evaluation data, with fidelity against float32 (once per
    model bytes in a run, and from the cache folder in runs after)."""
    from ..evaluate import ACCURACY, remembered

    data = declared.resolved("evaluation_data")
    metric = declared.metric or ACCURACY

    def compute() -> Evaluation:
        reference = None
        if model.mode != REFERENCE_MODE:
            reference = convert_declared(session, declared, REFERENCE_MODE)
        return remembered(session.converter.cache, model, data, metric, reference)

    return session.memo(("evaluation", declared.name, metric.name, model.digest), compute)


def measurement(
    session: TFLiteSession,
    declared: DeclaredModel,
    model: TFLiteModel,
    *,
    evaluated: Evaluation | None = None,
    reports: Sequence[CompatibilityReport] = (),
) -> Measurement:
    """What the gate judges: sizes, the metric against float32's, placements."""
    from ..gate.measurement import measure

    float32 = evaluated
    if evaluated is not None and model.mode != REFERENCE_MODE:
        float32 = evaluation(session, declared, convert_declared(session, declared, REFERENCE_MODE))
    return measure(
        model,
        evaluated,
        float32_value=float32.value if float32 is not None else None,
        float32_per_sample=float32.per_sample if float32 is not None else None,
        float32_labels_digest=float32.labels_digest if float32 is not None else None,
        reports=reports,
    )


def compared_on_target(
    session: TFLiteSession, declared: DeclaredModel, model: TFLiteModel, target: Target, report: CompatibilityReport
) -> CompatibilityReport:
    """The report, with the evaluation data run on a target that runs models itself
    (``tflm``) and compared with LiteRT's reference kernels (top-1 agreement, largest
    difference); unchanged for other targets, or without evaluation data."""
    if target.compare_on is None or declared.evaluation_data is None or report.failure:
        return report
    compare_on = target.compare_on

    def compute() -> Mapping[str, Any]:
        from ..evaluate import evaluation_inputs

        return compare_on(model, evaluation_inputs(model, declared.resolved("evaluation_data")))

    found = session.memo(("compared_on", target.name, model.digest), compute)
    notes = list(report.notes)
    if "top1_agreement_eval" in found:
        notes.append(
            f"on the {found['eval_samples']} evaluation samples its top-1 class agrees with LiteRT's "
            f"reference kernels on {found['top1_agreement_eval']:.2%} of them"
        )
    return dataclasses.replace(report, details={**report.details, **found}, notes=tuple(notes))


def identity(declared: DeclaredModel, mode: str, target: str | None = None) -> list[tuple[str, str]]:
    """Which row of the session report a check's figures belong to, as ``user_properties``
    (they reach the pytest-xdist controller with the test's report)."""
    found = [(keys.MODEL_KEY, declared.name), (keys.MODE_KEY, mode)]
    return found + ([(keys.TARGET_KEY, target)] if target is not None else [])


REPORTED_DETAILS = ("tool", "max_diff_lsb", "max_abs_diff", "top1_agreement_eval", "eval_samples")
"""What a report's details carry into the session report besides the target figures: which
tool measured them, and how a target that runs models agrees with the reference kernels."""


def properties(
    model: TFLiteModel, evaluated: Evaluation | None = None, reports: Sequence[CompatibilityReport] = ()
) -> dict[str, Any]:
    """Measurements as flat name -> value pairs, for ``record_property`` (JUnit XML)."""
    values: dict[str, Any] = {
        keys.key("size_bytes"): model.size_bytes,
        keys.key("gzip_size_bytes"): model.gzip_size_bytes,
    }
    if evaluated is not None:
        values[keys.key("metric")] = evaluated.metric
        values[keys.key(evaluated.metric)] = round(evaluated.value, 6)
        if evaluated.fidelity is not None:
            for name, value in evaluated.fidelity.to_dict().items():
                values[keys.key(f"fidelity_{name}")] = value
    if evaluated is not None and evaluated.kernels is not None:
        values[keys.key("kernels")] = evaluated.kernels
    for report in reports:
        values[keys.target_key(report.target, "ops_on_target")] = report.ops_on_target
        values[keys.target_key(report.target, "ops_total")] = report.ops_total
        values[keys.target_key(report.target, "verdict")] = report.verdict
        for name, value in figures_of(report.details).items():
            values[keys.target_key(report.target, name)] = value
        for name in REPORTED_DETAILS:
            if isinstance(report.details.get(name), (str, int, float)):
                values[keys.target_key(report.target, name)] = report.details[name]
    return values


def reference_properties(figures: Measurement, golden: Mapping[str, Any] | None) -> dict[str, Any]:
    """What ``figures`` are compared with (the golden baseline's values and the float32
    conversion's metric), for ``record_property``: the session report shows the deltas."""
    golden = golden or {}
    values: dict[str, Any] = {
        keys.key(f"golden_{name}"): golden[name] for name in ("size_bytes", "gzip_size_bytes") if name in golden
    }
    if figures.metric is not None:
        if figures.float32_value is not None:
            values[keys.key(f"float32_{figures.metric}")] = round(figures.float32_value, 6)
        recorded = golden.get("metric") or {}
        if recorded.get("name") == figures.metric and recorded.get("value") is not None:
            values[keys.key(f"golden_{figures.metric}")] = recorded["value"]
    values.update(interval_properties(figures, golden))
    placed = golden.get("targets") or {}
    for target in figures.on_target:
        for name in ("ops_on_target", "ops_total", *FIGURE_NAMES):
            if name in (placed.get(target) or {}):
                values[keys.target_key(f"golden_{target}", name)] = placed[target][name]
    return values


def interval_properties(figures: Measurement, golden: Mapping[str, Any] | None) -> dict[str, Any]:
    """The paired intervals of the metric's change (at the default confidence), or why one
    cannot be paired, for ``record_property``."""
    from ..gate.judging import paired
    from ..gate.significance import Change

    values: dict[str, Any] = {}
    for reference, found in paired(figures, golden).items():
        if isinstance(found, Change):
            fields = found.to_dict().items()
            values.update({keys.interval_key(reference, name): v for name, v in fields if v is not None})
        else:
            values[keys.interval_key(reference, "missing")] = found
    return values
