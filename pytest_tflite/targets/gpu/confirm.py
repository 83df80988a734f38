"""Measuring the gpu target's placement on this machine's GPU, with LiteRT's ``CompiledModel``.

LiteRT's GPU accelerator is a different engine from the TFLite GPU delegate whose rules
the prediction follows, so where it runs, its own log decides the placement and the
prediction is kept beside it. The model is compiled and run in a child process: LiteRT's
native logging floods stderr (the placement is read from it), and a broken GPU driver may
crash or hang.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from ...errors import TargetError
from ...model.isolation import signal_name
from ..compatibility import CompatibilityReport, OpPlacement
from ..engine import Finding
from . import table

if TYPE_CHECKING:
    from ...model.flatbuffer import TFLiteModel

CONFIRM_MODES = ("auto", "never", "always")
"""``auto`` confirms when a graphics API is found, ``never`` only predicts, ``always``
fails without a GPU."""

RELATIVE_TOLERANCE = 1e-2
"""Largest accepted GPU-vs-CPU difference of a float output's 99th-percentile element, as
a fraction of the CPU output's range. float16 keeps 11 significant bits (rounding error
2**-11, about 5e-4 of a value); a few layers of accumulation stay well below 1e-2 of the
range, while a wrong kernel (a bad index, a dropped term) is off by a sizeable part of it
on many elements."""

OUTLIER_TOLERANCE = 0.1
"""Largest accepted difference of any single element: a deep float16 network on seeded
inputs outside its training range drifts on a few elements (MediaPipe's selfie
segmentation: 6% of the range at one pixel, 99% of them within 0.3%), a wrong kernel
that touches only a few elements (a top-k that skips values) is off by more."""

_MARK = "@@pytest-tflite: placement log ends@@"
"""Written to the child's stderr after the GPU|CPU compile, so the GPU-only compile's log
(which repeats the unsupported operators) is not read as the placement."""


@dataclasses.dataclass(frozen=True)
class Probe:
    """What LiteRT said and computed when asked to run the model on the GPU."""

    ok: bool
    fully_accelerated: bool | None = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0
    result: Mapping[str, object] = dataclasses.field(default_factory=dict)
    """The child's figures: timings, output differences, whether a GPU-only compile works."""
    model_refused: bool = False
    """An adapter was there, or loading failed first: the model, not the machine, failed."""
    crashed: bool = False
    """LiteRT died by a signal with this model on a working adapter."""


@dataclasses.dataclass(frozen=True)
class LogBlock:
    """What the accelerator logs for one subgraph it cannot take whole: the unsupported
    operator kinds with their reasons, then the count line."""

    unsupported: tuple[tuple[str, str], ...]
    """(operator kind, reason) pairs, as the log lists them."""
    on_gpu: int
    on_cpu: int

    @property
    def total(self) -> int:
        return self.on_gpu + self.on_cpu


@dataclasses.dataclass(frozen=True)
class AcceleratorLog:
    """The placement lines of LiteRT's GPU accelerator log, one block per subgraph that
    does not run whole on the GPU (a subgraph that does gets no lines)."""

    adapter: str | None = None
    blocks: tuple[LogBlock, ...] = ()

    def block_for(self, op_count: int) -> LogBlock | None:
        """The main subgraph's block: subgraphs are delegated in order, so the first block
        that counts the main subgraph's operators; None when it runs whole on the GPU."""
        return next((b for b in self.blocks if b.total == op_count), None)


Place = Callable[[Sequence["Finding | None"]], Sequence[OpPlacement]]
"""Places the main subgraph from one finding (or None) per operator, partitions included."""


@dataclasses.dataclass(frozen=True)
class Confirmation:
    """What confirmation adds to a prediction: notes, figures, whether the report stays a
    prediction (static), the measured placement and a failure, if any."""

    notes: tuple[str, ...]
    details: dict[str, object]
    static: bool
    placements: tuple[OpPlacement, ...] | None = None
    failure: str | None = None


def confirm(
    model: TFLiteModel,
    placements: Sequence[OpPlacement],
    *,
    mode: str,
    timeout: float,
    predicted_from: str,
    place: Place,
    predicted_findings: Sequence[Finding | None],
) -> Confirmation:
    """Measure the placement as ``mode`` (one of :data:`CONFIRM_MODES`) says; otherwise keep
    the predicted ``placements``. ``place`` turns the accelerator's findings into a
    placement the way the prediction was made (partitions included)."""
    if mode == "never":
        note = f"predicted from {predicted_from}; run-time confirmation is off (confirm='never')"
        return Confirmation((note,), {"confirmed": False}, static=True)
    if gpu_api_available() is None and mode == "auto":
        note = f"predicted from {predicted_from}, because no GPU adapter was found ({_missing_api_text()})"
        return Confirmation((note,), {"confirmed": False}, static=True)
    probe = confirm_on_gpu(model.content, timeout=timeout)
    details: dict[str, object] = {"confirm_seconds": round(probe.seconds, 3)}
    if probe.model_refused:
        return refused(model, placements, probe, details, place, predicted_findings)
    if not probe.ok:
        if mode == "always":
            raise TargetError(
                f"no GPU is available to confirm the placement on the mobile GPU target ({probe.error})",
                source=model.name,
                mode=model.mode,
                hint="Run on a machine with a GPU driver (Vulkan, Metal or Direct3D 12), "
                "or use confirm='auto' to fall back to the predicted placement",
                detail=_log_problems(probe.detail),
            )
        note = f"predicted from {predicted_from}, because no GPU adapter was usable: {probe.error}"
        return Confirmation((note,), {**details, "confirmed": False}, static=True)
    return measured(model, placements, probe, details, place, predicted_findings)


def measured(
    model: TFLiteModel,
    placements: Sequence[OpPlacement],
    probe: Probe,
    details: dict[str, object],
    place: Place,
    predicted_findings: Sequence[Finding | None],
) -> Confirmation:
    """The accelerator's placement, with the prediction kept in the details and the
    disagreements named in the notes."""
    log = parse_log(probe.detail)
    block = log.block_for(len(placements))
    ops, matching_note = placement_from_log(placements, block, place, predicted_findings)
    details.update(
        _confirmed_details(model, placements, log, probe),
        ops_on_gpu_logged=block.on_gpu if block else len(placements),
        ops_on_cpu_logged=block.on_cpu if block else 0,
        unsupported_logged=[f"{kind}: {reason}" for kind, reason in block.unsupported] if block else [],
        other_subgraphs_logged=[_block_figures(b) for b in log.blocks if b is not block],
        gpu_only_compiles=probe.result.get("gpu_only_compiles"),
        is_fully_accelerated=probe.fully_accelerated,
        **_figures(probe.result),
    )
    notes = [_measured_note(log, ops, placements)]
    notes.extend(n for n in (matching_note, _disagreement(placements, ops)) if n)
    notes.extend(_run_notes(probe.result, ops))
    if not computes_in_float(model):
        notes.append(_quantized_difference_note(probe.result))
        return Confirmation(tuple(notes), details, static=False, placements=ops)
    return Confirmation(tuple(notes), details, static=False, placements=ops, failure=wrong_results(probe.result))


def refused(
    model: TFLiteModel,
    placements: Sequence[OpPlacement],
    probe: Probe,
    details: dict[str, object],
    place: Place,
    predicted_findings: Sequence[Finding | None] = (),
) -> Confirmation:
    """The accelerator could not load or compile this model: nothing runs on the GPU. When
    the rules refused the model as a whole too, their reason and fix are kept."""
    log = parse_log(probe.detail)
    expected = _whole_model_refusal(predicted_findings)
    fix = expected.fix if expected else _REFUSED_FIX
    finding = Finding(f"LiteRT's GPU accelerator cannot prepare this model: {probe.error}", fix)
    ops = tuple(place([finding] * len(placements)))
    details.update(_confirmed_details(model, placements, log, probe), gpu_only_compiles=False)
    notes = [_measured_note(log, ops, placements), f"LiteRT refused the model: {probe.error}"]
    if expected:
        notes.append(f"as the rules expect: {expected.reason}")
    notes.extend(n for n in (_disagreement(placements, ops),) if n)
    failure = f"{probe.error}: the GPU cannot run this model" if probe.crashed else None
    return Confirmation(tuple(notes), details, static=False, placements=ops, failure=failure)


def _whole_model_refusal(findings: Sequence[Finding | None]) -> Finding | None:
    """The one finding the rules gave every operator, when they refused the whole model."""
    first = findings[0] if findings else None
    return first if first is not None and all(f is first for f in findings) else None


_REFUSED_FIX = (
    "Change what the reason names (LiteRT's CompiledModel loads no variable tensors: export "
    "recurrent layers unrolled or stateless), or run the model with the TFLite Interpreter's "
    "GPU delegate"
)


def _confirmed_details(
    model: TFLiteModel, placements: Sequence[OpPlacement], log: AcceleratorLog, probe: Probe
) -> dict[str, object]:
    predicted = CompatibilityReport("gpu", model.name, model.mode, tuple(placements))
    return {
        "confirmed": True,
        "adapter": log.adapter,
        "predicted_cpu_op_indices": [p.index for p in placements if not p.on_target],
        "predicted_verdict": predicted.verdict,
    }


def _block_figures(block: LogBlock) -> dict[str, object]:
    """A subgraph other than the main one (a loop's body): its counts and unsupported kinds."""
    return {
        "ops_on_gpu": block.on_gpu,
        "ops_on_cpu": block.on_cpu,
        "unsupported": [f"{kind}: {reason}" for kind, reason in block.unsupported],
    }


def _measured_note(log: AcceleratorLog, ops: Sequence[OpPlacement], placements: Sequence[OpPlacement]) -> str:
    return (
        f"placement measured with LiteRT's GPU accelerator on {log.adapter or 'an unnamed adapter'}: "
        f"{sum(p.on_target for p in ops)} of {len(ops)} operators on the GPU (the static "
        f"rules predicted {sum(p.on_target for p in placements)})"
    )


# --- the log --------------------------------------------------------------------------

_ADAPTER = re.compile(r"Selected adapter: (.+?)\s*$")
_HEADER = "Following operations are not supported by GPU delegate:"
_REASON = re.compile(r"^([A-Z][A-Z0-9_]*): (.*?)\s*$")
_SOME = re.compile(r"(\d+) operations? will run on the GPU, and the remaining (\d+) operations? will run on the CPU")
_NONE = re.compile(r"No operations will run on the GPU, and all (\d+) operations? will run on the CPU")


def parse_log(stderr: str) -> AcceleratorLog:
    """The adapter and one block per partly delegated subgraph, from LiteRT's log."""
    lines = stderr.split(_MARK, 1)[0].splitlines()
    adapter = next((m.group(1) for m in map(_ADAPTER.search, lines) if m), None)
    return AcceleratorLog(adapter, tuple(_blocks(lines)))


def _blocks(lines: Sequence[str]) -> list[LogBlock]:
    blocks: list[LogBlock] = []
    listed: list[tuple[str, str]] = []
    listing = False
    for line in lines:
        if _HEADER in line:
            listing, listed = True, []
            continue
        counts = _counts(line)
        if counts is not None:
            blocks.append(LogBlock(tuple(listed), *counts))
            listing, listed = False, []
            continue
        match = _REASON.match(line) if listing else None
        if match is None:
            listing = False
            continue
        listed.append((match.group(1), match.group(2)))
    return blocks


def _counts(line: str) -> tuple[int, int] | None:
    if some := _SOME.search(line):
        return int(some.group(1)), int(some.group(2))
    if none := _NONE.search(line):
        return 0, int(none.group(1))
    return None


# --- placement ------------------------------------------------------------------------


def placement_from_log(
    predicted: Sequence[OpPlacement],
    block: LogBlock | None,
    place: Place,
    predicted_findings: Sequence[Finding | None],
) -> tuple[tuple[OpPlacement, ...], str]:
    """The accelerator's findings placed as the delegate places them (largest partition).

    The log names operator kinds, not operators. Every operator of a listed kind is taken
    as unsupported; when that does not give the logged count (two GATHERs, only one of
    which the accelerator refuses), only those the rules refuse are, and if that does not
    add up either, a note says so.
    """
    if block is None:
        return tuple(place([None] * len(predicted))), ""
    reasons: dict[str, list[str]] = {}
    for kind, reason in block.unsupported:
        reasons.setdefault(kind, []).append(reason)
    by_kind = [_logged_finding(p.op, reasons) for p in predicted]
    ops = tuple(place(by_kind))
    if sum(p.on_target for p in ops) == block.on_gpu:
        return ops, ""
    by_rules = [
        _logged_finding(p.op, reasons) if f is not None else None for p, f in zip(predicted, predicted_findings)
    ]
    refined = tuple(place(by_rules))
    if sum(p.on_target for p in refined) == block.on_gpu:
        return refined, ""
    kinds = ", ".join(sorted(reasons)) or "none"
    note = (
        f"LiteRT's log counts {block.on_gpu} operators on the GPU and {block.on_cpu} on the CPU, "
        f"but placing the operator kinds it lists ({kinds}) puts {sum(p.on_target for p in ops)} "
        "on the GPU: the placement shown takes every operator of those kinds as unsupported"
    )
    return ops, note


def _logged_finding(op: str, reasons: Mapping[str, list[str]]) -> Finding | None:
    if op not in reasons:
        return None
    return Finding(f"LiteRT's GPU accelerator: {op}: {'; '.join(reasons[op])}", _fix_for(op))


def _fix_for(op: str) -> str:
    return table.UNSUPPORTED_FIXES.get(op, table.GENERIC_UNSUPPORTED_FIX.format(op=op))


def _disagreement(predicted: Sequence[OpPlacement], ops: Sequence[OpPlacement]) -> str:
    """Which operators the accelerator places differently from the static rules."""
    moved = [
        f"{m.op} (operator {m.index}) {_where(m)}, predicted {_where(p)}"
        for p, m in zip(predicted, ops)
        if p.on_target != m.on_target
    ]
    if not moved:
        return ""
    return "LiteRT's GPU accelerator disagrees with the static rules: " + "; ".join(moved)


def _where(p: OpPlacement) -> str:
    return "on the GPU" if p.on_target else "on the CPU"


# --- outputs --------------------------------------------------------------------------


def _figures(result: Mapping[str, object]) -> dict[str, object]:
    keys = ("compile_seconds", "run_seconds", "cpu_run_seconds", "max_abs_diff", "max_rel_diff", "p99_rel_diff")
    figures = {key: result[key] for key in keys if key in result}
    if "outputs" in result:
        figures["output_diffs"] = result["outputs"]
    return figures


QUANTIZED_DTYPES = ("int8", "uint8", "int16")


def computes_in_float(model: TFLiteModel) -> bool:
    """Whether the CPU interpreter computes the model in float, as the GPU does: only then
    is the CPU's output a reference the GPU must meet to float16 precision. A model with
    integer weights or activations runs integer kernels on the CPU, while the GPU
    dequantizes and computes in float16, so the two legitimately differ by quantization
    noise (dynamic-range and int8 models: 1 to 2% of the range on the reference suites)."""
    return not any(t.dtype in QUANTIZED_DTYPES for t in model.tensors)


def _quantized_difference_note(result: Mapping[str, object]) -> str:
    rel = result.get("max_rel_diff")
    shown = f"{rel:.2%} of the output's range" if isinstance(rel, (int, float)) else "an unmeasured amount"
    return (
        f"the GPU computes this quantized model in float16 and the CPU interpreter in integer "
        f"arithmetic; their outputs differ by {shown} (quantization noise, not judged)"
    )


def wrong_results(result: Mapping[str, object]) -> str | None:
    """The report's failure when a float output is further from the CPU interpreter's than
    float16 rounding explains."""
    rel, p99 = result.get("max_rel_diff"), result.get("p99_rel_diff", result.get("max_rel_diff"))
    if not isinstance(rel, (int, float)) or not isinstance(p99, (int, float)):
        return None
    if p99 <= RELATIVE_TOLERANCE and rel <= OUTLIER_TOLERANCE:
        return None
    return (
        "the GPU computes wrong results: its float outputs differ from the CPU interpreter's "
        f"by up to {result.get('max_abs_diff'):.3g} ({rel:.2%} of the output's range, "
        f"{p99:.2%} at the 99th percentile; float16 rounding explains up to "
        f"{RELATIVE_TOLERANCE:.0%} at the 99th percentile and {OUTLIER_TOLERANCE:.0%} anywhere)"
    )


def _run_notes(result: Mapping[str, object], ops: Sequence[OpPlacement]) -> list[str]:
    notes = []
    if result.get("run_error"):
        notes.append(f"LiteRT compiled the model for the GPU but could not run it: {result['run_error']}")
    elif "max_rel_diff" in result:
        notes.append(
            f"outputs on seeded inputs agree with the CPU interpreter to {result['max_abs_diff']:.3g} "
            f"(relative to the output's range: {result['max_rel_diff']:.2g})"
        )
    gpu_only = result.get("gpu_only_compiles")
    if gpu_only is not None and gpu_only != all(p.on_target for p in ops):
        said = "compiles" if gpu_only else "fails"
        notes.append(f"a GPU-only compile {said}, which does not match the placement read from the log")
    return notes


# --- the child process ----------------------------------------------------------------


def gpu_api_available() -> str | None:
    """The graphics API LiteRT's WebGPU accelerator would use here, if its library loads.

    Cheap (a dlopen on Linux, nothing elsewhere): without a Vulkan loader Dawn finds no
    adapter, so there is no point starting LiteRT.
    """
    if sys.platform == "darwin":
        return "Metal"
    if sys.platform == "win32":
        return "Direct3D 12"
    try:
        ctypes.CDLL("libvulkan.so.1")
    except OSError:
        return None
    return "Vulkan"


def _missing_api_text() -> str:
    if sys.platform.startswith("linux"):
        return "no Vulkan loader, libvulkan.so.1, on this machine"
    return "no supported graphics API on this platform"


_PROBE = """
import json, os, sys, time
import numpy as np
from ai_edge_litert.compiled_model import CompiledModel
from ai_edge_litert.hardware_accelerator import HardwareAccelerator
from ai_edge_litert.interpreter import Interpreter
MARK = MARK_TEXT

def seeded(dtype, shape, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.itemsize == 1:
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.integers(0, 2, size=shape, endpoint=True).astype(dtype)

def on_gpu(model, key, rng):
    ins, outs = {}, {}
    arrays = {}
    for name, d in model.get_input_tensor_details(key).items():
        arrays[d["index"]] = seeded(d["dtype"], d["shape"], rng)
        ins[name] = model.create_input_buffer_by_name(key, name)
        ins[name].write(arrays[d["index"]])
    details = model.get_output_tensor_details(key)
    for name in details:
        outs[name] = model.create_output_buffer_by_name(key, name)
    start = time.perf_counter()
    model.run_by_name(key, ins, outs)
    seconds = time.perf_counter() - start
    got = {}
    for name, d in details.items():
        n = int(np.prod(d["shape"]))
        got[d["index"]] = outs[name].read(n, np.dtype(d["dtype"])).reshape(d["shape"])
    return arrays, got, seconds

def on_cpu(data, arrays):
    it = Interpreter(model_content=data)
    it.allocate_tensors()
    for index, x in arrays.items():
        it.set_tensor(index, x)
    start = time.perf_counter()
    it.invoke()
    seconds = time.perf_counter() - start
    return {d["index"]: it.get_tensor(d["index"]) for d in it.get_output_details()}, seconds

def relative(diff, scale):
    return diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))

def compare(got, ref):
    rows, worst_abs, worst_rel, worst_p99 = [], 0.0, 0.0, 0.0
    for index, r in ref.items():
        d = np.abs(got[index].astype(np.float64) - r)
        diff = float(np.max(d)) if r.size else 0.0
        p99 = float(np.percentile(d, 99)) if r.size else 0.0
        scale = float(np.ptp(r)) if r.size else 0.0
        row = {"tensor": int(index), "max_abs_diff": diff, "rel_diff": relative(diff, scale),
               "p99_rel_diff": relative(p99, scale), "float": r.dtype.kind == "f"}
        rows.append(row)
        if row["float"]:
            worst_abs, worst_rel = max(worst_abs, diff), max(worst_rel, row["rel_diff"])
            worst_p99 = max(worst_p99, row["p99_rel_diff"])
    return rows, worst_abs, worst_rel, worst_p99

data = sys.stdin.buffer.read()
accel = HardwareAccelerator.GPU | HardwareAccelerator.CPU
result = {}
start = time.perf_counter()
try:
    model = CompiledModel.from_buffer(data, hardware_accel=accel)
    result.update(ok=True, fully=bool(model.is_fully_accelerated()))
except Exception as exc:
    result.update(ok=False, error=f"{type(exc).__name__}: {exc}")
result["compile_seconds"] = round(time.perf_counter() - start, 4)
os.write(2, ("\\n" + MARK + "\\n").encode())
if result["ok"]:
    try:
        key = list(model.get_signature_list())[0]
        arrays, got, seconds = on_gpu(model, key, np.random.default_rng(0))
        ref, cpu_seconds = on_cpu(data, arrays)
        rows, worst_abs, worst_rel, worst_p99 = compare(got, ref)
        result.update(run_seconds=round(seconds, 5), cpu_run_seconds=round(cpu_seconds, 5),
                      outputs=rows, max_abs_diff=worst_abs, max_rel_diff=worst_rel,
                      p99_rel_diff=worst_p99)
    except Exception as exc:
        result["run_error"] = f"{type(exc).__name__}: {exc}"
    try:
        CompiledModel.from_buffer(data, hardware_accel=HardwareAccelerator.GPU)
        result["gpu_only_compiles"] = True
    except Exception:
        result["gpu_only_compiles"] = False
print("\\n" + json.dumps(result))
""".replace("MARK_TEXT", repr(_MARK))


def confirm_on_gpu(content: bytes, *, timeout: float = 60.0) -> Probe:
    """Compile and run the model with LiteRT's GPU accelerator in a child process.

    A child process because LiteRT's native logging floods stderr (where the placement
    is read from), and because a broken GPU driver may crash or hang: the child is killed
    after ``timeout`` seconds.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE],
            input=content,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        return Probe(
            ok=False,
            error=f"LiteRT did not finish with the GPU within {timeout:g} s",
            detail=_text(exc.stderr),
            seconds=time.perf_counter() - start,
        )
    except OSError as exc:
        return Probe(ok=False, error=f"could not start LiteRT: {exc}", seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    stderr = _text(done.stderr)
    result = _last_json(_text(done.stdout))
    if result is None:
        crashed = parse_log(stderr).adapter is not None and done.returncode != 0
        return Probe(
            ok=False,
            error=_exit_text(done.returncode, stderr),
            detail=stderr,
            seconds=seconds,
            model_refused=crashed,
            crashed=crashed,
        )
    if result.get("ok"):
        fully = bool(result.get("fully"))
        return Probe(ok=True, fully_accelerated=fully, detail=stderr, seconds=seconds, result=result)
    error = str(result.get("error", ""))
    if parse_log(stderr).adapter or _LOAD_FAILED in error:
        return Probe(
            ok=False, error=_refusal(stderr, error), detail=stderr, seconds=seconds, result=result, model_refused=True
        )
    return Probe(ok=False, error=_adapter_error(stderr, error), detail=stderr, seconds=seconds, result=result)


_FATAL = re.compile(r"^F\d{4} [^\]]*\] (.+?)\s*$")


def _exit_text(returncode: int, stderr: str = "") -> str:
    fatal = next((m.group(1) for m in map(_FATAL.match, stderr.splitlines()) if m), None)
    if fatal:
        return f"LiteRT aborted while compiling or running the model on the GPU ({fatal})"
    if returncode < 0:
        return f"LiteRT crashed ({signal_name(-returncode)}) while compiling or running the model on the GPU"
    return f"LiteRT exited with status {returncode} before answering"


def _last_json(stdout: str) -> dict[str, object] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


_LOAD_FAILED = "Failed to load model"
_REFUSAL = (
    re.compile(r"Failed to create \S+: (.+?)\s*$"),
    re.compile(r"ERROR: \[[^\]]+\] (.+?)\s*$"),
)


def _refusal(stderr: str, error: str) -> str:
    """The log line that says why LiteRT refused the model (a kernel LiteRT could not
    create, a model it could not load), else its exception's first line."""
    lines = stderr.split(_MARK, 1)[0].splitlines()
    for pattern in _REFUSAL:
        for line in lines:
            if (match := pattern.search(line)) and _LOAD_FAILED not in match.group(1):
                return match.group(1)
    return error.splitlines()[0] if error else "LiteRT could not compile the model for the GPU"


def _adapter_error(stderr: str, error: str) -> str:
    """The line of LiteRT's log that says why, rather than its bare source location."""
    lines = stderr.splitlines()
    for word in ("adapter", "vulkan"):
        for line in lines:
            if word in line.lower():
                return line.strip().split("] ", 1)[-1]
    return error.splitlines()[0] if error else "LiteRT could not create a GPU model"


def _log_problems(stderr: str) -> str:
    """LiteRT's log without its INFO chatter: the warnings and errors worth showing."""
    return "\n".join(line for line in stderr.splitlines() if line.strip() and not line.startswith("INFO:"))


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data
