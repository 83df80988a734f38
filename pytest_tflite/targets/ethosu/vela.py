"""Arm's Vela compiler, run on a model's bytes: what it mapped to the NPU, and its figures.

Vela (PyPI ``ethos-u-vela``) is run in a child process under a timeout, because it is
native code that can die by a signal (a floating-point exception on an int4 model) or
raise a traceback (a float LSTM). Its verdict is read from what it writes:

- the compiled model (``<name>_vela.tflite``): every operator it mapped is folded into an
  ``ethos-u`` custom operator, and the operators left to the CPU keep their kind and
  output tensor names, which match them to the input model;
- its warnings, one per operator it refused ("Warning (supported operators) operator:
  GATHER, ofm: '...'" then "Reason: ..."), for the reason in its own words;
- the summary CSV (memory, cycles, estimated inference time) and the per-layer CSV
  (``--verbose-performance``).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.metadata
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ...model.isolation import signal_name

PACKAGE = "ethos-u-vela"
INSTALL_HINT = "pip install 'pytest-tflite[ethos-u]' (or pip install ethos-u-vela)"
NPU_OPERATOR = "ethos-u"
"""The custom operator Vela folds the operators it maps into."""

_MAIN = "import sys; from ethosu.vela.vela import main; sys.exit(main())"
_WARNING = re.compile(r"^Warning \(supported operators\) operator: (?P<op>\w+), ofm: '(?P<ofm>.*)'\s*$")
_DEFAULTED = re.compile(r"^Warning: No (?P<what>[\w ]+?) specified\. Using a default of (?P<value>.+?)\. Compilation")
_ERROR = re.compile(r"(?:Error|error): (?P<text>.+)$")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """One operator Vela kept off the NPU, as its warning names it."""

    op: str
    output: str
    reason: str


@dataclasses.dataclass(frozen=True)
class VelaRun:
    """What one Vela compilation produced, as far as it got."""

    ok: bool
    failure: str | None = None
    crashed: bool = False
    log: str = ""
    version: str | None = None
    seconds: float = 0.0
    summary: Mapping[str, str] = dataclasses.field(default_factory=dict)
    layers: tuple[Mapping[str, str], ...] = ()
    refusals: tuple[Refusal, ...] = ()
    cpu_operators: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(kind, output tensor names) of every operator the compiled model leaves to the CPU."""
    npu_operators: int = 0
    """How many ``ethos-u`` operators the compiled model has (NPU partitions)."""
    defaults: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Settings Vela chose itself because none was given (system configuration, ...)."""


def vela_available() -> str | None:
    """None when Vela can run here, else what to install."""
    if importlib.util.find_spec("ethosu") is None:
        return f"Arm's Vela compiler is not installed: {INSTALL_HINT}"
    return None


def vela_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def run_vela(content: bytes, arguments: Sequence[str], *, timeout: float) -> VelaRun:
    """Compile ``content`` with Vela and ``arguments`` (its own flags) in a child process."""
    missing = vela_available()
    if missing:
        return VelaRun(ok=False, failure=missing)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pytest-tflite-vela-") as folder:
        work = Path(folder)
        (work / "model.tflite").write_bytes(content)
        command = [sys.executable, "-c", _MAIN, "model.tflite", "--output-dir", "out",
                   "--verbose-performance", *arguments]
        try:
            done = subprocess.run(command, cwd=work, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            return VelaRun(
                ok=False,
                failure=f"Vela did not finish within {timeout:g} s",
                crashed=True,
                log=_text(exc.stdout) + _text(exc.stderr),
                version=vela_version(),
                seconds=time.perf_counter() - start,
            )
        log = _text(done.stdout) + _text(done.stderr)
        return _read_outputs(work / "out", log, done.returncode, time.perf_counter() - start)


def _read_outputs(out: Path, log: str, returncode: int, seconds: float) -> VelaRun:
    common: dict[str, Any] = {
        "log": log,
        "version": vela_version(),
        "seconds": seconds,
        "refusals": parse_refusals(log),
        "defaults": parse_defaults(log),
    }
    compiled = out / "model_vela.tflite"
    if returncode != 0 or not compiled.is_file():
        crashed = returncode < 0
        return VelaRun(ok=False, failure=failure_text(log, returncode), crashed=crashed, **common)
    cpu, npu = _compiled_operators(compiled.read_bytes())
    summaries = sorted(out.glob("model_summary_*.csv"))
    return VelaRun(
        ok=True,
        summary=_csv_rows(summaries[0])[0] if summaries else {},
        layers=tuple(_csv_rows(out / "model_per-layer.csv")),
        cpu_operators=cpu,
        npu_operators=npu,
        **common,
    )


def _compiled_operators(content: bytes) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int]:
    from ...model.flatbuffer import TFLiteModel

    compiled = TFLiteModel(content, name="vela output")
    names = [t.name for t in compiled.tensors]
    cpu = tuple(
        (op.name, tuple(names[t] for t in op.outputs)) for op in compiled.operators if op.name != NPU_OPERATOR
    )
    return cpu, sum(op.name == NPU_OPERATOR for op in compiled.operators)


def _csv_rows(path: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [{str(k): str(v) for k, v in row.items()} for row in csv.DictReader(handle)]
    return rows or [{}]


def parse_refusals(log: str) -> tuple[Refusal, ...]:
    """Vela's supported-operators warnings: operator kind, output tensor, reason lines."""
    lines = log.splitlines()
    found = []
    for i, line in enumerate(lines):
        match = _WARNING.match(line)
        if not match:
            continue
        reason: list[str] = []
        for follow in lines[i + 1 :]:
            if not follow.strip() or follow.startswith(("Warning", "Network summary", "CPU operators")):
                break
            reason.append(follow.strip().removeprefix("Reason: "))
        found.append(Refusal(match["op"], match["ofm"], "; ".join(reason) or "no reason given"))
    return tuple(found)


def parse_defaults(log: str) -> dict[str, str]:
    """What Vela says it defaulted ("No system configuration specified. Using a default of ...")."""
    return {m["what"]: m["value"].strip("[]'") for line in log.splitlines() if (m := _DEFAULTED.match(line))}


def failure_text(log: str, returncode: int) -> str:
    """One line for a compilation that did not finish: the signal, or Vela's own error."""
    if returncode < 0:
        return f"Vela crashed ({signal_name(-returncode)}) while compiling the model"
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        match = _ERROR.search(line)
        if match and not line.startswith("Warning"):
            detail = [match["text"], *lines[i + 1 : i + 3]]
            return "Vela could not compile the model: " + " ".join(detail)
    last = lines[-1] if lines else f"it exited with status {returncode}"
    return f"Vela could not compile the model: {last}"


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
