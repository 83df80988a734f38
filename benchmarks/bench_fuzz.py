"""How pytest-tflite takes hostile model files: mutated real models through the CLI and pytest.

Run from the repository root:

    .venv/bin/python benchmarks/bench_fuzz.py                    # 2,000 files
    .venv/bin/python benchmarks/bench_fuzz.py --files 300 --sessions 1 --seed 7

It mutates real models (the MediaPipe and Edge TPU models under ``tests/data``): bit
flips, truncation, random overwrites, and field-aware edits of operator inputs and
outputs, opcode indices, tensor shapes, buffers, subgraph inputs and operator options,
each written back through LiteRT's flatbuffer schema. Every file goes through
``python -m pytest_tflite inspect`` and ``check`` for the cpu, edgetpu and gpu targets (in
one long-lived child process, restarted when it dies), and a share of them through pytest
sessions that declare them as models beside a healthy one. It prints, per path:

* clean: exit 0 (a report), 1 (off target) or 2 (an error in words, a crash of LiteRT
  contained in the child process among them);
* tracebacks: an exception that is not one of pytest-tflite's errors;
* signals: the process died by a signal;
* hangs: no answer within the timeout;
* lost sessions: a pytest session that died or wrote no JUnit XML.

Target: 0 tracebacks, 0 signals, 0 hangs, 0 lost sessions. Also printed: what the first
load of a model in a child process (the crash isolation) costs per model.

This is a script, not a test: the figures depend on the seed, so nothing is asserted.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import random
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

SEEDS = [
    ROOT / "tests/data/real/face_detection_short_range.tflite",
    *sorted((ROOT / "tests/data/edgetpu_pairs").glob("*.tflite.gz"))[:4],
]
TIMEOUT_S = 120.0

# --- mutations ------------------------------------------------------------------------


def _bit_flips(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8)
    return bytes(out)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))]


def _overwrite(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    start = rng.randrange(len(out))
    span = rng.randint(1, 64)
    out[start : start + span] = bytes(rng.randrange(256) for _ in range(min(span, len(out) - start)))
    return bytes(out)


def _field_edit(data: bytes, rng: random.Random) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    graph = model.subgraphs[0]
    tensors = len(graph.tensors)
    op = rng.choice(graph.operators)
    edit = rng.choice(["input", "output", "opcode", "shape", "buffer", "graph_input", "options", "name"])
    if edit == "input" and len(op.inputs):
        op.inputs = [int(i) for i in op.inputs]
        op.inputs[rng.randrange(len(op.inputs))] = rng.choice([-1, -2, tensors, tensors + 100, rng.randrange(tensors)])
    elif edit == "output" and len(op.outputs):
        op.outputs = [rng.choice([-1, tensors, rng.randrange(tensors)])]
    elif edit == "opcode":
        op.opcodeIndex = rng.choice([len(model.operatorCodes), rng.randrange(len(model.operatorCodes))])
    elif edit == "shape":
        tensor = rng.choice(graph.tensors)
        tensor.shape = [rng.choice([0, -1, 1, 3, 1 << 20, 7]) for _ in range(rng.randint(0, 6))]
    elif edit == "buffer":
        rng.choice(graph.tensors).buffer = rng.choice([0, len(model.buffers), rng.randrange(len(model.buffers))])
    elif edit == "graph_input":
        graph.inputs = [rng.choice([-1, tensors, rng.randrange(tensors)])]
    elif edit == "options" and op.builtinOptions is not None:
        fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, int)]
        if fields:
            setattr(op.builtinOptions, rng.choice(fields), rng.choice([-1, 0, 7, 255, 1 << 30]))
    elif edit == "name":
        rng.choice(graph.tensors).name = bytes(rng.randrange(256) for _ in range(8))
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "bit_flips": _bit_flips,
    "truncate": _truncate,
    "overwrite": _overwrite,
    "field_edit": _field_edit,
}


def _seed_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def mutated_files(folder: Path, count: int, seed: int) -> list[tuple[Path, str]]:
    rng = random.Random(seed)
    seeds = [_seed_bytes(p) for p in SEEDS]
    files = []
    for i in range(count):
        kind = list(MUTATIONS)[i % len(MUTATIONS)]
        data = rng.choice(seeds)
        try:
            mutated = MUTATIONS[kind](data, rng)
        except Exception:  # the schema cannot write this edit back: flip bits instead
            kind, mutated = "bit_flips", _bit_flips(data, rng)
        path = folder / f"m{i:05d}_{kind}.tflite"
        path.write_bytes(mutated)
        files.append((path, kind))
    return files


# --- the CLI, in a long-lived child -----------------------------------------------------

COMMANDS = (
    ["inspect"],
    ["check", "--target", "cpu"],
    ["check", "--target", "edgetpu"],
    ["check", "--target", "gpu", "--option", "confirm=never"],
)

_DRIVER = """
import contextlib, io, json, sys, traceback
from pytest_tflite.cli import main
COMMANDS = json.loads(sys.argv[1])
for line in sys.stdin:
    path = line.strip()
    codes = []
    for command in COMMANDS:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = main([command[0], path, *command[1:]])
            codes.append("contained" if "crashed with SIG" in out.getvalue() else code)
        except SystemExit as exc:
            codes.append(exc.code if isinstance(exc.code, int) else 2)
        except BaseException as exc:
            codes.append("traceback:" + type(exc).__name__ + ": " + str(exc)[:200])
    print(json.dumps(codes), flush=True)
"""


class Driver:
    """One child running the CLI over many files; a file that kills it is a signal."""

    def __init__(self) -> None:
        self.process = self._start()

    def _start(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", _DRIVER, json.dumps(COMMANDS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )

    def run(self, path: Path) -> tuple[str, str]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"{path}\n")
        self.process.stdin.flush()
        line = _readline(self.process, TIMEOUT_S)
        if line is None:
            self.process.kill()
            self.process.wait()
            self.process = self._start()
            return "hang", ""
        if not line:
            code = self.process.wait()
            self.process = self._start()
            return "signal", f"exit {code}"
        codes = json.loads(line)
        broken = [c for c in codes if isinstance(c, str) and c.startswith("traceback:")]
        if broken:
            return "traceback", broken[0]
        return "clean", ",".join(str(c) for c in codes)

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=60)


def _readline(process: subprocess.Popen[str], timeout: float) -> str | None:
    import selectors

    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    return process.stdout.readline()


# --- pytest sessions ------------------------------------------------------------------


def session_outcome(files: list[Path], healthy: Path, folder: Path) -> tuple[str, str]:
    """Declare ``files`` beside a healthy model in one pytest session; was it lost?"""
    project = Path(tempfile.mkdtemp(dir=folder, prefix="session"))
    lines = ["from pytest_tflite import DeclaredModel", ""]
    lines.append(f"healthy = DeclaredModel('healthy', source={str(healthy)!r})")
    for i, path in enumerate(files):
        lines.append(f"m{i} = DeclaredModel('m{i}', source={str(path)!r})")
    (project / "tflite_models.py").write_text("\n".join(lines) + "\n")
    (project / "pytest.ini").write_text("[pytest]\ntflite_targets = cpu edgetpu\naddopts = --benchmark-skip\n")
    junit = project / "junit.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--tflite-update-golden",
        f"--junitxml={junit}",
    ]
    try:
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=TIMEOUT_S * 10, check=False)
    except subprocess.TimeoutExpired:
        return "hang", str(project)
    if done.returncode not in (0, 1) or not junit.is_file():
        return "lost", f"exit {done.returncode}: {done.stdout[-300:]}"
    raw = [f.get("message", "") for f in ET.parse(junit).getroot().iter() if f.tag in ("failure", "error")]
    foreign = [m for m in raw if m.split(":", 1)[0].strip() not in _OUR_ERRORS]
    if foreign:
        return "traceback", foreign[0][:200]
    return "clean", f"{len(raw)} failed checks"


def _our_errors() -> set[str]:
    import pytest_tflite.errors as errors
    from pytest_tflite.gate.baseline import BaselineFailure

    names = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, Exception)}
    return {*names, BaselineFailure.__name__, *(f"pytest_tflite.errors.{n}" for n in names)}


_OUR_ERRORS = _our_errors()


_ANSWERS = {
    "0": "exit 0",
    "1": "exit 1 (off target)",
    "2": "exit 2 (error in words)",
    "contained": "exit 2 (a crash contained in the child)",
}

# --- the gauge ------------------------------------------------------------------------


def probe_cost(rounds: int = 5) -> float:
    from pytest_tflite.model.isolation import _probe

    data = SEEDS[0].read_bytes()
    start = time.perf_counter()
    for _ in range(rounds):
        _probe(data, TIMEOUT_S)
    return (time.perf_counter() - start) / rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000, help="mutated files to make (default 2000)")
    parser.add_argument("--sessions", type=int, default=4, help="pytest sessions (default 4)")
    parser.add_argument("--per-session", type=int, default=50, help="mutated models per session (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="pytest-tflite-fuzz-"))
    start = time.perf_counter()
    files = mutated_files(folder, args.files, args.seed)
    cli: collections.Counter[str] = collections.Counter()
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    examples: dict[str, str] = {}
    answers: collections.Counter[str] = collections.Counter()
    driver = Driver()
    for path, kind in files:
        outcome, detail = driver.run(path)
        cli[outcome] += 1
        if outcome == "clean":
            answers.update(detail.split(","))
        by_kind[kind][outcome] += 1
        if outcome != "clean":
            examples.setdefault(outcome, f"{path.name}: {detail}")
    driver.close()
    cli_seconds = time.perf_counter() - start
    sessions: collections.Counter[str] = collections.Counter()
    healthy = folder / "healthy.tflite"
    healthy.write_bytes(SEEDS[0].read_bytes())
    for s in range(args.sessions):
        chunk = [p for p, _ in files[s * args.per_session : (s + 1) * args.per_session]]
        if chunk:
            outcome, detail = session_outcome(chunk, healthy, folder)
            sessions[outcome] += 1
            if outcome != "clean":
                examples.setdefault(f"session {outcome}", detail)
    print(f"mutated files: {len(files)} from {len(SEEDS)} real models, seed {args.seed} ({folder})")
    print(
        f"CLI ({len(COMMANDS)} commands a file): clean {cli['clean']}, tracebacks {cli['traceback']}, "
        f"signals {cli['signal']}, hangs {cli['hang']}  ({cli_seconds:.0f} s)"
    )
    print("  answers: " + ", ".join(f"{_ANSWERS.get(k, k)} {v}" for k, v in sorted(answers.items())))
    for kind, counts in sorted(by_kind.items()):
        print(f"  {kind:<10} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(
        f"pytest sessions ({args.per_session} mutated models beside a healthy one): clean "
        f"{sessions['clean']}, tracebacks {sessions['traceback']}, lost {sessions['lost']}, "
        f"hangs {sessions['hang']}"
    )
    for outcome, example in examples.items():
        print(f"  first {outcome}: {example}")
    print(f"crash isolation: {probe_cost() * 1000:.0f} ms per model's first load (child process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
