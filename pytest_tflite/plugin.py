"""pytest hooks and fixtures of pytest-tflite; the work is done in the modules they call.

Loaded by pytest on every run (entry point ``tflite``; ``-p no:tflite`` turns it off),
so nothing here imports TensorFlow.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import TFLiteError
from .latency import DEFAULT_THREADS, DEFAULT_WARMUP, Latency, LatencyRun
from .conversion.modes import CALIBRATION_SAMPLES, Mode, get_mode
from .report.rows import CHECK_KEY, Results
from .session import ALL, DEFAULT_TARGETS, TFLiteSession, marker_selection

if TYPE_CHECKING:
    from .model.flatbuffer import TFLiteModel
    from .report.summary import Summary
    from .targets import CompatibilityReport, Target

SESSION_KEY = pytest.StashKey[TFLiteSession]()
LATENCY_KEY = pytest.StashKey[LatencyRun]()
REPORT_KEY = pytest.StashKey["_SessionReport"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tflite", "TensorFlow Lite conversion and checks")
    group.addoption(
        "--tflite-mode",
        action="append",
        dest="tflite_modes",
        metavar="NAME",
        help="quantization mode to convert under; repeat or separate with commas, 'all' "
        "for every registered mode (default: ini tflite_modes, else all)",
    )
    group.addoption(
        "--tflite-target",
        action="append",
        dest="tflite_targets",
        metavar="NAME",
        help="target to check operator compatibility for (cpu, gpu, edgetpu, ...); repeat or "
        "separate with commas, 'all' for every registered target (default: ini "
        "tflite_targets, else cpu)",
    )
    group.addoption(
        "--tflite-golden-dir",
        dest="tflite_golden_dir",
        metavar="DIR",
        help="folder of the golden baselines (default: ini tflite_golden_dir, else golden)",
    )
    group.addoption(
        "--tflite-update-golden",
        action="store_true",
        dest="tflite_update_golden",
        help="write new and changed golden baselines instead of comparing with them (never "
        "a value that breaks a budget)",
    )
    group.addoption(
        "--tflite-cache-dir",
        dest="tflite_cache_dir",
        metavar="DIR",
        help="folder of the conversion cache (default: ini tflite_cache_dir, else "
        ".pytest_cache/d/tflite; --cache-clear empties it)",
    )
    group.addoption(
        "--tflite-no-cache",
        action="store_true",
        dest="tflite_no_cache",
        help="convert every model afresh instead of reading or writing the conversion cache",
    )
    group.addoption(
        "--tflite-calibration-samples",
        dest="tflite_calibration_samples",
        type=_positive_int,
        metavar="N",
        help="representative samples used to calibrate the integer modes (default: ini "
        f"tflite_calibration_samples, else {CALIBRATION_SAMPLES})",
    )
    group.addoption(
        "--tflite-threads",
        dest="tflite_threads",
        type=_positive_int,
        metavar="N",
        help="interpreter threads when timing latency (default: ini tflite_threads, else "
        f"{DEFAULT_THREADS}: one thread gives the steadiest figures on shared CI machines)",
    )
    group.addoption(
        "--tflite-warmup",
        dest="tflite_warmup",
        type=_non_negative_int,
        metavar="N",
        help="untimed invokes before timing latency (default: ini tflite_warmup, else "
        f"{DEFAULT_WARMUP})",
    )
    group.addoption(
        "--tflite-report",
        action="append",
        dest="tflite_reports",
        metavar="PATH",
        help="write the session report to PATH, in the format its suffix names: .md (GitHub "
        "Markdown), .json (every measurement) or .html (a page with plots); repeatable "
        "(default: ini tflite_report, else none)",
    )
    parser.addini(
        "tflite_modes",
        type="args",
        default=[ALL],
        help="quantization modes to convert under, 'all' for every registered mode",
    )
    parser.addini(
        "tflite_targets",
        type="args",
        default=list(DEFAULT_TARGETS),
        help="targets to check operator compatibility for, 'all' for every registered target",
    )
    parser.addini(
        "tflite_golden_dir", type="string", default="golden", help="folder of the golden baselines"
    )
    parser.addini(
        "tflite_budgets",
        type="linelist",
        default=[],
        help="budgets, one per line: '[scope:] key=value[, key=value]' (scope: *, a mode, "
        "a model, or model/mode)",
    )
    parser.addini(
        "tflite_model_files",
        type="args",
        default=["tflite_models.py"],
        help="glob patterns of the modules that declare models",
    )
    parser.addini("tflite_cache_dir", type="string", default="", help="folder of the conversion cache")
    parser.addini(
        "tflite_calibration_samples",
        type="string",
        default=str(CALIBRATION_SAMPLES),
        help="representative samples used to calibrate the integer modes",
    )
    parser.addini(
        "tflite_threads",
        type="string",
        default=str(DEFAULT_THREADS),
        help="interpreter threads when timing latency",
    )
    parser.addini(
        "tflite_warmup",
        type="string",
        default=str(DEFAULT_WARMUP),
        help="untimed invokes before timing latency",
    )
    parser.addini(
        "tflite_report",
        type="args",
        default=[],
        help="session report files to write (.md, .json or .html), relative to the ini file",
    )


def _positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def _non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, *, minimum: int) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} is not at least {minimum}")
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tflite(modes=[...], targets=[...]): run this test only under the given "
        "quantization modes and targets (those also selected by --tflite-mode and "
        "--tflite-target)",
    )
    config.stash[SESSION_KEY] = TFLiteSession(
        modes=config.getoption("tflite_modes") or config.getini("tflite_modes"),
        targets=config.getoption("tflite_targets") or config.getini("tflite_targets"),
        cache_dir=_cache_dir(config),
        calibration_samples=_calibration_samples(config),
        gate=_gate(config),
    )
    config.stash[LATENCY_KEY] = LatencyRun(
        threads=_count_setting(config, "tflite_threads", _positive_int),
        warmup=_count_setting(config, "tflite_warmup", _non_negative_int),
    )
    worker = getattr(config, "workerinput", None) is not None
    config.stash[REPORT_KEY] = _SessionReport([] if worker else _report_paths(config))
    config.pluginmanager.register(config.stash[REPORT_KEY], "tflite-session-report")
    if config.getoption("verbose") > 0:
        config.add_cleanup(_echo_fine_tune_progress(config))


def _echo_fine_tune_progress(config: pytest.Config) -> Callable[[], None]:
    """A line per fine-tune epoch on the terminal (verbose runs only)."""
    from .conversion.training import echo_progress

    def write(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"tflite: {line}")

    return echo_progress(write)


def _gate(config: pytest.Config) -> Any:
    from .gate.budget import parse_budget_lines
    from .gate.baseline import Gate

    chosen = Path(config.getoption("tflite_golden_dir") or config.getini("tflite_golden_dir"))
    try:
        budgets = parse_budget_lines(config.getini("tflite_budgets"))
    except TFLiteError as exc:
        raise pytest.UsageError(f"ini tflite_budgets: {exc}") from None
    return Gate(
        golden_dir=chosen if chosen.is_absolute() else config.rootpath / chosen,
        update=config.getoption("tflite_update_golden"),
        budgets=budgets,
    )


def _report_paths(config: pytest.Config) -> list[Path]:
    """The report files asked for, checked now so that a typo fails before any conversion:
    command-line paths are relative to where pytest runs, ini paths to the ini file."""
    from .report.summary import report_path_problem

    given = config.getoption("tflite_reports")
    if given:
        source, base = "--tflite-report", config.invocation_params.dir
    else:
        given = config.getini("tflite_report")
        source, base = "ini tflite_report", config.inipath.parent if config.inipath else config.rootpath
    paths = []
    for text in given:
        path = base / Path(text).expanduser()
        problem = report_path_problem(path)
        if problem:
            raise pytest.UsageError(f"{source} {text}: {problem}")
        paths.append(path)
    return list(dict.fromkeys(paths))


class _SessionReport:
    """The run's checks of declared models, fed every test report (on the pytest-xdist
    controller the workers' reports too), and the report files asked for."""

    def __init__(self, paths: list[Path]) -> None:
        self.results = Results()
        self.paths = paths
        self.lines: list[str] = []
        self._summary: Summary | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.results.add(report)

    def summary(self, config: pytest.Config) -> Summary:
        """Rows and run details, built once every report is in."""
        if self._summary is None:
            from .report.summary import Summary, now, run_versions

            session = tflite_session_of(config)
            modes = _selected(session.selected_modes, session.requested_modes)
            targets = _selected(session.selected_targets, session.requested_targets)
            self._summary = Summary(
                rows=self.results.rows(modes, targets),
                checks=self.results.checks(),
                modes=modes,
                targets=targets,
                versions=run_versions(),
                created=now(),
            )
        return self._summary

    def write(self, config: pytest.Config) -> None:
        from .report.summary import write_report

        for path in self.paths:
            shown = _relative(path, config.invocation_params.dir)
            try:
                write_report(self.summary(config), path)
            except OSError as exc:
                self.lines.append(f"tflite: could not write the report {shown}: {exc}")
            else:
                self.lines.append(f"tflite: report written to {shown}")


def _relative(path: Path, root: Path) -> Path:
    return path.relative_to(root) if path.is_relative_to(root) else path


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse a ``--benchmark-compare`` that has nothing to compare with, before any
    model is converted: pytest-benchmark has read its options by now, and pytest-xdist
    starts its workers after this."""
    config = session.config
    bench = getattr(config, "_benchmarksession", None)
    if bench is None or getattr(config, "workerinput", None) is not None:
        return
    from .latency import compare_problem

    problem = compare_problem(bench.compare, bench.compare_fail, bench.storage)
    if problem:
        raise pytest.UsageError(problem)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("tflite_model_files")
    if file_path.suffix == ".py" and any(file_path.match(p) for p in patterns):
        from .declared.collector import DeclaredModule

        return DeclaredModule.from_parent(parent, path=file_path)
    return None


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        tflite_session_of(items[0].config).deselected = True


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note the baselines the selected checks of declared models stand for, whatever
    becomes of them (a failed conversion still uses its baseline). Without
    pytest-benchmark (``-p no:benchmark``) the latency checks are skipped, not errors."""
    session = tflite_session_of(config)
    untimed = not config.pluginmanager.has_plugin("benchmark")
    for item in items:
        if untimed and "tflite_benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="latency needs pytest-benchmark, turned off by -p no:benchmark"))
        declared, mode, _ = _declared_check(item)
        if declared is not None and mode is not None:
            session.used_golden.add(str(session.gate.path(declared.name, mode)))


def _declared_check(item: pytest.Item) -> tuple[Any, str | None, str | None]:
    """The declared model, mode and target of a standard check (None for other tests)."""
    declared = getattr(getattr(item, "cls", None), "declared", None)
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    mode, target = params.get("tflite_mode"), params.get("tflite_target")
    return declared, mode if isinstance(mode, str) else None, target if isinstance(target, str) else None


def _cache_dir(config: pytest.Config) -> Path | None:
    if config.getoption("tflite_no_cache"):
        return None
    chosen = config.getoption("tflite_cache_dir") or config.getini("tflite_cache_dir")
    if chosen:
        return Path(chosen) if Path(chosen).is_absolute() else config.rootpath / chosen
    cache = getattr(config, "cache", None)
    return cache.mkdir("tflite") if cache is not None else None


def _calibration_samples(config: pytest.Config) -> int:
    return _count_setting(config, "tflite_calibration_samples", _positive_int)


def _count_setting(config: pytest.Config, name: str, parse: Callable[[str], int]) -> int:
    """A whole-number option, else its ini twin of the same name, parsed alike."""
    value = config.getoption(name)
    if value is not None:
        return value
    try:
        return parse(config.getini(name))
    except Exception as exc:
        raise pytest.UsageError(f"ini {name}: {exc}") from None


def tflite_session_of(config: pytest.Config) -> TFLiteSession:
    return config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    session = tflite_session_of(config)
    cache = session.cache_dir or "off"
    modes = _shown(session.selected_modes, session.requested_modes)
    targets = _shown(session.selected_targets, session.requested_targets)
    return f"tflite: modes {modes}; targets {targets}; conversion cache {cache}"


def _shown(selected: Callable[[], list[str]], requested: list[str]) -> str:
    return ", ".join(_selected(selected, requested))


def _selected(selected: Callable[[], list[str]], requested: list[str]) -> list[str]:
    """The selection, or what was asked for when it names something unknown."""
    try:
        return selected()
    except TFLiteError:
        return list(requested)


PARAMETERS = {"tflite_mode": "modes", "tflite_target": "targets"}


class _Invalid:
    """A parameter standing for a selection error: the test fails with it at setup,
    and the rest of the session runs."""

    def __init__(self, error: TFLiteError) -> None:
        self.error = error

    def __repr__(self) -> str:
        return "invalid"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = [
        name
        for name in PARAMETERS
        if name in metafunc.fixturenames and not _parametrized_by_user(metafunc, name)
    ]
    if not names:
        return
    session = tflite_session_of(metafunc.config)
    try:
        params = _parameters(session, metafunc, names)
    except TFLiteError as exc:
        params = [pytest.param(*[_Invalid(exc)] * len(names), id="invalid")]
    metafunc.parametrize(names, params, indirect=True)


def _parameters(session: TFLiteSession, metafunc: pytest.Metafunc, names: list[str]) -> list[Any]:
    """One parameter set per (mode, target) the test runs under; a combination that can
    never hold (a float model on the Edge TPU) is skipped with the modes that would fit."""
    wanted = marker_selection(metafunc.definition.get_closest_marker("tflite"))
    choices = {
        "tflite_mode": lambda: session.modes_for(wanted["modes"]),
        "tflite_target": lambda: session.targets_for(wanted["targets"]),
    }
    axes = [choices[name]() for name in names]
    for name, values in zip(names, axes):
        if not values:
            return [_nothing_selected(session, name, wanted[PARAMETERS[name]], len(names))]
    params = []
    for combination in itertools.product(*axes):
        chosen = dict(zip(names, combination))
        reason = _never_holds(chosen.get("tflite_mode"), chosen.get("tflite_target"))
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        params.append(pytest.param(*combination, id="-".join(combination), marks=marks))
    return params


def _never_holds(mode: str | None, target: str | None) -> str | None:
    if mode is None or target is None:
        return None
    from .targets import get_target

    return get_target(target).skip_reason(mode)


def _nothing_selected(
    session: TFLiteSession, name: str, wanted: list[str] | None, count: int
) -> Any:
    kind = PARAMETERS[name]
    selected = session.selected_modes() if kind == "modes" else session.selected_targets()
    reason = (
        f"none of the marker's {kind} ({', '.join(wanted or [])}) is selected "
        f"(selected: {', '.join(selected)})"
    )
    return pytest.param(*[None] * count, id=f"no-{kind[:-1]}", marks=pytest.mark.skip(reason=reason))


def _parametrized_by_user(metafunc: pytest.Metafunc, argname: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if argname in names:
            return True
    return False


def _param(request: pytest.FixtureRequest, argname: str) -> Any:
    """The fixture's parameter; a selection error is raised here, failing this test only."""
    value = getattr(request, "param", None)
    if isinstance(value, _Invalid):
        raise value.error
    if value is None:
        raise TFLiteError(
            f"{argname} was requested without being parametrized",
            hint="Request it as a test argument (not via getfixturevalue) so the plugin can "
            "parametrize the test over the selected modes and targets",
        )
    return value


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    _name_check(item, report)
    excinfo = call.excinfo
    if (
        excinfo is not None
        and isinstance(excinfo.value, TFLiteError)
        and item.config.getoption("tbstyle", "auto") in ("auto", "short", "line", "native")
        and not item.config.getoption("fulltrace", False)
    ):
        # The error comes first: pytest's short summary shows the first line of a string
        # longrepr, and the section header above it already names the test.
        report.longrepr = f"{excinfo.typename}: {excinfo.value}"
    return report


def _name_check(item: pytest.Item, report: pytest.TestReport) -> None:
    """Put the model, mode, target and check in a declared check's report, also when its
    body never ran (a skip or error at setup), so each has its place in the session report."""
    declared, mode, target = _declared_check(item)
    if declared is None or mode is None:
        return
    from .declared.checks import identity

    check = getattr(item, "originalname", item.name).removeprefix("test_")
    present = {pair[0] for pair in report.user_properties}
    wanted = [*identity(declared, mode, target), (CHECK_KEY, check)]
    report.user_properties = [p for p in wanted if p[0] not in present] + list(report.user_properties)


WORKER_STATS_KEY = "tflite_conversion_stats"
WORKER_GOLDEN_KEY = "tflite_used_golden"
WORKER_DESELECTED_KEY = "tflite_deselected"
WORKER_UNMEASURED_KEY = "tflite_latency_unmeasured"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tflite = tflite_session_of(session.config)
    tflite.stopped_early = bool(session.shouldfail or session.shouldstop) or (
        exitstatus == pytest.ExitCode.INTERRUPTED
    )
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is None and not session.config.option.collectonly:
        session.config.stash[REPORT_KEY].write(session.config)
    if workeroutput is not None:
        workeroutput[WORKER_STATS_KEY] = tflite.conversion_stats
        workeroutput[WORKER_GOLDEN_KEY] = sorted(tflite.used_golden)
        workeroutput[WORKER_DESELECTED_KEY] = tflite.deselected
        workeroutput[WORKER_UNMEASURED_KEY] = session.config.stash[LATENCY_KEY].unmeasured


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: add a finished worker's conversion counts to the controller's."""
    output = getattr(node, "workeroutput", {})
    session = tflite_session_of(node.config)
    if output.get(WORKER_STATS_KEY):
        session.add_worker_stats(output[WORKER_STATS_KEY])
    session.used_golden.update(output.get(WORKER_GOLDEN_KEY, ()))
    session.deselected |= bool(output.get(WORKER_DESELECTED_KEY))
    node.config.stash[LATENCY_KEY].unmeasured += output.get(WORKER_UNMEASURED_KEY, 0)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash[REPORT_KEY]
    if report.results and getattr(config, "workerinput", None) is None:
        from .report.summary import table, totals_text

        summary = report.summary(config)
        terminalreporter.write_sep("=", "tflite report")
        terminalreporter.write_line(table(summary.rows, full=config.getoption("verbose") > 0))
        terminalreporter.write_line(totals_text(summary))
    for line in report.lines:
        terminalreporter.write_line(line)
    for line in _stale_lines(config):
        terminalreporter.write_line(line)
    unmeasured = config.stash[LATENCY_KEY].unmeasured
    if unmeasured and getattr(config, "workerinput", None) is None:
        terminalreporter.write_line(
            f"tflite: latency not measured in {unmeasured} test(s): pytest-benchmark turns "
            "itself off under pytest-xdist (-n); time them in a serial run: pytest -n 0 -k latency"
        )
    stats = tflite_session_of(config).conversion_stats
    if stats and config.getoption("verbose") > 0:
        terminalreporter.write_line(
            "tflite: {} converted, {} from the disk cache, {} reused in memory".format(
                stats.get("converted", 0), stats.get("disk", 0), stats.get("memory", 0)
            )
        )


def _stale_lines(config: pytest.Config) -> list[str]:
    """Baselines no test used, after a full run: nothing deselected or picked by node id
    or file, every mode, and not stopped early."""
    from .gate.golden import stale_baselines
    from .conversion.modes import mode_names

    session = tflite_session_of(config)
    full = (
        not session.deselected
        and not session.stopped_early
        and not config.getoption("keyword")
        and not config.getoption("markexpr")
        and not any("::" in arg or Path(arg).is_file() for arg in config.args)
        and _shown(session.selected_modes, []) == ", ".join(mode_names())
    )
    if not full or not session.used_golden or getattr(config, "workerinput", None) is not None:
        return []
    stale = stale_baselines(session.gate.golden_dir, session.used_golden)
    if not stale:
        return []
    root = config.rootpath
    lines = [f"tflite: {len(stale)} golden baseline(s) no test used (a model or mode that is gone?):"]
    return lines + [f"  {_relative(p, root)}" for p in stale]


@pytest.fixture(scope="session")
def tflite_gate(pytestconfig: pytest.Config) -> Any:
    """The run's golden baselines and budgets (a :class:`pytest_tflite.gate.baseline.Gate`)."""
    return tflite_session_of(pytestconfig).gate


@pytest.fixture(scope="session")
def tflite_session(pytestconfig: pytest.Config) -> TFLiteSession:
    """The run's pytest-tflite settings and its shared, caching converter."""
    return tflite_session_of(pytestconfig)


@pytest.fixture
def tflite_mode(request: pytest.FixtureRequest) -> Mode:
    """The quantization mode (a :class:`pytest_tflite.Mode`) this test instance runs under.

    Tests that use it are parametrized over the selected modes: ``--tflite-mode``, the
    ``tflite_modes`` ini key, narrowed by ``@pytest.mark.tflite(modes=[...])``.
    """
    return get_mode(_param(request, "tflite_mode"))


@pytest.fixture
def tflite_target(request: pytest.FixtureRequest) -> Target:
    """The target (a :class:`pytest_tflite.targets.Target`) this test instance checks.

    Tests that use it are parametrized over the selected targets: ``--tflite-target``,
    the ``tflite_targets`` ini key, narrowed by ``@pytest.mark.tflite(targets=[...])``.
    """
    from .targets import get_target

    return get_target(_param(request, "tflite_target"))


@pytest.fixture
def tflite_compatibility(
    tflite_session: TFLiteSession, tflite_model: TFLiteModel, tflite_target: Target
) -> CompatibilityReport:
    """Where each operator of ``tflite_model`` runs on the current target (computed once
    per model and target in a run)."""
    return tflite_session.compatibility(tflite_model, tflite_target)


@pytest.fixture
def tflite_benchmark(benchmark: Any, request: pytest.FixtureRequest) -> Callable[..., Latency | None]:
    """Time a converted model on this machine's CPU: ``tflite_benchmark(model, inputs=None)``.

    The timed call is one ``invoke()`` on inputs loaded once (``inputs``: a sample or a
    batch; by default a seeded sample of the model's input shapes), after
    ``--tflite-warmup`` untimed invokes, with ``--tflite-threads`` interpreter threads.
    Returns the figures in milliseconds and attaches them to the test's report
    (``tflite_latency_median_ms``, ...); None when nothing was timed
    (``--benchmark-disable``, or under pytest-xdist). One call per test, like ``benchmark``.

    It times through ``benchmark(fn)``, not ``benchmark.pedantic``, so pytest-benchmark's
    own flags keep their meaning (``--benchmark-min-rounds``, ``--benchmark-max-time``,
    ``--benchmark-warmup``) and its calibration runs several invokes per round when one is
    too short for the timer to resolve; the figures are per invoke either way.
    """
    run = request.config.stash[LATENCY_KEY]

    def measure(model: TFLiteModel, inputs: Any = None) -> Latency | None:
        from .latency import extra_info, figures, prepare

        warmup = run.warmup if benchmark.enabled else 0
        runner = prepare(model, threads=run.threads, inputs=inputs, warmup=warmup)
        benchmark.group = benchmark.group or model.name  # a benchmark marker's group wins
        benchmark.extra_info.update(extra_info(model, run.threads))
        benchmark(runner.invoke)
        timed = figures(benchmark.stats)
        if timed is not None:
            request.node.user_properties.extend(timed.properties().items())
        elif request.config._benchmarksession.xdist_warning:
            run.unmeasured += 1  # turned off by pytest-xdist, not by --benchmark-disable
        return timed

    return measure


@pytest.fixture
def tflite_convert(tflite_session: TFLiteSession, tflite_mode: Mode) -> Callable[..., TFLiteModel]:
    """Convert a source under the current mode: ``tflite_convert(model, representative_data=x)``.

    Accepts every source :func:`pytest_tflite.convert` does. Conversions are shared across
    the run and cached on disk, so each (source, mode) is converted once.
    """

    def convert(
        source: Any,
        *,
        representative_data: Any = None,
        calibration_samples: int | None = None,
        name: str | None = None,
        training_data: Any = None,
        compile_config: Any = None,
    ) -> TFLiteModel:
        return skip_unavailable(
            tflite_session.converter.convert,
            source,
            tflite_mode,
            representative_data=representative_data,
            calibration_samples=(
                tflite_session.calibration_samples
                if calibration_samples is None
                else calibration_samples
            ),
            name=name,
            training_data=training_data,
            compile_config=compile_config,
        )

    return convert


@pytest.fixture
def tflite_source() -> Any:
    """The model that ``tflite_model`` converts. Override it in your conftest.py."""
    raise TFLiteError(
        "the tflite_model fixture needs a model, and no tflite_source fixture is defined",
        hint="Define a fixture named tflite_source in conftest.py that returns the model (a "
        "Keras model, a path to a .keras/.h5/.tflite file or SavedModel folder, or a "
        "tf.function)",
    )


@pytest.fixture
def tflite_representative_data() -> Any:
    """Calibration data for the integer modes. Override it in your conftest.py (default: none)."""
    return None


@pytest.fixture
def tflite_model(
    tflite_convert: Callable[..., TFLiteModel],
    tflite_source: Any,
    tflite_representative_data: Any,
    tflite_training_data: Any,
) -> TFLiteModel:
    """``tflite_source`` converted under the current mode: a :class:`pytest_tflite.TFLiteModel`."""
    return tflite_convert(
        tflite_source,
        representative_data=tflite_representative_data,
        training_data=tflite_training_data,
    )


@pytest.fixture
def tflite_training_data() -> Any:
    """Training data for the training-time modes (``qat_int8``, ``pruned``, ``clustered``,
    ...): ``(x, y)`` or a ``tf.data.Dataset`` of pairs. Override it in your conftest.py
    (default: none, and those modes are skipped)."""
    return None


def skip_unavailable(convert: Callable[..., TFLiteModel], *args: Any, **kwargs: Any) -> TFLiteModel:
    """Convert; a training-time mode that cannot run (no training data, or a model it
    cannot fine-tune) skips the test with the library's reason instead of failing it."""
    from .errors import TrainingUnavailable

    try:
        return convert(*args, **kwargs)
    except TrainingUnavailable as exc:
        pytest.skip(str(exc).split("\n\n")[0])
