"""pytest hooks and fixtures of pytest-tflite; each forwards to the run's
:class:`~pytest_tflite.session.TFLiteSession` or to the module that does the work.

Loaded by pytest on every run (entry point ``tflite``; ``-p no:tflite`` turns it off),
so nothing here imports TensorFlow, numpy or the training code.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .conversion.progress import PROGRESS_SECTION, echo_progress, write_progress
from .errors import TFLiteError
from .latency import comparison_problem
from .options import add_options, read_run_settings
from .session import BY_MODEL_AND_MODE_KEY, RUN_ID_KEY, SESSION_KEY, WORKER_OUTPUT_KEY, TFLiteSession, tflite_session_of

if TYPE_CHECKING:
    from .conversion.modes import Mode
    from .gate.baseline import Gate
    from .latency import Latency
    from .model.flatbuffer import TFLiteModel
    from .model.runtime import Inputs
    from .targets import CompatibilityReport, Target


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


LATENCY_COLUMNS = ["median", "iqr", "rounds"]
"""pytest-benchmark's columns unless the run names its own: a median and its spread, not
a maximum that one preempted round makes look like an alarm."""


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Before pytest-benchmark reads its options: a narrow table by default."""
    if getattr(config.option, "benchmark_columns", "absent") is None:
        config.option.benchmark_columns = list(LATENCY_COLUMNS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tflite(modes=[...], targets=[...]): run this test only under the given "
        "quantization modes and targets (those also selected by --tflite-mode and "
        "--tflite-target)",
    )
    if config.getoption("tflite_native_log"):
        from .nativelog import SHOW, SHOW_ENV

        os.environ[SHOW_ENV] = SHOW  # pytest-xdist workers inherit it
    settings = read_run_settings(config)
    session = TFLiteSession(settings)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        session.join_controller(workerinput)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "tflite-session")
    config.add_cleanup(_use_kernels(settings.kernels))
    if workerinput is None:
        session.terminal_config = config
        config.add_cleanup(_echo_progress(config, verbose=settings.verbose))
    else:
        config.add_cleanup(echo_progress(session.worker_progress.append, epochs=settings.verbose))


def _use_kernels(kernels: str) -> Callable[[], None]:
    """Evaluate and time with ``kernels`` for this run; the cleanup restores the former."""
    from .model.kernels import current_kernels, use_kernels

    former = current_kernels()
    use_kernels(kernels)
    return lambda: use_kernels(former)


def _echo_progress(config: pytest.Config, *, verbose: bool) -> Callable[[], None]:
    """A line on the terminal per conversion that runs (what a cold run spends its time
    on), and in verbose runs per fine-tune epoch. Written past pytest's output capture, as
    its live logging is, since they happen inside tests."""
    return echo_progress(lambda line: write_progress(config, line), epochs=verbose)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse a ``--benchmark-compare`` that has nothing to compare with, before any
    model is converted: pytest-benchmark has read its options by now, and pytest-xdist
    starts its workers after this."""
    if _is_worker(session.config):
        return
    problem = comparison_problem(session.config)
    if problem:
        raise pytest.UsageError(problem)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist load`` (what ``-n`` means unless told otherwise), a declared model's
    checks under one mode share a worker, so workers convert side by side instead of
    waiting on each other's conversions."""
    if config.getvalue("dist") != "load":
        return None
    from .declared.scheduling import scheduler

    return scheduler(config, log)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    patterns = parent.config.getini("tflite_model_files")
    if file_path.suffix == ".py" and any(file_path.match(p) for p in patterns):
        from .declared.collector import DeclaredModule

        return DeclaredModule.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tflite_mode" in metafunc.fixturenames or "tflite_target" in metafunc.fixturenames:
        from .parametrize import parametrize

        parametrize(metafunc, tflite_session_of(metafunc.config))


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items:
        tflite_session_of(items[0].config).deselected = True


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Note the baselines the selected checks of declared models stand for, whatever
    becomes of them (a failed conversion still uses its baseline). Without
    pytest-benchmark (``-p no:benchmark``) the latency checks are skipped, not errors.
    A pytest-xdist worker lists the fine-tuning modes' checks first (the controller
    hands out work in the order the workers collected it)."""
    session = tflite_session_of(config)
    if getattr(config, "workerinput", {}).get(BY_MODEL_AND_MODE_KEY):
        from .declared.scheduling import fine_tunes_first

        fine_tunes_first(items, list(config.getini("tflite_model_files")))
    untimed = not config.pluginmanager.has_plugin("benchmark")
    for item in items:
        if untimed and "tflite_benchmark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.skip(reason="latency needs pytest-benchmark, turned off by -p no:benchmark"))
        if getattr(getattr(item, "cls", None), "declared", None) is not None:
            from .declared.collector import declared_check

            declared, mode, _ = declared_check(item)
            if declared is not None and mode is not None:
                session.used_golden.add(str(session.gate.path(declared.name, mode)))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Warn about ini budget scopes that name nothing this run collected."""
    from .conversion.modes import mode_names
    from .session import unmatched_budget_scopes

    tflite = tflite_session_of(session.config)
    if not tflite.declared_names:
        return
    for scope in unmatched_budget_scopes(tflite.settings.budgets, tflite.declared_names, mode_names()):
        warnings.warn(
            pytest.PytestConfigWarning(
                f"pytest-tflite: the tflite_budgets scope {scope!r} names no declared model and no "
                f"mode, so its budget never applies (declared: {', '.join(sorted(tflite.declared_names))})"
            ),
            stacklevel=1,
        )


def pytest_report_header(config: pytest.Config) -> str:
    return tflite_session_of(config).header()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    session = tflite_session_of(item.config)
    if session.worker_progress:
        # A worker's lines reach the controller's terminal with the report of the test
        # they happened in (see TFLiteSession.pytest_runtest_logreport).
        report.sections.append((PROGRESS_SECTION, "\n".join(session.worker_progress)))
        session.worker_progress.clear()
    if getattr(getattr(item, "cls", None), "declared", None) is not None:
        from .declared.collector import name_check, skipped_at_declaration

        name_check(item, report)
        skipped_at_declaration(item, report)
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


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    tflite = tflite_session_of(session.config)
    tflite.stopped_early = bool(session.shouldfail or session.shouldstop) or (
        exitstatus == pytest.ExitCode.INTERRUPTED
    )
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_OUTPUT_KEY] = tflite.worker_output()
        return
    if tflite.settings.update_golden and not tflite.stopped_early:
        tflite.gate.finish_update(tflite.used_golden)
    if not session.config.option.collectonly and tflite.settings.report_paths:
        tflite.report.write(tflite.summary(), session.config.invocation_params.dir)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: give each worker the run's id, so its baseline marks are this run's,
    and say whether the declared checks are shared out by model and mode (a worker's own
    options do not say how the controller distributes)."""
    node.workerinput[RUN_ID_KEY] = tflite_session_of(node.config).run_id
    node.workerinput[BY_MODEL_AND_MODE_KEY] = node.config.getvalue("dist") == "load"


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist: add a finished worker's counts and baselines to the controller's."""
    output = getattr(node, "workeroutput", {}).get(WORKER_OUTPUT_KEY)
    if output:
        tflite_session_of(node.config).merge_worker_output(output)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if _is_worker(config):
        return
    session = tflite_session_of(config)
    verbose = config.getoption("verbose") > 0
    if session.has_results:
        terminalreporter.write_sep("=", "tflite report")
    for line in session.summary_lines(config, verbose=verbose):
        terminalreporter.write_line(line)


def _is_worker(config: pytest.Config) -> bool:
    return getattr(config, "workerinput", None) is not None


@pytest.fixture(scope="session")
def tflite_gate(pytestconfig: pytest.Config) -> Gate:
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
    from .conversion.modes import get_mode
    from .parametrize import param_of

    return get_mode(param_of(request, "tflite_mode"))


@pytest.fixture
def tflite_target(request: pytest.FixtureRequest) -> Target:
    """The target (a :class:`pytest_tflite.targets.Target`) this test instance checks.

    Tests that use it are parametrized over the selected targets: ``--tflite-target``,
    the ``tflite_targets`` ini key, narrowed by ``@pytest.mark.tflite(targets=[...])``.
    """
    from .parametrize import param_of
    from .targets import get_target

    return get_target(param_of(request, "tflite_target"))


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
    from .latency import time_model

    run = tflite_session_of(request.config).latency

    def measure(model: TFLiteModel, inputs: Inputs | None = None) -> Latency | None:
        return time_model(benchmark, run, request.node, model, inputs)

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
        compile_config: Mapping[str, Any] | None = None,
    ) -> TFLiteModel:
        return tflite_session.convert(
            source,
            tflite_mode,
            representative_data=representative_data,
            calibration_samples=calibration_samples,
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
    tflite_compile_config: Mapping[str, Any] | None,
) -> TFLiteModel:
    """``tflite_source`` converted under the current mode: a :class:`pytest_tflite.TFLiteModel`."""
    return tflite_convert(
        tflite_source,
        representative_data=tflite_representative_data,
        training_data=tflite_training_data,
        compile_config=tflite_compile_config,
    )


@pytest.fixture
def tflite_compile_config() -> Mapping[str, Any] | None:
    """How the training-time modes compile the model they fine-tune (``loss``, ``metrics``,
    ``optimizer``). Override it in your conftest.py when ``tflite_source`` is a file saved
    without its training configuration (default: the model's own)."""
    return None


@pytest.fixture
def tflite_training_data() -> Any:
    """Training data for the training-time modes (``qat_int8``, ``pruned``, ``clustered``,
    ...): ``(x, y)`` or a ``tf.data.Dataset`` of pairs. Override it in your conftest.py
    (default: none, and those modes are skipped)."""
    return None
