"""pytest hooks and fixtures of pytest-tflite; the work is done in the modules they call.

Loaded by pytest on every run (entry point ``tflite``; ``-p no:tflite`` turns it off),
so nothing here imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .errors import TFLiteError
from .modes import CALIBRATION_SAMPLES, Mode, get_mode
from .session import ALL, TFLiteSession, marker_modes

if TYPE_CHECKING:
    from .model import TFLiteModel

SESSION_KEY = pytest.StashKey[TFLiteSession]()


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
    parser.addini(
        "tflite_modes",
        type="args",
        default=[ALL],
        help="quantization modes to convert under, 'all' for every registered mode",
    )
    parser.addini("tflite_cache_dir", type="string", default="", help="folder of the conversion cache")
    parser.addini(
        "tflite_calibration_samples",
        type="string",
        default=str(CALIBRATION_SAMPLES),
        help="representative samples used to calibrate the integer modes",
    )


def _positive_int(text: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "tflite(modes=[...]): run this test only under the given quantization modes "
        "(those also selected by --tflite-mode)",
    )
    config.stash[SESSION_KEY] = TFLiteSession(
        modes=config.getoption("tflite_modes") or config.getini("tflite_modes"),
        cache_dir=_cache_dir(config),
        calibration_samples=_calibration_samples(config),
    )


def _cache_dir(config: pytest.Config) -> Path | None:
    if config.getoption("tflite_no_cache"):
        return None
    chosen = config.getoption("tflite_cache_dir") or config.getini("tflite_cache_dir")
    if chosen:
        return Path(chosen) if Path(chosen).is_absolute() else config.rootpath / chosen
    cache = getattr(config, "cache", None)
    return cache.mkdir("tflite") if cache is not None else None


def _calibration_samples(config: pytest.Config) -> int:
    value = config.getoption("tflite_calibration_samples")
    if value is not None:
        return value
    text = config.getini("tflite_calibration_samples")
    try:
        return _positive_int(text)
    except Exception as exc:
        raise pytest.UsageError(f"ini tflite_calibration_samples: {exc}") from None


def tflite_session_of(config: pytest.Config) -> TFLiteSession:
    return config.stash[SESSION_KEY]


def pytest_report_header(config: pytest.Config) -> str:
    session = tflite_session_of(config)
    cache = session.cache_dir or "off"
    try:
        modes = ", ".join(session.selected_modes())
    except TFLiteError:
        modes = ", ".join(session.requested_modes)
    return f"tflite: modes {modes}; conversion cache {cache}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "tflite_mode" not in metafunc.fixturenames or _parametrized_by_user(metafunc):
        return
    session = tflite_session_of(metafunc.config)
    try:
        wanted = marker_modes(metafunc.definition.get_closest_marker("tflite"))
        modes = session.modes_for(wanted)
    except TFLiteError as exc:
        raise pytest.Collector.CollectError(f"{metafunc.definition.nodeid}: {exc}") from None
    if modes:
        metafunc.parametrize("tflite_mode", modes, indirect=True, ids=modes)
        return
    reason = (
        f"none of the marker's modes ({', '.join(wanted or [])}) is selected "
        f"(selected: {', '.join(session.selected_modes())})"
    )
    metafunc.parametrize(
        "tflite_mode", [pytest.param(None, marks=pytest.mark.skip(reason=reason))], indirect=True,
        ids=["no-mode"],
    )


def _parametrized_by_user(metafunc: pytest.Metafunc) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        if "tflite_mode" in names:
            return True
    return False


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
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


WORKER_STATS_KEY = "tflite_conversion_stats"


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_STATS_KEY] = tflite_session_of(session.config).conversion_stats


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: add a finished worker's conversion counts to the controller's."""
    stats = getattr(node, "workeroutput", {}).get(WORKER_STATS_KEY)
    if stats:
        tflite_session_of(node.config).add_worker_stats(stats)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    stats = tflite_session_of(config).conversion_stats
    if stats and config.getoption("verbose") > 0:
        terminalreporter.write_line(
            "tflite: {} converted, {} from the disk cache, {} reused in memory".format(
                stats.get("converted", 0), stats.get("disk", 0), stats.get("memory", 0)
            )
        )


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
    name = getattr(request, "param", None)
    if name is None:
        raise TFLiteError(
            "tflite_mode was requested without being parametrized",
            hint="Request it as a test argument (not via getfixturevalue) so the plugin can "
            "parametrize the test over the selected modes",
        )
    return get_mode(name)


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
    ) -> TFLiteModel:
        return tflite_session.converter.convert(
            source,
            tflite_mode,
            representative_data=representative_data,
            calibration_samples=(
                tflite_session.calibration_samples
                if calibration_samples is None
                else calibration_samples
            ),
            name=name,
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
    tflite_convert: Callable[..., TFLiteModel], tflite_source: Any, tflite_representative_data: Any
) -> TFLiteModel:
    """``tflite_source`` converted under the current mode: a :class:`pytest_tflite.TFLiteModel`."""
    return tflite_convert(tflite_source, representative_data=tflite_representative_data)
