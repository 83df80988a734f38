"""The real edgetpu_compiler path: its log parser on real logs, the runner without the
compiler and with stand-in scripts, and the measured report on a real compiled pair."""

from __future__ import annotations

import gzip
import json
import os
import stat
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from pytest_tflite.model.flatbuffer import TFLiteModel
from pytest_tflite.targets.compatibility import ON_CPU, ON_TARGET, CompatibilityReport, OpPlacement
from pytest_tflite.targets.edgetpu.compiler import (
    MAPPED,
    CompilerRun,
    confirm_with_compiler,
    cpu_indices_from_twin,
    find_compiler,
    measured_report,
    parse_log,
    run_compiler,
)

DATA = Path(__file__).resolve().parent / "data" / "edgetpu_pairs"
PAIR = "bodypix_1280_720_16_per_tensor_quant_decoder"
UNSPECIFIED = "Operation is otherwise supported, but not mapped due to some unspecified limitation"
UNSUPPORTED_TYPE = "Operation is working on an unsupported data type"


def _logs_dir() -> Path:
    return DATA / "logs"


def _truth() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads((DATA / "truth.json").read_text())
    return data


def _read_model(name: str, *, twin: bool) -> bytes:
    """A real model of the pair, or its compiled twin, from the project's test data."""
    file = f"{name}_edgetpu.tflite" if twin else f"{name}.tflite"
    return gzip.decompress((DATA / f"{file}.gz").read_bytes())


LOGS = sorted(p.name for p in _logs_dir().glob("*_edgetpu.log"))

# --- the parser on the real logs -------------------------------------------------------------


def test_all_seven_real_logs_are_there():
    assert len(LOGS) == 7, f"expected the 7 real compiler logs in {_logs_dir()}"


@pytest.mark.parametrize("log_name", LOGS)
def test_real_log_parses_to_the_truth(log_name):
    pair = log_name.removesuffix("_edgetpu.log")
    truth = _truth()[pair]
    text = (_logs_dir() / log_name).read_text()
    log = parse_log(text)

    assert log.version == truth["compiler_version"]
    assert log.compiled and log.failure is None
    assert log.output_model and log.output_model.endswith("_edgetpu.tflite")
    assert log.input_model and log.input_model.endswith(".tflite")
    table_lines = [line for line in text.splitlines()[6:] if line.strip()]
    assert [(r.operator, r.count) for r in log.rows] == [
        (line.split()[0], int(line.split()[1])) for line in table_lines if len(line.split()) > 2
    ]
    cpu_rows = Counter()
    for row in log.rows:
        if not row.mapped:
            cpu_rows[row.operator] += row.count
    if log.complete:
        assert (log.ops_on_edgetpu, log.ops_total) == (truth["mapped"], truth["total_ops"])
        assert log.ops_on_cpu == truth["total_ops"] - truth["mapped"]
        assert sum(cpu_rows.values()) == sum(truth["cpu_ops"].values())
    else:
        # The published log is cut off in the middle of a row: what was read is a part of the truth.
        assert log.unparsed == (text.splitlines()[-1].strip(),)
        assert log.ops_on_edgetpu <= truth["mapped"] and log.ops_total < truth["total_ops"]
        assert all(count <= truth["cpu_ops"].get(kind, 0) for kind, count in cpu_rows.items())


def test_real_log_rows_keep_the_compilers_words_and_order():
    log = parse_log((_logs_dir() / "nrf20_mnist4_edgetpu.log").read_text())
    assert [r.operator for r in log.rows] == [
        "RESHAPE", "CONV_2D", "SOFTMAX", "QUANTIZE", "DEQUANTIZE", "MAX_POOL_2D", "FULLY_CONNECTED",
    ]
    assert log.statuses("QUANTIZE") == [(UNSPECIFIED, 1)]
    assert log.statuses("DEQUANTIZE") == [(UNSUPPORTED_TYPE, 1)]
    assert log.statuses("CONV_2D") == [(MAPPED, 2)]


def test_real_log_with_several_statuses_per_kind():
    log = parse_log((_logs_dir() / "nerbivol_yolov8n_edgetpu.log").read_text())
    assert log.statuses("RESHAPE") == [
        ("More than one subgraph is not supported", 2), (MAPPED, 1), (UNSPECIFIED, 3),
    ]
    assert not log.complete


def test_custom_operator_row_of_compiler_2_1():
    log = parse_log((_logs_dir() / "cmpss_detect_ssd_edgetpu.log").read_text())
    assert log.statuses("CUSTOM") == [(UNSUPPORTED_TYPE, 1)]


STDOUT_16 = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.

Model compiled successfully in 412 ms.

Input model: {stem}.tflite
Input size: 1.27MiB
Output model: {stem}_edgetpu.tflite
Output size: 2.16MiB
On-chip memory used for caching model parameters: 1.31MiB
On-chip memory remaining for caching model parameters: 6.55MiB
Off-chip memory used for streaming uncached model parameters: 0.00B
Number of Edge TPU subgraphs: 1
Total number of operations: 44
Operation log: {stem}_edgetpu.log

Model successfully compiled but not all operations are supported by the Edge TPU. A percentage of \
the model will instead run on the CPU, which is slower. If possible, consider updating your model to \
use only operations supported by the Edge TPU. For details, visit g.co/coral/model-reqs.
Number of operations that will run on Edge TPU: 43
Number of operations that will run on CPU: 1

Operator                       Count      Status

QUANTIZE                       7          Mapped to Edge TPU
PAD                            1          Mapped to Edge TPU
CONV_2D                        21         Mapped to Edge TPU
DEPTHWISE_CONV_2D              13         Mapped to Edge TPU
CONCATENATION                  1          Mapped to Edge TPU
CUSTOM                         1          Operation is working on an unsupported data type
Compilation child process completed within timeout period.
Compilation succeeded!
"""

NOT_QUANTIZED = """\
Edge TPU Compiler version 16.0.384591198
Started a compilation timeout timer of 180 seconds.
Invalid model: {stem}.tflite
Model not quantized
Compilation child process completed within timeout period.
Compilation failed!
"""

UNPARSEABLE_2_1 = """\
Edge TPU Compiler version 2.1.302470888
ERROR: Didn't find op for builtin opcode 'RESIZE_BILINEAR' version '3'

ERROR: Registration failed.

Invalid model: model.tflite
Model could not be parsed
"""


def test_full_standard_output_of_compiler_16():
    log = parse_log(STDOUT_16.format(stem="m"))
    assert log.compiled and log.complete, log.unparsed
    assert (log.ops_on_edgetpu, log.ops_on_cpu, log.ops_total, log.subgraphs) == (43, 1, 44, 1)
    assert (log.input_model, log.output_model, log.operation_log) == ("m.tflite", "m_edgetpu.tflite", "m_edgetpu.log")
    assert log.compile_ms == 412.0 and log.timeout_seconds == 180
    assert log.on_chip_memory_used_bytes == round(1.31 * 1024**2)
    assert log.on_chip_memory_remaining_bytes == round(6.55 * 1024**2)
    assert log.off_chip_memory_used_bytes == 0
    assert log.input_size_bytes == round(1.27 * 1024**2)
    assert len(log.rows) == 6


def test_all_mapped_without_operation_table():
    text = "\n".join(
        line for line in STDOUT_16.format(stem="m").splitlines()
        if not line.startswith(("Model successfully", "Number of operations", "Operator", "QUANTIZE", "PAD",
                                "CONV", "DEPTHWISE", "CONCAT", "CUSTOM"))
    ) + "\nSee the operation log file for individual operation details.\n"
    log = parse_log(text)
    assert log.compiled and not log.rows and log.complete
    assert (log.ops_on_edgetpu, log.ops_on_cpu, log.ops_total) == (44, 0, 44)


def test_failure_not_quantized():
    log = parse_log(NOT_QUANTIZED.format(stem="model"))
    assert not log.compiled
    assert log.failure == "Invalid model: model.tflite: Model not quantized"
    assert log.version == "16.0.384591198" and log.timeout_seconds == 180
    assert log.ops_on_edgetpu is None and log.rows == () and log.complete


def test_failure_unparseable_op_version():
    log = parse_log(UNPARSEABLE_2_1)
    assert not log.compiled and log.version == "2.1.302470888"
    assert log.failure is not None
    assert log.failure.startswith("ERROR: Didn't find op for builtin opcode 'RESIZE_BILINEAR' version '3'")
    assert log.failure.endswith("Model could not be parsed")
    assert len(log.errors) == 4


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\x00\xff\ufffd garbage \x1b[31m",
        "Operator Count Status\nFOO bar baz\n12 34\n",
        "Edge TPU Compiler version\nInput:\nTotal number of operations: many\nOn-chip memory used for "
        "caching model parameters: lots\n",
        "Operator                       Count      Status\n\nCONV_2D                        99999999999999999999 x\n",
        "\n".join(["random words"] * 1000),
    ],
)
def test_odd_text_never_raises(text):
    log = parse_log(text)
    assert not log.compiled or log.rows
    assert log.failure is None
    if text.strip() and "99999" not in text:
        assert log.unparsed


# --- finding and running the compiler ---------------------------------------------------------


def test_no_compiler_on_an_empty_path(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_compiler(None) is None


def test_compiler_found_on_path_and_by_option(tmp_path, monkeypatch):
    script = _fake_compiler(tmp_path, name="edgetpu_compiler")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_compiler(None) == str(script)
    assert find_compiler(str(script)) == str(script)
    assert find_compiler(str(tmp_path / "nowhere")) == str(tmp_path / "nowhere")


def test_missing_binary_is_a_result(tmp_path):
    run = run_compiler(b"model", str(tmp_path / "no" / "edgetpu_compiler"), timeout_s=5)
    assert run.returncode is None and not run.ran and not run.measured
    assert run.error is not None and "cannot run the Edge TPU compiler" in run.error
    assert "No such file" in run.error
    assert run.compiled_model is None


def test_confirm_without_compiler_returns_none(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    model = TFLiteModel(_read_model(PAIR, twin=False), name=PAIR)
    assert confirm_with_compiler(_prediction(model), model, None, 5.0) is None


def _fake_compiler(
    tmp_path: Path,
    *,
    name: str = "fake_edgetpu_compiler",
    log: str = "",
    twin: Path | None = None,
    code: int = 0,
    sleep: float = 0.0,
    crash: bool = False,
    write_twin: bool = True,
) -> Path:
    """An executable stand-in for edgetpu_compiler: prints ``log`` and writes the twin."""
    script = tmp_path / name
    body = f"""\
        #!{sys.executable}
        import os, shutil, signal, sys, time
        args = sys.argv[1:]
        with open(os.path.join({str(tmp_path)!r}, "args.json"), "w") as f:
            f.write(repr(args))
        out = args[args.index("-o") + 1] if "-o" in args else "."
        model = args[-1]
        stem = os.path.splitext(os.path.basename(model))[0]
        time.sleep({sleep!r})
        if {crash!r}:
            os.kill(os.getpid(), signal.SIGSEGV)
        sys.stdout.write({log!r}.replace("{{stem}}", stem))
        if {code!r} == 0 and {write_twin!r}:
            shutil.copyfile({str(twin) if twin else None!r} or model, os.path.join(out, stem + "_edgetpu.tflite"))
        sys.exit({code!r})
        """
    script.write_text(textwrap.dedent(body))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def _args(tmp_path: Path) -> list[str]:
    return eval((tmp_path / "args.json").read_text())  # the script wrote repr() of a list of str


def test_runner_runs_the_compiler_in_a_temporary_folder(tmp_path):
    script = _fake_compiler(tmp_path, log=STDOUT_16)
    run = run_compiler(b"not really a model", str(script), timeout_s=30, extra_args=("-m 13", "-a"), name="my net")
    assert run.error is None and run.returncode == 0 and run.ran and run.measured
    assert run.compiled_model == b"not really a model"
    assert run.log.input_model == "my_net.tflite" and run.log.ops_on_edgetpu == 43
    args = _args(tmp_path)
    assert args[0] == "-s" and args[1] == "-o" and os.path.isabs(args[2])
    assert args[3:] == ["-m", "13", "-a", "my_net.tflite"]
    assert not Path(args[2]).exists(), "the temporary folder is removed"
    assert "Compilation succeeded!" in run.log_text


def test_runner_reports_a_failed_compile(tmp_path):
    script = _fake_compiler(tmp_path, log=NOT_QUANTIZED, code=1)
    run = run_compiler(b"float model", str(script), timeout_s=30)
    assert run.returncode == 1 and run.ran and run.measured and run.compiled_model is None
    assert run.error == (
        "fake_edgetpu_compiler exited with status 1: Invalid model: model.tflite: Model not quantized"
    )


def test_runner_stops_a_compiler_that_hangs(tmp_path):
    script = _fake_compiler(tmp_path, log=STDOUT_16, sleep=60)
    start = time.perf_counter()
    run = run_compiler(b"model", str(script), timeout_s=0.5)
    assert time.perf_counter() - start < 20
    assert run.returncode is None and not run.measured and run.compiled_model is None
    assert run.error == "fake_edgetpu_compiler did not finish within 0.5 s and was stopped"


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_runner_reports_a_crash(tmp_path):
    script = _fake_compiler(tmp_path, crash=True)
    run = run_compiler(b"model", str(script), timeout_s=30)
    assert run.returncode == -11 and not run.ran and not run.measured
    assert run.error == "fake_edgetpu_compiler crashed: killed by signal SIGSEGV (return code -11)"


def test_runner_exit_zero_without_a_model(tmp_path):
    script = _fake_compiler(tmp_path, log="Edge TPU Compiler version 16.0.384591198\n", write_twin=False)
    run = run_compiler(b"model", str(script), timeout_s=30)
    assert run.returncode == 0 and not run.measured
    assert run.error == "fake_edgetpu_compiler exited with status 0 but wrote no compiled model"


# --- the measured report on a real pair -------------------------------------------------------


def _prediction(model: TFLiteModel, off: dict[int, str] | None = None) -> CompatibilityReport:
    """A stand-in prediction: every operator mapped except ``off`` (index -> reason)."""
    off = off or {}
    ops = [
        OpPlacement(op.index, op.name, op.version, ON_CPU if op.index in off else ON_TARGET,
                    off.get(op.index, MAPPED), "a fix" if op.index in off else "")
        for op in model.operators
    ]
    return CompatibilityReport(
        target="edgetpu", model=model.name, mode=None, ops=tuple(ops), target_title="Edge TPU",
        details={"compiler_version": "16.0.384591198", "runtime_version": 14},
    )


@pytest.fixture(scope="module")
def real_pair(tmp_path_factory):
    plain = TFLiteModel(_read_model(PAIR, twin=False), name=PAIR)
    twin_bytes = _read_model(PAIR, twin=True)
    folder = tmp_path_factory.mktemp("twin")
    (folder / "twin.tflite").write_bytes(twin_bytes)
    return plain, folder / "twin.tflite", _truth()[PAIR]


def test_measured_report_from_the_real_twin(real_pair, tmp_path):
    plain, twin, truth = real_pair
    script = _fake_compiler(tmp_path, log=STDOUT_16, twin=twin)
    run = run_compiler(plain.content, str(script), timeout_s=60, name=plain.name)
    assert run.compiled_model == twin.read_bytes()
    predicted = _prediction(plain, {12: "Operation not supported"})
    report = measured_report(predicted, run, plain)

    assert report.static is False and report.failure is None
    assert [op.index for op in report.off_target] == truth["cpu_op_indices"]
    assert report.ops_on_target == truth["mapped"] and report.ops_total == truth["total_ops"]
    decoder = report.ops[43]
    assert (decoder.op, decoder.runs_on, decoder.reason) == ("PosenetDecoderOp", ON_CPU, UNSUPPORTED_TYPE)
    assert report.ops[12].reason == MAPPED and report.ops[12].fix == ""
    assert "predicted on the CPU, mapped by the compiler: CONV_2D #12" in report.notes
    assert "predicted on the Edge TPU, left on the CPU by the compiler: PosenetDecoderOp #43" in report.notes
    assert report.notes[0].startswith("measured: compiled with edgetpu_compiler 16.0.384591198")
    assert report.details["measured"] is True
    assert report.details["compiler_version"] == "16.0.384591198"
    assert report.details["edgetpu_subgraphs"] == 1
    assert report.details["predicted_cpu_op_indices"] == [12]
    assert report.details["compiler_compile_ms"] == 412.0
    assert report.table()[-1] == ("PosenetDecoderOp", 1, UNSUPPORTED_TYPE)
    json.loads(report.to_json())


def test_twin_matching_alone(real_pair):
    plain, twin, truth = real_pair
    assert sorted(cpu_indices_from_twin(plain, TFLiteModel(twin.read_bytes()))) == truth["cpu_op_indices"]


def test_measured_report_from_counts_without_a_twin(real_pair, tmp_path):
    plain, _, truth = real_pair
    script = _fake_compiler(tmp_path, log=STDOUT_16, write_twin=False)
    run = run_compiler(plain.content, str(script), timeout_s=60, name=plain.name)
    report = measured_report(_prediction(plain), run, plain)
    assert report.static is False
    assert [op.index for op in report.off_target] == truth["cpu_op_indices"]
    assert "counts per operator kind" in report.notes[0]


def test_measured_report_of_a_failed_compile(real_pair, tmp_path):
    plain, _, _ = real_pair
    script = _fake_compiler(tmp_path, log=NOT_QUANTIZED, code=1)
    run = run_compiler(plain.content, str(script), timeout_s=60, name=plain.name)
    report = measured_report(_prediction(plain), run, plain)
    assert report.static is False and report.verdict == "incompatible"
    assert report.failure == f"Invalid model: {PAIR}.tflite: Model not quantized"
    assert report.ops_on_cpu == report.ops_total
    assert report.details["compiler_errors"] == [f"Invalid model: {PAIR}.tflite", "Model not quantized"]
    assert any(n.startswith("the compiler failed where the prediction expected a compile") for n in report.notes)


def test_prediction_stands_when_the_run_gives_no_verdict(real_pair, tmp_path):
    plain, _, _ = real_pair
    predicted = _prediction(plain)
    run = run_compiler(plain.content, str(tmp_path / "missing"), timeout_s=5)
    report = measured_report(predicted, run, plain)
    assert report.static is True and report.ops == predicted.ops
    assert report.details["measured"] is False
    assert report.notes[-1].startswith("the Edge TPU compiler could not confirm the prediction: cannot run")


def test_confirm_with_the_engines_prediction(real_pair, tmp_path, monkeypatch):
    from pytest_tflite.targets.edgetpu.engine import analyze

    plain, twin, truth = real_pair
    _fake_compiler(tmp_path, name="edgetpu_compiler", log=STDOUT_16, twin=twin)
    monkeypatch.setenv("PATH", str(tmp_path))
    predicted = analyze(plain, {})
    report = confirm_with_compiler(predicted, plain, None, 60.0)
    assert isinstance(report, CompatibilityReport)
    assert report.static is False
    assert [op.index for op in report.off_target] == truth["cpu_op_indices"]
    assert report.details["predicted_verdict"] == predicted.verdict


def test_compiler_run_is_plain_data():
    run = CompilerRun(("x",), 0, "out", "err", parse_log(""))
    assert run.log_text == "out\nerr" and run.ran and not run.measured


def test_the_target_runs_the_compiler_its_option_names(real_pair, tmp_path, monkeypatch):
    from pytest_tflite import get_target

    plain, twin, truth = real_pair
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    script = _fake_compiler(tmp_path, log=STDOUT_16, twin=twin)
    report = get_target("edgetpu").with_options(compiler_path=str(script)).check(plain)
    assert report.static is False and report.details["measured"] is True
    assert [op.index for op in report.off_target] == truth["cpu_op_indices"]
    assert "-s" in _args(tmp_path)


def test_the_target_finds_the_compiler_on_path_unless_told_never(real_pair, tmp_path, monkeypatch):
    from pytest_tflite import get_target

    plain, twin, _ = real_pair
    _fake_compiler(tmp_path, name="edgetpu_compiler", log=STDOUT_16, twin=twin)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert get_target("edgetpu").check(plain).static is False
    assert get_target("edgetpu").with_options(compiler_path="never").check(plain).static is True


def test_without_a_compiler_the_target_predicts(real_pair, tmp_path, monkeypatch):
    from pytest_tflite import get_target

    plain, _, _ = real_pair
    monkeypatch.setenv("PATH", str(tmp_path))
    report = get_target("edgetpu").check(plain)
    assert report.static is True
    assert report.notes[0].startswith("predicted for edgetpu_compiler 16.0.384591198")
