"""The real ``edgetpu_compiler``, when it is installed: run it, read its log, report what it did.

Coral ships the compiler for x86-64 Linux only, so the ``edgetpu`` target predicts by
default. Where the compiler is on ``PATH`` (or named by the target's ``compiler_path``
option) it is run on the model's bytes in a temporary folder, under a timeout, and its
verdict replaces the prediction in the report; the prediction stays in ``details`` and
the notes name every operator the two disagree on.

Which operators the compiler mapped is read from the compiled model it writes (every
mapped operator is folded into one ``edgetpu-custom-op``), matched to the input model
through output tensor names; its log gives only counts per operator kind, which place
operators when no compiled model came out.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..compatibility import ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement
from .table import MAPPED

if TYPE_CHECKING:
    from ...model.flatbuffer import Operator, TFLiteModel

COMPILER_NAME = "edgetpu_compiler"
EDGETPU_CUSTOM_OP = "edgetpu-custom-op"

NOT_MAPPED = "Not mapped by the compiler (its log gives no status for this operator)"
_NOTE_OPS = 20
"""Operators a disagreement note names before it says how many more there are."""


# --- the log ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LogRow:
    """One line of the compiler's operator table: how many operators of a kind got a status."""

    operator: str
    count: int
    status: str

    @property
    def mapped(self) -> bool:
        return self.status == MAPPED


@dataclasses.dataclass(frozen=True)
class CompilerLog:
    """What an ``edgetpu_compiler`` log says, as far as it could be read.

    Fields the log does not print are None. Counts come from the log's own summary lines
    when present, else from the operator table. ``unparsed`` holds the lines not
    understood (a truncated table row, a message of an unknown release).
    """

    version: str | None = None
    input_model: str | None = None
    output_model: str | None = None
    compiled: bool = False
    failure: str | None = None
    errors: tuple[str, ...] = ()
    ops_on_edgetpu: int | None = None
    ops_on_cpu: int | None = None
    ops_total: int | None = None
    subgraphs: int | None = None
    rows: tuple[LogRow, ...] = ()
    compile_ms: float | None = None
    input_size_bytes: int | None = None
    output_size_bytes: int | None = None
    on_chip_memory_used_bytes: int | None = None
    on_chip_memory_remaining_bytes: int | None = None
    off_chip_memory_used_bytes: int | None = None
    timeout_seconds: int | None = None
    operation_log: str | None = None
    unparsed: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Every non-blank line was understood."""
        return not self.unparsed

    def statuses(self, operator: str) -> list[tuple[str, int]]:
        """(status, count) of one operator kind, in log order."""
        return [(row.status, row.count) for row in self.rows if row.operator == operator]

    def figures(self) -> dict[str, object]:
        """The numbers worth keeping in a report's details (only those the log printed)."""
        names = (
            "compile_ms", "input_size_bytes", "output_size_bytes", "on_chip_memory_used_bytes",
            "on_chip_memory_remaining_bytes", "off_chip_memory_used_bytes", "subgraphs",
        )
        return {name: value for name in names if (value := getattr(self, name)) is not None}


_UNITS = {"B": 1, "KIB": 1024, "MIB": 1024**2, "GIB": 1024**3, "KB": 1000, "MB": 1000**2, "GB": 1000**3}
_SIZE = re.compile(r"^\s*([\d.]+)\s*([KMG]?i?B)\s*$", re.IGNORECASE)
_HEADER = re.compile(r"^Operator\s+Count\s+Status\s*$")
_ROW = re.compile(r"^(?P<op>[A-Za-z][A-Za-z0-9_:.\-]*)\s+(?P<count>\d+)\s+(?P<status>\S.*?)\s*$")

_SCALARS: dict[str, re.Pattern[str]] = {
    "version": re.compile(r"^Edge TPU Compiler version\s+(\S+)"),
    "input_model": re.compile(r"^Input(?: model)?:\s*(\S.*?)\s*$"),
    "output_model": re.compile(r"^Output(?: model)?:\s*(\S.*?)\s*$"),
    "input_size_bytes": re.compile(r"^Input size:\s*(\S.*?)\s*$"),
    "output_size_bytes": re.compile(r"^Output size:\s*(\S.*?)\s*$"),
    "on_chip_memory_used_bytes": re.compile(r"^On-chip memory used for caching model parameters:\s*(\S+)"),
    "on_chip_memory_remaining_bytes": re.compile(
        r"^On-chip memory remaining for caching model parameters:\s*(\S+)"
    ),
    "off_chip_memory_used_bytes": re.compile(
        r"^Off-chip memory used for streaming uncached model parameters:\s*(\S+)"
    ),
    "subgraphs": re.compile(r"^Number of Edge TPU subgraphs:\s*(\d+)"),
    "ops_total": re.compile(r"^Total number of operations:\s*(\d+)"),
    "ops_on_edgetpu": re.compile(r"^Number of operations that will run on Edge TPU:\s*(\d+)"),
    "ops_on_cpu": re.compile(r"^Number of operations that will run on CPU:\s*(\d+)"),
    "compile_ms": re.compile(r"^Model compiled successfully in\s*([\d.]+)\s*ms"),
    "timeout_seconds": re.compile(r"^Started a compilation timeout timer of\s*(\d+)\s*seconds"),
    "operation_log": re.compile(r"^Operation log:\s*(\S.*?)\s*$"),
}
_SIZES = {
    "input_size_bytes", "output_size_bytes", "on_chip_memory_used_bytes",
    "on_chip_memory_remaining_bytes", "off_chip_memory_used_bytes",
}
_INTS = {"subgraphs", "ops_total", "ops_on_edgetpu", "ops_on_cpu", "timeout_seconds"}

_SUCCESS = re.compile(r"^(Compilation succeeded|Model compiled successfully|Model successfully compiled)")
_FAILED = re.compile(r"^Compilation failed!?\s*$")
_ERROR = re.compile(
    r"^(ERROR\b|Error\b|Invalid model|Model not quantized|Model could not be parsed|"
    r"Compilation failed:|Internal compiler error|Unsupported|Failed to|Unable to|"
    r"Compilation child process (?!completed within timeout period))|timed out"
)
_KNOWN = re.compile(
    r"^(Compilation child process completed within timeout period|"
    r"See the operation log file for individual operation details)"
)


def _size_bytes(text: str) -> int | None:
    """``2.50KiB`` -> 2560; None for a figure in a unit the compiler has not been seen to use."""
    match = _SIZE.match(text)
    if match is None:
        return None
    try:
        return round(float(match.group(1)) * _UNITS[match.group(2).upper()])
    except (KeyError, ValueError):
        return None


def _scalar(field: str, raw: str) -> object:
    if field in _SIZES:
        return _size_bytes(raw)
    if field in _INTS:
        return int(raw)
    if field == "compile_ms":
        try:
            return float(raw.rstrip("."))
        except ValueError:
            return None
    return raw


def _read_scalar(line: str, found: dict[str, object]) -> bool:
    """Store the first value of a known header or summary line; True if the line was one."""
    for field, pattern in _SCALARS.items():
        match = pattern.match(line)
        if match is not None:
            if field not in found:
                found[field] = _scalar(field, match.group(1))
            return True
    return False


def _read_row(line: str) -> LogRow | None:
    match = _ROW.match(line)
    if match is None:
        return None
    return LogRow(match.group("op"), int(match.group("count")), match.group("status"))


def parse_log(text: str) -> CompilerLog:
    """Read an ``edgetpu_compiler`` log (its standard output or its ``*_edgetpu.log``).

    Every release's layout is accepted (1.0 to 16.0: ``Input:`` or ``Input model:``, with
    or without the timeout-timer lines); unknown lines are kept in ``unparsed``, never
    raised on, so a log of a new release still gives what it can.
    """
    found: dict[str, object] = {}
    rows: list[LogRow] = []
    errors: list[str] = []
    unparsed: list[str] = []
    in_table = succeeded = failed = not_all = False
    for raw in str(text).splitlines():
        line = raw.strip()
        if not line:
            continue
        if _HEADER.match(line):
            in_table = True
        elif in_table and (row := _read_row(line)) is not None:
            rows.append(row)
        elif _read_scalar(line, found):
            succeeded = succeeded or line.startswith("Model compiled successfully")
        elif line.startswith("Model successfully compiled but not all operations"):
            succeeded = not_all = True
        elif _SUCCESS.match(line):
            succeeded = True
        elif _FAILED.match(line):
            failed = True
        elif _ERROR.search(line):
            errors.append(line)
        elif not _KNOWN.match(line):
            unparsed.append(line)
    return _assemble(found, rows, errors, unparsed, succeeded=succeeded, failed=failed, not_all=not_all)


def _assemble(
    found: dict[str, object],
    rows: list[LogRow],
    errors: list[str],
    unparsed: list[str],
    *,
    succeeded: bool,
    failed: bool,
    not_all: bool,
) -> CompilerLog:
    failure = _failure_text(errors) if errors else ("Compilation failed!" if failed else None)
    compiled = failure is None and (succeeded or bool(rows) or found.get("ops_total") is not None)
    fields = {f.name for f in dataclasses.fields(CompilerLog)}
    log = CompilerLog(
        compiled=compiled,
        failure=failure,
        errors=tuple(errors),
        rows=tuple(rows),
        unparsed=tuple(unparsed),
        **cast("dict[str, Any]", {k: v for k, v in found.items() if k in fields}),
    )
    on_tpu, on_cpu, total = _counts(log, not_all=not_all)
    return dataclasses.replace(log, ops_on_edgetpu=on_tpu, ops_on_cpu=on_cpu, ops_total=total)


def _failure_text(errors: Sequence[str]) -> str:
    """The error lines as one message: ``Invalid model: m.tflite: Model not quantized``."""
    joined = errors[0]
    for line in errors[1:]:
        joined += (" " if joined.endswith((".", "!", ":")) else ": ") + line
    return joined


def _counts(log: CompilerLog, *, not_all: bool) -> tuple[int | None, int | None, int | None]:
    """Counts the summary lines leave out, from the table or from an all-mapped compile."""
    on_tpu, on_cpu, total = log.ops_on_edgetpu, log.ops_on_cpu, log.ops_total
    if log.rows:
        table_total = sum(r.count for r in log.rows)
        table_mapped = sum(r.count for r in log.rows if r.mapped)
        on_tpu = table_mapped if on_tpu is None else on_tpu
        on_cpu = table_total - table_mapped if on_cpu is None else on_cpu
        total = table_total if total is None else total
    elif log.compiled and total is not None and not not_all and log.subgraphs != 0:
        on_tpu = total if on_tpu is None else on_tpu
        on_cpu = 0 if on_cpu is None else on_cpu
    return on_tpu, on_cpu, total


# --- finding and running the compiler --------------------------------------------------------


def find_compiler(explicit: str | None) -> str | None:
    """The compiler to run: the ``compiler`` option if given, else ``edgetpu_compiler`` on PATH.

    An explicit path is returned even when nothing is there, so that running it reports
    the missing file instead of silently falling back to the prediction.
    """
    if explicit:
        return shutil.which(explicit) or explicit
    return shutil.which(COMPILER_NAME)


@dataclasses.dataclass(frozen=True)
class CompilerRun:
    """One run of the compiler: what it printed, what it wrote, and what went wrong, if anything.

    ``error`` is None only when the compiler ran to its end (a compile failure the log
    explains is a result, not an error of the run: see ``log.failure``).
    """

    command: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    log: CompilerLog
    compiled_model: bytes | None = None
    operation_log_text: str = ""
    error: str | None = None
    seconds: float = 0.0

    @property
    def log_text(self) -> str:
        return "\n".join(part for part in (self.stdout, self.stderr) if part)

    @property
    def ran(self) -> bool:
        """The compiler started and ended by itself (no missing binary, timeout or crash)."""
        return self.returncode is not None and self.returncode >= 0

    @property
    def measured(self) -> bool:
        """The run says how the model compiles: it compiled, or its log says why not."""
        return self.ran and (self.log.compiled or self.log.failure is not None)


def _stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "model"


def _arguments(extra_args: Iterable[str]) -> list[str]:
    """Flags as the target spells them (``"-m 13"``) split into the words the compiler takes."""
    return [word for arg in extra_args for word in shlex.split(arg)]


def run_compiler(
    model_bytes: bytes,
    compiler_path: str,
    *,
    timeout_s: float,
    extra_args: Sequence[str] = (),
    name: str = "model",
) -> CompilerRun:
    """Compile ``model_bytes`` with ``edgetpu_compiler -s -o DIR`` in a temporary folder.

    The compiler is closed source and may hang or crash on odd models, so it runs in its
    own process group under ``timeout_s`` and every way it can end is a result.
    """
    stem = _stem(name)
    with tempfile.TemporaryDirectory(prefix="pytest-tflite-edgetpu-") as folder:
        source = Path(folder) / f"{stem}.tflite"
        source.write_bytes(model_bytes)
        command = (compiler_path, "-s", "-o", folder, *_arguments(extra_args), source.name)
        start = time.perf_counter()
        outcome = _execute(command, Path(folder), timeout_s)
        seconds = time.perf_counter() - start
        twin = Path(folder) / f"{stem}_edgetpu.tflite"
        operation_log = Path(folder) / f"{stem}_edgetpu.log"
        compiled = twin.read_bytes() if twin.is_file() else None
        op_text = operation_log.read_text("utf-8", "replace") if operation_log.is_file() else ""
    returncode, stdout, stderr, problem = outcome
    log = parse_log(_log_text(stdout, stderr, op_text))
    error = problem or _exit_problem(command[0], returncode, log, compiled)
    return CompilerRun(command, returncode, stdout, stderr, log, compiled, op_text, error, seconds)


def _log_text(stdout: str, stderr: str, operation_log: str) -> str:
    """What to parse: the printed log, with the operation log's table if none was printed."""
    printed = "\n".join(part for part in (stdout, stderr) if part)
    if operation_log and not parse_log(printed).rows:
        return printed + "\n" + operation_log
    return printed


def _execute(command: Sequence[str], cwd: Path, timeout_s: float) -> tuple[int | None, str, str, str | None]:
    """(return code, stdout, stderr, problem starting or stopping it)."""
    tool = Path(command[0]).name
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, "", "", f"cannot run the Edge TPU compiler {command[0]!r}: {reason}"
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stdout, stderr = _stop(process)
        problem = f"{tool} did not finish within {timeout_s:g} s and was stopped"
        return None, _text(stdout), _text(stderr), problem
    return process.returncode, _text(stdout), _text(stderr), None


def _stop(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Kill the compiler and any child it started (16.0 compiles in a child process)."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        return b"", b""


def _exit_problem(path: str, returncode: int | None, log: CompilerLog, compiled: bytes | None) -> str | None:
    tool = Path(path).name
    if returncode is None:
        return None
    if returncode < 0:
        return f"{tool} crashed: killed by signal {_signal_name(-returncode)} (return code {returncode})"
    if returncode > 0:
        why = log.failure or "no reason in its log"
        return f"{tool} exited with status {returncode}: {why}"
    if compiled is None and log.failure is None:
        return f"{tool} exited with status 0 but wrote no compiled model"
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


# --- the measured report ---------------------------------------------------------------------


def log_kind(op: Operator) -> str:
    """How the compiler's table names the operator's kind: every custom operator is CUSTOM."""
    return "CUSTOM" if op.is_custom else op.name


def cpu_indices_from_twin(model: TFLiteModel, twin: TFLiteModel) -> set[int]:
    """Operators of ``model`` that the compiled ``twin`` still runs outside its Edge TPU op:
    those whose output tensor names some other operator of the twin writes."""
    kept = {
        twin.tensors[i].name
        for op in twin.operators
        if op.name != EDGETPU_CUSTOM_OP
        for i in op.outputs
        if i >= 0
    }
    return {
        op.index
        for op in model.operators
        if any(model.tensors[i].name in kept for i in op.outputs if i >= 0)
    }


def cpu_indices_from_counts(model: TFLiteModel, log: CompilerLog, predicted: CompatibilityReport) -> set[int]:
    """Without a compiled model: per kind, as many operators on the CPU as the log counts.

    The log does not say which ones, so the predicted CPU operators of the kind are taken
    first, then the last ones of the kind (the compiler keeps the graph's first region).
    """
    off = {op.index for op in predicted.ops if not op.on_target}
    cpu: set[int] = set()
    for kind in dict.fromkeys(row.operator for row in log.rows):
        count = sum(n for status, n in log.statuses(kind) if status != MAPPED)
        ops = [op.index for op in model.operators if log_kind(op) == kind]
        ordered = [i for i in ops if i in off] + [i for i in reversed(ops) if i not in off]
        cpu.update(ordered[:count])
    return cpu


class _Statuses:
    """Hands out the log's non-mapped statuses of each kind, as many times as it counts them."""

    def __init__(self, log: CompilerLog) -> None:
        self._left: dict[tuple[str, str], int] = {}
        for row in log.rows:
            if not row.mapped:
                key = (row.operator, row.status)
                self._left[key] = self._left.get(key, 0) + row.count

    def take(self, kind: str, preferred: str | None) -> str | None:
        """The preferred status if the log still has one for ``kind``, else its next one."""
        left = [status for (k, status), n in self._left.items() if k == kind and n > 0]
        if not left:
            return None
        status = preferred if preferred in left else left[0]
        self._left[(kind, status)] -= 1
        return status


def _placements(
    model: TFLiteModel, cpu: set[int], log: CompilerLog, predicted: Mapping[int, OpPlacement]
) -> list[OpPlacement]:
    statuses = _Statuses(log)
    placements = []
    for op in model.operators:
        guess = predicted.get(op.index)
        if op.index not in cpu:
            placements.append(OpPlacement(op.index, op.name, op.version, ON_TARGET, MAPPED))
            continue
        preferred = guess.reason if guess is not None and not guess.on_target else None
        reason = statuses.take(log_kind(op), preferred) or preferred or NOT_MAPPED
        fix = guess.fix if guess is not None and not guess.on_target else ""
        placements.append(OpPlacement(op.index, op.name, op.version, ON_CPU, reason, fix))
    return placements


def _failed_placements(
    model: TFLiteModel, log: CompilerLog, predicted: Mapping[int, OpPlacement]
) -> list[OpPlacement]:
    """The compiler wrote no model: every operator runs on the CPU in the uncompiled one."""
    placements = []
    for op in model.operators:
        guess = predicted.get(op.index)
        if guess is not None and not guess.on_target:
            reason, fix = guess.reason, guess.fix
        else:
            reason, fix = f"Not mapped: {log.failure}", ""
        placements.append(OpPlacement(op.index, op.name, op.version, ON_CPU, reason, fix))
    return placements


def _named(ops: Sequence[OpPlacement]) -> str:
    names = [f"{op.op} #{op.index}" for op in ops[:_NOTE_OPS]]
    more = f" and {len(ops) - _NOTE_OPS} more" if len(ops) > _NOTE_OPS else ""
    return ", ".join(names) + more


def disagreements(predicted: CompatibilityReport, measured: Sequence[OpPlacement]) -> list[str]:
    """Notes naming the operators the prediction placed differently from the compiler."""
    guess = {op.index: op for op in predicted.ops}
    mapped = [op for op in measured if op.on_target and op.index in guess and not guess[op.index].on_target]
    left = [op for op in measured if not op.on_target and op.index in guess and guess[op.index].on_target]
    notes = []
    if mapped:
        notes.append(f"predicted on the CPU, mapped by the compiler: {_named(mapped)}")
    if left:
        notes.append(f"predicted on the Edge TPU, left on the CPU by the compiler: {_named(left)}")
    return notes


def _verdict_notes(predicted: CompatibilityReport, log: CompilerLog) -> list[str]:
    if predicted.failure and log.compiled:
        return [f"the prediction expected the compile to fail ({predicted.failure}); the compiler compiled it"]
    if log.failure and not predicted.failure:
        return [f"the compiler failed where the prediction expected a compile: {log.failure}"]
    return []


def _unmeasured(predicted: CompatibilityReport, run: CompilerRun) -> CompatibilityReport:
    """The compiler gave no verdict (missing, stopped, crashed): the prediction stands."""
    why = run.error or "its log says neither that it compiled nor why not"
    details = {**predicted.details, "measured": False, "compiler_run_error": why}
    notes = (*predicted.notes, f"the Edge TPU compiler could not confirm the prediction: {why}")
    return dataclasses.replace(predicted, notes=notes, details=details)


def _twin(run: CompilerRun, model: TFLiteModel) -> tuple[TFLiteModel | None, str]:
    """The compiled model as a TFLiteModel, or None and why it cannot be used."""
    from ...errors import ModelFormatError
    from ...model.flatbuffer import TFLiteModel

    if run.compiled_model is None:
        return None, "the compiler wrote no compiled model"
    try:
        return TFLiteModel(run.compiled_model, name=f"{model.name}_edgetpu"), ""
    except ModelFormatError as exc:
        return None, f"its compiled model does not parse ({exc.problem})"


def _placed(
    predicted: CompatibilityReport, run: CompilerRun, model: TFLiteModel
) -> tuple[list[OpPlacement], str, dict[str, object]]:
    """Measured placements, where they were read from, and figures of the compiled model."""
    guess = {op.index: op for op in predicted.ops}
    log = run.log
    if not log.compiled:
        return _failed_placements(model, log, guess), "the compiler's log (the compile failed)", {}
    twin, why_not = _twin(run, model)
    if twin is not None:
        subgraphs = sum(op.name == EDGETPU_CUSTOM_OP for op in twin.operators)
        cpu = cpu_indices_from_twin(model, twin)
        return _placements(model, cpu, log, guess), "the compiled model", {"edgetpu_subgraphs": subgraphs}
    cpu = cpu_indices_from_counts(model, log, predicted)
    basis = f"the log's counts per operator kind ({why_not}; which operator of a kind is a guess)"
    return _placements(model, cpu, log, guess), basis, {}


def measured_report(predicted: CompatibilityReport, run: CompilerRun, model: TFLiteModel) -> CompatibilityReport:
    """The report of the real compile, in the prediction's shape, with the prediction beside it.

    ``static`` is False: the placement was observed. When the run gave no verdict (no
    binary, a timeout, a crash) the prediction is returned with a note saying why.
    """
    if not run.measured:
        return _unmeasured(predicted, run)
    log = run.log
    ops, basis, figures = _placed(predicted, run, model)
    version = log.version or "(version not printed)"
    notes = [
        f"measured: compiled with edgetpu_compiler {version}; placement read from {basis}",
        *_verdict_notes(predicted, log),
        *disagreements(predicted, ops),
    ]
    if log.unparsed:
        shown = "; ".join(log.unparsed[:3])
        notes.append(f"{len(log.unparsed)} line(s) of the compiler's log were not understood: {shown}")
    details = _measured_details(predicted, run, figures)
    return dataclasses.replace(
        predicted,
        ops=tuple(ops),
        static=False,
        failure=log.failure,
        notes=tuple(notes),
        details=details,
    )


def _measured_details(
    predicted: CompatibilityReport, run: CompilerRun, figures: Mapping[str, object]
) -> dict[str, object]:
    log = run.log
    details: dict[str, object] = {key: value for key, value in predicted.details.items() if key != "compiler_errors"}
    details.update(
        measured=True,
        compiler_version=log.version,
        compiler_command=list(run.command),
        compiler_seconds=round(run.seconds, 3),
        predicted_compiler_version=predicted.details.get("compiler_version"),
        predicted_verdict=predicted.verdict,
        predicted_ops_on_target=predicted.ops_on_target,
        predicted_failure=predicted.failure,
        predicted_cpu_op_indices=[op.index for op in predicted.off_target],
    )
    for key, value in log.figures().items():
        details["edgetpu_subgraphs" if key == "subgraphs" else f"compiler_{key}"] = value
    details.update(figures)
    if log.failure:
        details["compiler_errors"] = list(log.errors) or [log.failure]
        details["edgetpu_subgraphs"] = 0
    return details


# --- the entry point for the target -----------------------------------------------------------


def confirm_with_compiler(
    predicted: CompatibilityReport,
    model: TFLiteModel,
    settings_compiler_option: str | None,
    timeout_s: float,
    extra_args: Sequence[str] = (),
) -> CompatibilityReport | None:
    """The measured report when a compiler is found, else None (the prediction stands alone).

    ``extra_args`` are the flags the target's settings select (``Settings.flags``:
    ``-m N``, ``-a``), so the real compile answers the same question as the prediction.
    """
    path = find_compiler(settings_compiler_option)
    if path is None:
        return None
    run = run_compiler(model.content, path, timeout_s=timeout_s, extra_args=extra_args, name=model.name)
    return measured_report(predicted, run, model)
