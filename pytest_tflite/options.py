"""The plugin's command-line options and ini keys, and the settings a run reads from them.

Most options have an ini twin (``--tflite-mode`` and ``tflite_modes``, ...; the option
wins); a bad value is a usage error at start-up, before any model converts.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .conversion.modes import CALIBRATION_SAMPLES
from .errors import TFLiteError
from .latency import DEFAULT_THREADS, DEFAULT_WARMUP
from .model.kernels import KERNELS

if TYPE_CHECKING:
    from .gate.budget import Budget

ALL = "all"
"""In a mode or target selection: every registered one."""
DEFAULT_TARGETS = ("cpu",)


def add_options(parser: pytest.Parser) -> None:
    """The ``--tflite-*`` options and ``tflite_*`` ini keys."""
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
        type=positive_int,
        metavar="N",
        help="representative samples used to calibrate the integer modes (default: ini "
        f"tflite_calibration_samples, else {CALIBRATION_SAMPLES})",
    )
    group.addoption(
        "--tflite-threads",
        dest="tflite_threads",
        type=positive_int,
        metavar="N",
        help="interpreter threads when timing latency (default: ini tflite_threads, else "
        f"{DEFAULT_THREADS}: one thread gives the steadiest figures on shared CI machines)",
    )
    group.addoption(
        "--tflite-warmup",
        dest="tflite_warmup",
        type=non_negative_int,
        metavar="N",
        help="untimed invokes before timing latency (default: ini tflite_warmup, else "
        f"{DEFAULT_WARMUP})",
    )
    group.addoption(
        "--tflite-kernels",
        dest="tflite_kernels",
        choices=KERNELS,
        help="LiteRT kernels that evaluate and time models: xnnpack (LiteRT's default) or "
        "reference (compute as microcontrollers and NPUs do; slower) (default: ini "
        "tflite_kernels, else xnnpack)",
    )
    group.addoption(
        "--tflite-native-log",
        action="store_true",
        dest="tflite_native_log",
        help="let TensorFlow's, the converter's and LiteRT's own log lines through to the "
        "terminal (default: kept off it)",
    )
    group.addoption(
        "--tflite-drill-down",
        action="store_true",
        dest="tflite_drill_down",
        help="measure the quantization error of every layer of every quantized model against "
        "float32 and record it in the report, also when its accuracy check passes (default: "
        "only for a failed accuracy check, whose message then names the worst layers)",
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
        "tflite_kernels",
        type="string",
        default=KERNELS[0],
        help="LiteRT kernels that evaluate and time models: xnnpack or reference",
    )
    parser.addini(
        "tflite_report",
        type="args",
        default=[],
        help="session report files to write (.md, .json or .html), relative to the ini file",
    )



def positive_int(text: str) -> int:
    return _whole_number(text, minimum=1)


def non_negative_int(text: str) -> int:
    return _whole_number(text, minimum=0)


def _whole_number(text: str, *, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{value} is not at least {minimum}")
    return value


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """What a run was asked to do, from the command line and the ini file."""

    modes: Sequence[str]
    targets: Sequence[str]
    golden_dir: Path
    update_golden: bool
    budgets: Mapping[str, Budget]
    """The ini budgets by scope, parsed once at start-up."""
    cache_dir: Path | None
    calibration_samples: int
    threads: int
    warmup: int
    report_paths: Sequence[Path]
    verbose: bool
    kernels: str = KERNELS[0]
    """The LiteRT kernels evaluations and latency use (``xnnpack`` or ``reference``)."""
    drill_down: bool = False
    """Per-layer quantization errors for every quantized model, not only for failed checks."""


def read_run_settings(config: pytest.Config) -> RunSettings:
    """The run's settings; a bad ini value or report path is a :class:`pytest.UsageError`."""
    worker = getattr(config, "workerinput", None) is not None
    return RunSettings(
        modes=config.getoption("tflite_modes") or config.getini("tflite_modes"),
        targets=config.getoption("tflite_targets") or config.getini("tflite_targets"),
        golden_dir=_golden_dir(config),
        update_golden=bool(config.getoption("tflite_update_golden")),
        budgets=_budgets(config),
        cache_dir=_cache_dir(config),
        calibration_samples=_count_setting(config, "tflite_calibration_samples", positive_int),
        threads=_count_setting(config, "tflite_threads", positive_int),
        warmup=_count_setting(config, "tflite_warmup", non_negative_int),
        report_paths=[] if worker else _report_paths(config),
        verbose=config.getoption("verbose") > 0,
        kernels=_kernels(config),
        drill_down=bool(config.getoption("tflite_drill_down")),
    )


def _kernels(config: pytest.Config) -> str:
    chosen: str = config.getoption("tflite_kernels") or config.getini("tflite_kernels")
    if chosen not in KERNELS:
        raise pytest.UsageError(f"ini tflite_kernels: {chosen!r} is not one of {', '.join(KERNELS)}")
    return chosen


def _golden_dir(config: pytest.Config) -> Path:
    chosen = Path(config.getoption("tflite_golden_dir") or config.getini("tflite_golden_dir"))
    return chosen if chosen.is_absolute() else config.rootpath / chosen


def _budgets(config: pytest.Config) -> dict[str, Budget]:
    """The ini budgets, parsed now so that a typo stops the run at start-up."""
    lines: list[str] = config.getini("tflite_budgets")
    if not lines:
        return {}
    from .gate.budget import parse_budget_lines

    try:
        return parse_budget_lines(lines)
    except TFLiteError as exc:
        raise pytest.UsageError(f"ini tflite_budgets: {exc}") from None


def _cache_dir(config: pytest.Config) -> Path | None:
    if config.getoption("tflite_no_cache"):
        return None
    chosen = config.getoption("tflite_cache_dir") or config.getini("tflite_cache_dir")
    if chosen:
        return Path(chosen) if Path(chosen).is_absolute() else config.rootpath / chosen
    cache = getattr(config, "cache", None)
    return cache.mkdir("tflite") if cache is not None else None


def _count_setting(config: pytest.Config, name: str, parse: Callable[[str], int]) -> int:
    """A whole-number option, else its ini twin of the same name, parsed alike."""
    value: int | None = config.getoption(name)
    if value is not None:
        return value
    try:
        return parse(config.getini(name))
    except Exception as exc:
        raise pytest.UsageError(f"ini {name}: {exc}") from None


def _report_paths(config: pytest.Config) -> list[Path]:
    """The report files asked for, checked now so that a typo fails before any conversion:
    command-line paths are relative to where pytest runs, ini paths to the ini file."""
    given = config.getoption("tflite_reports")
    if given:
        source, base = "--tflite-report", config.invocation_params.dir
    else:
        given = config.getini("tflite_report")
        source, base = "ini tflite_report", config.inipath.parent if config.inipath else config.rootpath
    if not given:
        return []
    from .report.files import report_path_problem

    paths = []
    for text in given:
        path = base / Path(text).expanduser()
        problem = report_path_problem(path)
        if problem:
            raise pytest.UsageError(f"{source} {text}: {problem}")
        paths.append(path)
    return list(dict.fromkeys(paths))
