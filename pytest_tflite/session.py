"""The state of one pytest run and the decisions made on it: which modes and targets
were selected, the shared converter, compatibility reports, the gate, latency settings,
the session report, what pytest-xdist workers send back, and which baselines went unused.

The plugin's hooks forward to this object (:mod:`pytest_tflite.plugin`); nothing here
imports TensorFlow.
"""

from __future__ import annotations

import os
import shlex
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

import pytest

from .errors import ModeError, ModeUnavailable, TargetError, TFLiteError
from .latency import LatencyRun
from .options import ALL, RunSettings

if TYPE_CHECKING:
    from .conversion.converter import Converter
    from .conversion.modes import Mode
    from .gate.baseline import Gate
    from .model.flatbuffer import TFLiteModel
    from .report.run import RunReport
    from .report.summary import Summary
    from .targets import CompatibilityReport, Target

MARKER_ARGUMENTS = ("modes", "targets")
SESSION_KEY = pytest.StashKey["TFLiteSession"]()
WORKER_OUTPUT_KEY = "tflite_session"
"""Where a pytest-xdist worker leaves what the controller merges (``workeroutput``)."""

T = TypeVar("T")
P = ParamSpec("P")


class _Registered(Protocol):
    """What a registry lookup returns: a mode or a target, known by its name."""

    @property
    def name(self) -> str: ...


class TFLiteSession:
    """Settings read from the command line and ini file, and the run's conversions."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.requested_modes = list(settings.modes)
        self.requested_targets = list(settings.targets)
        self.cache_dir = settings.cache_dir
        self.calibration_samples = settings.calibration_samples
        self.latency = LatencyRun(threads=settings.threads, warmup=settings.warmup)
        self._report: RunReport | None = None
        self._gate: Gate | None = None
        self._converter: Converter | None = None
        self._worker_stats: Counter[str] = Counter()
        self._reports: dict[tuple[str, str, str], CompatibilityReport] = {}
        self._memo: dict[Hashable, Any] = {}
        self.used_golden: set[str] = set()
        """Baselines the checks of this run looked at (for the stale listing)."""
        self.declared_names: set[str] = set()
        """Every declared model collected, selected or not (for the budget scopes' check)."""
        self.without_baseline = 0
        """Checks that failed for want of a baseline (a new repository's first run)."""
        self.deselected = False
        self.stopped_early = False
        self.run_id = uuid.uuid4().hex
        """One id for the controller and all its workers (pytest-xdist passes it on)."""
        self.controller_pid: int | None = None
        self.terminal_config: Any = None
        """The pytest config whose terminal the controller writes workers' progress lines to."""
        self.worker_progress: list[str] = []
        """A worker's progress lines since its last test report."""
        """Set in a pytest-xdist worker: the controller process that started it."""

    def join_controller(self, workerinput: Mapping[str, Any]) -> None:
        """In a pytest-xdist worker: take the controller's run id, and note its process."""
        self.run_id = str(workerinput.get(RUN_ID_KEY, self.run_id))
        self.controller_pid = os.getppid()

    @property
    def report(self) -> RunReport:
        """The session report, started by the first test report."""
        if self._report is None:
            from .report.run import RunReport

            self._report = RunReport(self.settings.report_paths)
        return self._report

    @property
    def gate(self) -> Gate:
        """The golden baselines and budgets, opened on first use."""
        if self._gate is None:
            from .gate.baseline import Gate

            settings = self.settings
            self._gate = Gate(
                golden_dir=settings.golden_dir,
                update=settings.update_golden,
                budgets=settings.budgets,
                run_id=self.run_id,
                controller_pid=self.controller_pid,
            )
        return self._gate

    @property
    def converter(self) -> Converter:
        if self._converter is None:
            from .conversion.converter import Converter

            self._converter = Converter(self.cache_dir)
        return self._converter

    @property
    def conversion_stats(self) -> dict[str, int]:
        """Conversions of this process plus those reported by pytest-xdist workers."""
        own = self._converter.stats if self._converter else Counter()
        return dict(own + self._worker_stats)

    def convert(
        self, source: Any, mode: Mode, *, calibration_samples: int | None = None, **options: Any
    ) -> TFLiteModel:
        """Convert through the run's shared converter (the run's calibration sample count
        unless told otherwise); a training-time mode that cannot run skips the test."""
        samples = self.calibration_samples if calibration_samples is None else calibration_samples
        return skip_unavailable(self.converter.convert, source, mode, calibration_samples=samples, **options)

    def compatibility(self, model: TFLiteModel, target: str | Target) -> CompatibilityReport:
        """The target's report on the model, computed once per run for the same bytes."""
        from .targets import get_target

        target = get_target(target)
        key = (model.digest, target.name, repr(sorted(target.options.items())))
        if key not in self._reports:
            self._reports[key] = target.check(model)
        return self._reports[key]

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` once per key in a run (evaluations shared by several checks)."""
        if key not in self._memo:
            self._memo[key] = compute()
        result: T = self._memo[key]
        return result

    def add_worker_stats(self, stats: dict[str, int]) -> None:
        self._worker_stats.update(stats)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Every test report (on the pytest-xdist controller the workers' too) feeds the
        session report: the session is registered as a plugin for this."""
        self.report.add(report)
        if self.controller_pid is None and self.terminal_config is not None:
            from .conversion.progress import PROGRESS_SECTION, write_progress

            for name, text in report.sections:
                if name == PROGRESS_SECTION:
                    for line in text.splitlines():
                        write_progress(self.terminal_config, line)
        if report.failed:
            from .gate.baseline import NO_BASELINE_MARK

            self.without_baseline += NO_BASELINE_MARK in str(report.longrepr)

    # --- pytest-xdist ---------------------------------------------------------------------

    def worker_output(self) -> dict[str, Any]:
        """What a worker sends the controller when it finishes."""
        return {
            "conversion_stats": self.conversion_stats,
            "used_golden": sorted(self.used_golden),
            "deselected": self.deselected,
            "latency_unmeasured": self.latency.unmeasured,
        }

    def merge_worker_output(self, output: dict[str, Any]) -> None:
        """Add a finished worker's counts and baselines to the controller's."""
        if output.get("conversion_stats"):
            self.add_worker_stats(output["conversion_stats"])
        self.used_golden.update(output.get("used_golden", ()))
        self.deselected |= bool(output.get("deselected"))
        self.latency.unmeasured += output.get("latency_unmeasured", 0)

    # --- selection ------------------------------------------------------------------------

    def selected_modes(self) -> list[str]:
        """The modes chosen by --tflite-mode / ``tflite_modes``, checked against the registry."""
        from .conversion.modes import mode_names

        return _expand(self.requested_modes, mode_names, _selected_mode)

    def selected_targets(self) -> list[str]:
        """The targets chosen by --tflite-target / ``tflite_targets``, checked against the registry."""
        from .targets import target_names

        return _expand(self.requested_targets, target_names, _selected_target)

    def shown_modes(self) -> list[str]:
        """The selected modes, or what was asked for when it names something unknown."""
        return _or_requested(self.selected_modes, self.requested_modes)

    def shown_targets(self) -> list[str]:
        return _or_requested(self.selected_targets, self.requested_targets)

    def modes_for(self, marker_modes: Sequence[str] | None) -> list[str]:
        """The selected modes a test runs under, narrowed by its ``tflite`` marker."""
        selected = self.selected_modes()
        if marker_modes is None:
            return selected
        from .conversion.modes import mode_names

        known = set(mode_names())
        # An unknown mode stays, so that its own tests fail with ModeError and only they.
        return [m for m in marker_modes if m not in known or m in selected]

    def targets_for(self, marker_targets: Sequence[str] | None) -> list[str]:
        """The selected targets a test checks, narrowed by its ``tflite`` marker."""
        from .targets import get_target

        selected = self.selected_targets()
        if marker_targets is None:
            return selected
        wanted = [get_target(t).name for t in marker_targets]
        return [t for t in wanted if t in selected]

    # --- what the run says at its start and end -------------------------------------------

    def header(self) -> str:
        from .conversion.modes import mode_names

        cache = self.cache_dir or "off"
        shown = self.shown_modes()
        every = shown == mode_names() and len(shown) > 1
        modes = f"all {len(shown)}" if every else ", ".join(shown)  # the whole list would not fit a line
        return f"tflite: modes {modes}; targets {', '.join(self.shown_targets())}; conversion cache {cache}"

    def stale_baselines(self, *, whole_run: bool) -> list[Path]:
        """Baselines no test used; only a whole run (nothing deselected or picked by node
        id, every mode, not stopped early) can tell."""
        if not whole_run or self.deselected or self.stopped_early or not self.used_golden:
            return []
        from .conversion.modes import mode_names

        if self.shown_modes() != mode_names():
            return []
        from .gate.golden import stale_baselines

        return stale_baselines(self.gate.golden_dir, self.used_golden)

    @property
    def has_results(self) -> bool:
        """Whether any check of a declared model reported."""
        return self._report is not None and bool(self._report.results)

    @property
    def report_lines(self) -> list[str]:
        return self._report.lines if self._report is not None else []

    def summary(self) -> Summary:
        """The session report's rows and run details, in the selection's order."""
        return self.report.summary(self.shown_modes(), self.shown_targets())

    def summary_lines(self, config: pytest.Config, *, verbose: bool) -> list[str]:
        """What the run says at its end: the table and totals, the report files written,
        unused baselines, untimed latency checks, and (verbose) the conversion counts."""
        lines: list[str] = []
        if self.has_results:
            from .report.table import table, terminal_table, totals_text

            summary = self.summary()
            shown = table(summary.rows, full=True) if verbose else terminal_table(summary.rows)
            lines += [shown, totals_text(summary)]
        lines += [*self.report_lines, *self.stale_lines(config), *self.latency_lines()]
        lines += self.missing_baseline_lines(config)
        return lines + (self.conversion_lines() if verbose else [])

    def missing_baseline_lines(self, config: pytest.Config) -> list[str]:
        """The one command that records every missing baseline (a new repository's first run)."""
        if not self.without_baseline:
            return []
        from .gate.golden import UPDATE_OPTION

        args = [shlex.quote(str(a)) for a in config.invocation_params.args if a != UPDATE_OPTION]
        command = " ".join(["pytest", *args, UPDATE_OPTION])
        return [
            f"tflite: {self.without_baseline} check(s) have no golden baseline yet; record them all in one "
            f"run: {command}"
        ]

    def stale_lines(self, config: pytest.Config) -> list[str]:
        """Baselines no test used, when the run was whole: no ``-k``, ``-m`` or node id."""
        whole_run = (
            not config.getoption("keyword")
            and not config.getoption("markexpr")
            and not any("::" in arg or Path(arg).is_file() for arg in config.args)
        )
        stale = self.stale_baselines(whole_run=whole_run)
        if not stale:
            return []
        from .report.run import relative

        lines = [f"tflite: {len(stale)} golden baseline(s) no test used (a model or mode that is gone?):"]
        return lines + [f"  {relative(p, config.rootpath)}" for p in stale]

    def latency_lines(self) -> list[str]:
        if not self.latency.unmeasured:
            return []
        return [
            f"tflite: latency not measured in {self.latency.unmeasured} test(s): pytest-benchmark turns "
            "itself off under pytest-xdist (-n); time them in a serial run: pytest -n 0 -k latency"
        ]

    def conversion_lines(self) -> list[str]:
        stats = self.conversion_stats
        if not stats:
            return []
        return [
            "tflite: {} converted, {} from the disk cache, {} reused in memory".format(
                stats.get("converted", 0), stats.get("disk", 0), stats.get("memory", 0)
            )
        ]


RUN_ID_KEY = "tflite_run_id"
BY_MODEL_AND_MODE_KEY = "tflite_by_model_and_mode"
"""Set in a pytest-xdist worker's input when the controller shares declared checks out by
model and mode (:mod:`pytest_tflite.declared.scheduling`)."""
"""The run id in pytest-xdist's ``workerinput``."""


def unmatched_budget_scopes(scopes: Iterable[str], models: set[str], modes: Iterable[str]) -> list[str]:
    """Budget scopes of the ini file that name no declared model and no mode (a typo, or
    a renamed model): their budgets would never apply."""
    known_modes = set(modes)

    def matches(scope: str) -> bool:
        if scope == "*" or scope in known_modes or scope in models:
            return True
        model, _, mode = scope.rpartition("/")
        return model in models and mode in known_modes

    return [scope for scope in scopes if not matches(scope)]


def tflite_session_of(config: pytest.Config) -> TFLiteSession:
    """The run's session (set up by the plugin's ``pytest_configure``)."""
    return config.stash[SESSION_KEY]


def skip_unavailable(convert: Callable[P, TFLiteModel], *args: P.args, **kwargs: P.kwargs) -> TFLiteModel:
    """Convert; a mode that does not apply (a training-time mode without training data or
    on a model it cannot fine-tune, a TensorFlow converter mode on a .tflite source) skips
    the test with the library's reason instead of failing it."""
    try:
        return convert(*args, **kwargs)
    except ModeUnavailable as exc:
        pytest.skip(str(exc).split("\n\n")[0])


def _or_requested(selected: Callable[[], list[str]], requested: list[str]) -> list[str]:
    try:
        return selected()
    except TFLiteError:
        return list(requested)


def _expand(
    requested: Sequence[str], everything: Callable[[], list[str]], check: Callable[[str], str]
) -> list[str]:
    """Names from repeated, comma-separated option values; ``all`` means every registered one."""
    names: list[str] = []
    for item in requested:
        for name in item.split(","):
            name = name.strip()
            if name == ALL:
                names.extend(everything())
            elif name:
                names.append(check(name))
    return list(dict.fromkeys(names))


def _selected_mode(name: str) -> str:
    from .conversion.modes import get_mode

    return _registered(name, get_mode, ModeError, "--tflite-mode", "quantization mode")


def _selected_target(name: str) -> str:
    from .targets import get_target

    return _registered(name, get_target, TargetError, "--tflite-target", "target")


def _registered(
    name: str, lookup: Callable[[str], _Registered], error: type[TFLiteError], option: str, kind: str
) -> str:
    """The registered name, or an error that names the option the bad name came from."""
    try:
        return lookup(name).name
    except error as exc:
        ini = option.removeprefix("--").replace("-", "_") + "s"
        raise error(
            f"{option} (or the {ini} ini key) names {name!r}, which is no registered {kind}",
            hint=exc.hint,
        ) from None


def marker_selection(marker: pytest.Mark | None) -> dict[str, list[str] | None]:
    """``modes=`` and ``targets=`` of a ``@pytest.mark.tflite`` marker (None: not narrowed)."""
    selection: dict[str, list[str] | None] = dict.fromkeys(MARKER_ARGUMENTS)
    if marker is None:
        return selection
    if marker.args:
        raise TFLiteError(
            "@pytest.mark.tflite takes keyword arguments only",
            hint="Write @pytest.mark.tflite(modes=['int8', 'float16'], targets=['edgetpu'])",
        )
    unknown = sorted(set(marker.kwargs) - set(MARKER_ARGUMENTS))
    if unknown:
        raise TFLiteError(
            f"@pytest.mark.tflite got unknown argument(s) {', '.join(unknown)}",
            hint="It takes " + ", ".join(f"{name}=[...]" for name in MARKER_ARGUMENTS),
        )
    for name in MARKER_ARGUMENTS:
        value = marker.kwargs.get(name)
        if value is not None:
            selection[name] = [value] if isinstance(value, str) else list(value)
    return selection
