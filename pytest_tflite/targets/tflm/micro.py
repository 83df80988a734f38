"""Running a model's bytes in the real TFLite Micro interpreter, in a child process.

TFLM is native code that may crash on a malformed model (or on too small an arena), and
it reports everything (arena use, missing kernels, kernel refusals) on stderr only, so a
child process runs it with its stderr in a file. The child finds an arena with which the
model allocates and invokes, runs the inputs, then searches the smallest such arena;
where the platform forks, every probe runs in a forked grandchild, so a probe that
crashes TFLM (as too small an arena does) costs that probe alone. Results come back
through files (JSON and ``.npz``), never through stdout.

TFLM names only the first operator kind it has no kernel for; to name all of them, the
child removes the operators of every kind found so far and asks again.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...model.isolation import signal_name

ALIGN = 16
"""The arena search's step: TFLM aligns its allocations to 16 bytes."""

ARENA_FLOOR = 1 << 20
ARENA_MODEL_MULTIPLE = 10
"""The first arena tried: ten times the model's size (TFLM's own default), at least 1 MiB."""

ARENA_CAP = 256 << 20
"""The largest arena tried, doubling from the first: no microcontroller has more."""

_INSTALL = "`pip install --pre tflite-micro`"

_INTEGER_ONLY = (
    "TFLite Micro runs int8, int16x8 and float32 models, not dynamic-range or float16 ones: "
    "convert with full integer quantization (a representative dataset and TFLITE_BUILTINS_INT8)"
)

_INT8_WEIGHTS = (
    "TFLite Micro's kernels take int8 weights: quantize them to int8 (full_int8, int16x8, or "
    "ai-edge-quantizer's int16_activations)"
)

_REASONS = (
    (
        re.compile(r"Hybrid models are not supported"),
        "the model is dynamic-range quantized (int8 weights, float activations)",
        _INTEGER_ONLY,
    ),
    (
        re.compile(r"Input type: FLOAT32 with filter type: INT4"),
        "the model keeps int4 weights under float activations (ai-edge-quantizer's dynamic int4)",
        _INTEGER_ONLY,
    ),
    (
        re.compile(r"input->type == kTfLiteInt8 \|\| input->type == kTfLiteInt16 \|\| input->type == kTfLiteUInt8"),
        "DEQUANTIZE expands int4 (or other narrow) weights to float32 (weight-only quantization), "
        "which TFLite Micro's DEQUANTIZE does not take",
        _INTEGER_ONLY,
    ),
    (
        re.compile(r"filter->type != kTfLiteInt4"),
        "the model keeps int4 weights, which this kernel does not take",
        _INT8_WEIGHTS,
    ),
)
"""Kernel messages whose cause is the model's quantization: that cause in words, and what to
convert with instead."""

_FLOAT16 = "the model keeps float16 weights (dequantized to float32 at run time)"

_VERBS = {"prepare": "refuses", "invoke": "fails on"}
"""How a kernel's message reads, by the stage TFLM names in its "Node ... failed to" line."""


@dataclasses.dataclass(frozen=True)
class MicroRun:
    """What TFLite Micro did with a model: whether it ran, the arena it needs, and why not."""

    ok: bool
    """The model allocated and ran every input."""
    arena_bytes: int | None
    """The smallest tensor arena (a multiple of :data:`ALIGN`) with which the model
    allocates and invokes, found by search; None when not searched or not ok."""
    reported_arena_bytes: int | None
    """The "Arena allocation total" of TFLM's RecordingMicroAllocator: what it holds after
    the run, without the temporary allocations kernels make while preparing."""
    unresolved: tuple[str, ...]
    """Operator kinds (builtin names, or a custom operator's code) TFLM has no kernel for,
    every one of them, in model order."""
    refused: Mapping[int, str]
    """Operator index (in its subgraph) -> the kernel's own message, for an operator whose
    kernel failed to prepare or invoke."""
    failure: str | None
    """One line a user can act on, when not ok."""
    crashed: bool = False
    """TFLM died by a signal or hung."""
    outputs: tuple[np.ndarray, ...] | None = None
    """Raw output tensors, in the model's own dtype, one array per output, samples on
    axis 0 (an output whose batch dimension is 1 has it replaced by the samples)."""
    log: str = ""
    """TFLM's stderr for the run that decided the outcome, for a report's details."""
    version: str | None = None
    """The tflite-micro package's version."""
    seconds: float = 0.0


def micro_available() -> str | None:
    """None when TFLite Micro's Python interpreter is importable, else what to install.

    Looks for the package without importing it: the interpreter is only ever loaded in a
    child process.
    """
    if importlib.util.find_spec("tflite_micro") is not None:
        return None
    return f"TFLite Micro's Python interpreter is not installed: {_INSTALL} (it is published as pre-releases only)"


def run_on_micro(
    content: bytes,
    inputs: Sequence[np.ndarray] | None = None,
    *,
    timeout: float = 120.0,
    search_arena: bool = True,
) -> MicroRun:
    """Run the model in TFLite Micro on ``inputs`` (one inference on zeros when None).

    ``inputs`` holds one array per model input, in the model's input dtype, with the
    samples on axis 0; each row has the input's shape, or that shape without its batch
    dimension when it is 1. Samples run one at a time, with the interpreter reset between
    them so recurrent state does not leak from one to the next.

    Model problems, crashes and hangs come back in the :class:`MicroRun`; inputs that do
    not fit the model raise ``ValueError``.
    """
    missing = micro_available()
    if missing is not None:
        return MicroRun(False, None, None, (), {}, missing)
    arrays = _checked_inputs(inputs)
    answer = _ask(content, {"mode": "run", "search": search_arena}, arrays, timeout)
    return _micro_run(answer, timeout)


def allocates(content: bytes, arena_size: int, *, timeout: float = 60.0) -> bool:
    """Whether the model allocates and invokes (on zeros) in an arena of ``arena_size``
    bytes: the check behind :attr:`MicroRun.arena_bytes`, made the same way."""
    missing = micro_available()
    if missing is not None:
        raise RuntimeError(missing)
    answer = _ask(content, {"mode": "allocates", "arena": arena_size}, None, timeout)
    return bool(answer.result and answer.result.get("allocates"))


# --- the parent's side ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Answer:
    result: Mapping[str, Any] | None
    outputs: tuple[np.ndarray, ...] | None
    log: str
    returncode: int | None
    """None when the child was killed at the timeout."""
    seconds: float


def _checked_inputs(inputs: Sequence[np.ndarray] | None) -> list[np.ndarray] | None:
    if inputs is None:
        return None
    arrays = [np.asarray(a) for a in inputs]
    samples = {a.shape[0] if a.ndim else 0 for a in arrays}
    if not arrays or len(samples) != 1 or 0 in samples:
        raise ValueError(
            "inputs holds one array per model input, each with the same number of samples "
            f"(at least one) on axis 0; got shapes {[list(a.shape) for a in arrays]}"
        )
    return arrays


def _ask(content: bytes, request: Mapping[str, object], arrays: list[np.ndarray] | None, timeout: float) -> _Answer:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pytest-tflite-micro-") as folder:
        work = Path(folder)
        (work / "model.tflite").write_bytes(content)
        if arrays is not None:
            np.savez(work / "inputs.npz", *arrays)
        settings = {
            **request,
            "timeout": timeout,
            "align": ALIGN,
            "floor": ARENA_FLOOR,
            "multiple": ARENA_MODEL_MULTIPLE,
            "cap": ARENA_CAP,
        }
        (work / "request.json").write_text(json.dumps(settings))
        returncode = _child(work, timeout)
        log = (work / "stderr.log").read_text("utf-8", "replace")
        result = _read_result(work / "result.json")
        outputs = _read_outputs(work / "outputs.npz")
    return _Answer(result, outputs, log, returncode, time.perf_counter() - start)


def _child(work: Path, timeout: float) -> int | None:
    # The child forks a probe per arena size; numpy's BLAS threads would be forked too.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with open(work / "stderr.log", "wb") as log:
        try:
            done = subprocess.run(
                [sys.executable, "-c", _SCRIPT, str(work)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None
    return done.returncode


def _read_result(path: Path) -> Mapping[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _read_outputs(path: Path) -> tuple[np.ndarray, ...] | None:
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as saved:
        return tuple(saved[f"arr_{j}"] for j in range(len(saved.files)))


def _micro_run(answer: _Answer, timeout: float) -> MicroRun:
    result = answer.result
    if answer.returncode is None or result is None:
        return _broken(answer, timeout)
    status = str(result["status"])
    if status == "bad_inputs":
        raise ValueError(str(result["problem"]))
    log, version = str(result.get("log", answer.log)), result.get("version") or _installed_version()
    if status == "ok":
        return MicroRun(
            True,
            result.get("smallest"),
            result.get("reported"),
            (),
            {},
            None,
            outputs=answer.outputs,
            log=log,
            version=version,
            seconds=answer.seconds,
        )
    refused = {int(index): str(said[1]) for index, said in result.get("refused", {}).items()}
    return MicroRun(
        False,
        None,
        None,
        tuple(str(kind) for kind in result.get("unresolved", ())),
        refused,
        _FAILURES[status](result, timeout),
        crashed=status in ("crashed", "timeout"),
        log=log,
        version=version,
        seconds=answer.seconds,
    )


def _broken(answer: _Answer, timeout: float) -> MicroRun:
    """The child timed out, died, or exited without answering."""
    code = answer.returncode
    if code is None:
        failure = _hang_text({}, timeout)
    elif code < 0:
        failure = _crash_text({"signal": -code, "log": answer.log}, timeout)
    else:
        failure = f"the TFLite Micro process exited with status {code}: {_last_line(answer.log)}"
    crashed = code is None or code < 0
    return MicroRun(
        False,
        None,
        None,
        (),
        {},
        failure,
        crashed=crashed,
        log=answer.log,
        version=_installed_version(),
        seconds=answer.seconds,
    )


def _unresolved_text(result: Mapping[str, Any], timeout: float) -> str:
    kinds = [str(k) for k in result.get("unresolved", ())]
    if not kinds:
        return f"TFLite Micro could not resolve the model's operators: {result.get('problem', '')}"
    custom = [k for k in kinds if k in set(result.get("custom", ()))]
    builtin = [k for k in kinds if k not in custom]
    mixed = bool(builtin and custom)
    fixes = []
    if builtin:
        fixes.append(
            f"rebuild the model without {', '.join(builtin) if mixed else 'them'}, from operators TFLM has "
            "kernels for (it implements a subset of TFLite's builtins)"
        )
    if custom:
        which = ", ".join(custom) if mixed else "each"
        fixes.append(f"register a kernel for {which} in the firmware (MicroMutableOpResolver::AddCustom)")
    return f"TFLite Micro has no kernel for {', '.join(kinds)}: {'; '.join(fixes)}"


def _refused_text(result: Mapping[str, Any], timeout: float) -> str:
    index, (kind, message, stage) = min((int(i), said) for i, said in result["refused"].items())
    verb = _VERBS.get(stage, "refuses")
    reason, advice = next(((text, then) for pattern, text, then in _REASONS if pattern.search(message)), (None, None))
    if reason is None and result.get("float16"):
        reason, advice = _FLOAT16, _INTEGER_ONLY
    if reason is not None:
        return f"TFLite Micro's {kind} kernel {verb} operator {index} ({message}): {reason}; {advice}"
    return (
        f"TFLite Micro's {kind} kernel {verb} operator {index}: {message}; give that operator "
        "tensor types and options the kernel accepts, or replace it"
    )


def _too_large_text(result: Mapping[str, Any], timeout: float) -> str:
    mib = int(result["arena"]) >> 20
    return (
        f"the model does not fit in a {mib} MiB tensor arena ({result.get('problem', '')}): "
        "shrink its activations (smaller inputs, narrower layers) to fit a microcontroller"
    )


def _crash_text(result: Mapping[str, Any], timeout: float) -> str:
    said = _last_line(str(result.get("log", "")))
    return (
        f"TFLite Micro crashed ({signal_name(int(result['signal']))}) while loading or running the model"
        f"{f' after {said!r}' if said else ''}: the model is malformed or triggers a TFLM bug; "
        "inspect it with `python -m pytest_tflite inspect MODEL`"
    )


def _hang_text(result: Mapping[str, Any], timeout: float) -> str:
    return (
        f"TFLite Micro did not finish within {timeout:g} s: the model hangs it, or needs a "
        "longer timeout on this machine"
    )


def _error_text(result: Mapping[str, Any], timeout: float) -> str:
    return f"TFLite Micro could not load or run the model: {result.get('problem', '')}"


_FAILURES: Mapping[str, Callable[[Mapping[str, Any], float], str]] = {
    "unresolved": _unresolved_text,
    "refused": _refused_text,
    "too_large": _too_large_text,
    "crashed": _crash_text,
    "timeout": _hang_text,
    "error": _error_text,
}
"""The failure line for each status the child reports."""


def _last_line(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _installed_version() -> str | None:
    try:
        return importlib.metadata.version("tflite-micro")
    except importlib.metadata.PackageNotFoundError:
        return None


# --- the child process ----------------------------------------------------------------

_SCRIPT = r'''
import importlib.metadata, json, os, re, signal, sys, time, warnings
import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

warnings.simplefilter("ignore", DeprecationWarning)
WORK = sys.argv[1]
with open(os.path.join(WORK, "request.json")) as f:
    REQUEST = json.load(f)
ALIGN = REQUEST["align"]
DEADLINE = time.monotonic() + REQUEST["timeout"]
LOG = open(os.path.join(WORK, "stderr.log"), "rb")
MARK = "pytest-tflite: "
SENTINEL = 2**31 - 1
REGISTRATION = re.compile(r"Failed to get registration from op code (\S+)")
SHORT = re.compile(r"Requested: \d+, available \d+|Failed to allocate memory for")
NODE = re.compile(r"Node (\S+) \(number (\d+)\w*\) failed to (prepare|invoke)")
TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
SOURCE = re.compile(r"^\S+\.(?:cc|c|cpp|h)(?::\d+)?\s+")
NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


class BadInputs(Exception):
    pass


def fresh_log():
    return LOG.read().decode("utf-8", "replace")


def note(exc):
    kind = type(exc)
    name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    print(MARK + f"{name}: {exc}", file=sys.stderr, flush=True)


def version():
    try:
        from tflite_micro.python.tflite_micro import _version
        return str(_version.__version__)
    except (ImportError, AttributeError):
        pass
    try:
        return importlib.metadata.version("tflite-micro")
    except importlib.metadata.PackageNotFoundError:
        return None


def align_up(n):
    return -(-n // ALIGN) * ALIGN


# --- running --------------------------------------------------------------------------

def fitted(row, detail, index):
    shape, dtype = tuple(int(n) for n in detail["shape"]), np.dtype(detail["dtype"])
    unbatched = shape[:1] == (1,)
    if row.dtype == dtype and (row.shape == shape or (unbatched and row.shape == shape[1:])):
        return row.reshape(shape)
    takes = f"{list(shape)} or {list(shape[1:])}" if unbatched else f"{list(shape)}"
    raise BadInputs(
        f"input {index} takes rows of shape {takes} and dtype {dtype}; got rows of shape "
        f"{list(row.shape)} and dtype {row.dtype}"
    )


def samples(it, count, arrays):
    details = [it.get_input_details(i) for i in range(count)]
    if arrays is None:
        return [[np.zeros(d["shape"], d["dtype"]) for d in details]]
    if len(arrays) != count:
        raise BadInputs(f"the model takes {count} inputs; {len(arrays)} arrays were given")
    rows = len(arrays[0])
    return [[fitted(a[k], d, i) for i, (a, d) in enumerate(zip(arrays, details))] for k in range(rows)]


def invoke(data, arena, arrays):
    it = runtime.Interpreter.from_bytes(data, arena_size=arena)
    graph = schema.Model.GetRootAs(data, 0).Subgraphs(0)
    rows = []
    for k, sample in enumerate(samples(it, graph.InputsLength(), arrays)):
        if k:
            it.reset()
        for i, x in enumerate(sample):
            it.set_input(x, i)
        it.invoke()
        rows.append([np.array(it.get_output(j)) for j in range(graph.OutputsLength())])
    return it, rows


def attempt(data, arena):
    try:
        invoke(data, arena, None)
        return True
    except Exception as exc:
        note(exc)
        return False


def ended(status):
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return "timeout" if number == signal.SIGALRM else f"signal {number}"
    return "ok" if os.WEXITSTATUS(status) == 0 else "failed"


def probe(data, arena):
    """Allocate and invoke once on zeros, in a grandchild: 'ok', 'failed', 'timeout' or
    'signal N', with what TFLM logged meanwhile."""
    fresh_log()
    if not hasattr(os, "fork"):
        return ("ok" if attempt(data, arena) else "failed"), fresh_log()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(max(1, int(DEADLINE - time.monotonic())))
            code = 0 if attempt(data, arena) else 1
        finally:
            os._exit(code)
    return ended(os.waitpid(pid, 0)[1]), fresh_log()


def working_arena(data):
    arena = min(align_up(max(REQUEST["multiple"] * len(data), REQUEST["floor"])), REQUEST["cap"])
    while True:
        outcome, text = probe(data, arena)
        if outcome != "failed" or classify(text) != "short" or arena >= REQUEST["cap"]:
            return arena, outcome, text
        arena = min(arena * 2, REQUEST["cap"])


# --- the smallest arena ---------------------------------------------------------------

def bracket(works, guess, hi):
    """A failing and a working size around the smallest, galloping from the reported total."""
    if guess is None or not ALIGN <= guess < hi:
        return 0, hi
    step = ALIGN
    if works(guess):
        hi = guess
        while hi - step > 0 and works(hi - step):
            hi, step = hi - step, step * 2
        return max(hi - step, 0), hi
    lo = guess
    while lo + step < hi and not works(lo + step):
        lo, step = lo + step, step * 2
    return lo, min(lo + step, hi)


def smallest(data, hi, reported):
    def works(n):
        return probe(data, n)[0] == "ok"

    lo, hi = bracket(works, align_up(reported) if reported else None, hi)
    while hi - lo > ALIGN:
        mid = (lo + hi) // 2 // ALIGN * ALIGN
        lo, hi = (lo, mid) if works(mid) else (mid, hi)
    return hi


# --- why not --------------------------------------------------------------------------

def classify(text):
    if REGISTRATION.search(text):
        return "unresolved"
    if SHORT.search(text):
        return "short"
    if NODE.search(text):
        return "refused"
    return "error"


def problem(text):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    own = [line for line in lines if not line.startswith(MARK)]
    return (own or [line[len(MARK):] for line in lines] or ["no message"])[0]


def refusals(text):
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith(MARK)]
    found = {}
    for k, line in enumerate(lines):
        match = NODE.search(line)
        if match:
            said = [before for before in lines[:k] if not NODE.search(before)]
            message = SOURCE.sub("", said[-1]) if said else line
            found[match.group(2)] = [match.group(1), message, match.group(3)]
    return found


def has_float16(data):
    root = schema.Model.GetRootAs(data, 0)
    graphs = [root.Subgraphs(s) for s in range(root.SubgraphsLength())]
    return any(g.Tensors(t).Type() == schema.TensorType.FLOAT16 for g in graphs for t in range(g.TensorsLength()))


def kind_of(model, op):
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin != schema.BuiltinOperator.CUSTOM:
        return NAMES.get(builtin, str(builtin)), False
    custom = code.customCode or b""
    return (custom.decode("utf-8", "replace") if isinstance(custom, bytes) else str(custom)), True


def kinds(model):
    seen = {}
    for graph in model.subgraphs or []:
        for op in graph.operators or []:
            seen.setdefault(kind_of(model, op), None)
    return list(seen)


def without(data, drop):
    """The model without the operators of the kinds in drop, ending in an operator no TFLM
    resolves: registration then fails before any kernel prepares the broken graph."""
    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    for graph in model.subgraphs:
        graph.operators = [op for op in graph.operators or [] if kind_of(model, op) not in drop]
    code = schema.OperatorCodeT()
    code.builtinCode = SENTINEL
    code.deprecatedBuiltinCode = schema.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES
    model.operatorCodes.append(code)
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = len(model.operatorCodes) - 1, [], []
    model.subgraphs[-1].operators.append(op)
    builder = flatbuffers.Builder(len(data) + 1024)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def unregistered(data, drop, arena):
    match = REGISTRATION.search(probe(without(data, drop), arena)[1])
    return match.group(1) if match else None


def unresolved(data, arena):
    """Every kind without a kernel, in model order. TFLM names the first builtin one, and
    only "CUSTOM" for a custom one: builtins are found with every custom operator removed,
    then each custom code is tried alone."""
    every = kinds(schema.ModelT.InitFromPackedBuf(bytearray(data), 0))
    customs = [k for k in every if k[1]]
    missing = []
    while len(missing) < len(every):
        name = unregistered(data, set(customs + missing), arena)
        if name is None or name == "CUSTOM" or (name, False) in missing:
            break
        missing.append((name, False))
    for kind in customs:
        if unregistered(data, (set(customs) - {kind}) | set(missing), arena) == "CUSTOM":
            missing.append(kind)
    return [k for k in every if k in missing] + [k for k in missing if k not in every]


def diagnose(data, arena, outcome, text):
    if outcome.startswith("signal"):
        return {"status": "crashed", "signal": int(outcome.split()[1]), "log": text}
    if outcome == "timeout":
        return {"status": "timeout", "log": text}
    kind = classify(text)
    if kind == "unresolved":
        missing = unresolved(data, arena)
        return {"status": "unresolved", "unresolved": [name for name, _ in missing],
                "custom": [name for name, custom in missing if custom], "problem": problem(text), "log": text}
    if kind == "refused":
        return {"status": "refused", "refused": refusals(text), "float16": has_float16(data), "log": text}
    if kind == "short":
        return {"status": "too_large", "arena": arena, "problem": problem(text), "log": text}
    return {"status": "error", "problem": problem(text), "log": text}


# --- the request ----------------------------------------------------------------------

def measure(data, arrays):
    arena, outcome, text = working_arena(data)
    if outcome != "ok":
        return diagnose(data, arena, outcome, text), None
    fresh_log()
    try:
        it, rows = invoke(data, arena, arrays)
    except BadInputs as exc:
        return {"status": "bad_inputs", "problem": str(exc)}, None
    except Exception as exc:
        note(exc)
        return diagnose(data, arena, "failed", fresh_log()), None
    it.print_allocations()
    text = fresh_log()
    total = TOTAL.search(text)
    result = {"status": "ok", "arena": arena, "reported": int(total.group(1)) if total else None, "log": text}
    if REQUEST["search"]:
        result["smallest"] = smallest(data, arena, result["reported"])
    return result, rows


def stacked(rows):
    outputs = []
    for column in zip(*rows):
        batched = column[0].ndim and column[0].shape[0] == 1
        outputs.append(np.concatenate(column) if batched else np.stack(column))
    return outputs


def loaded_inputs():
    path = os.path.join(WORK, "inputs.npz")
    if not os.path.exists(path):
        return None
    with np.load(path, allow_pickle=False) as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def main():
    with open(os.path.join(WORK, "model.tflite"), "rb") as f:
        data = f.read()
    if REQUEST["mode"] == "allocates":
        result, rows = {"allocates": probe(data, REQUEST["arena"])[0] == "ok"}, None
    else:
        result, rows = measure(data, loaded_inputs())
    result["version"] = version()
    if rows is not None:
        np.savez(os.path.join(WORK, "outputs.npz"), *stacked(rows))
    with open(os.path.join(WORK, "result.json"), "w") as f:
        json.dump(result, f)


main()
'''
"""The child: reads ``request.json``, ``model.tflite`` and ``inputs.npz`` from the folder
it is given, writes ``result.json`` and ``outputs.npz`` there; its stderr is the folder's
``stderr.log``, which it reads back to learn what TFLM said."""
