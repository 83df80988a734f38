"""``python -m pytest_tflite inspect``: tables, JSON, and exit status 2 for unreadable input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from pytest_tflite import TFLiteModel
from pytest_tflite.cli import EXIT_BAD_INPUT, main


def _inspect(capsys, *args):
    status = main(["inspect", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_module_entry_point(tiny_tflite_file):
    """The real command line, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest_tflite", "inspect", str(tiny_tflite_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "model: tiny" in result.stdout
    assert "FULLY_CONNECTED" in result.stdout


def test_inspect_does_not_import_tensorflow(tiny_tflite_file):
    code = (
        "import sys; from pytest_tflite.cli import main; status = main(['inspect', sys.argv[1]]); "
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; sys.exit(status)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tiny_tflite_file)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "RESHAPE" in result.stdout


def test_module_entry_point_bad_input(tmp_path):
    missing = tmp_path / "missing.tflite"
    result = subprocess.run(
        [sys.executable, "-m", "pytest_tflite", "inspect", str(missing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr


def test_inspect_prints_sizes_operators_and_io(capsys, tiny_tflite_file):
    model = TFLiteModel.from_file(tiny_tflite_file)
    status, out, err = _inspect(capsys, tiny_tflite_file)
    assert (status, err) == (0, "")
    assert "model: tiny" in out
    assert f"size: {model.size_bytes:,} bytes" in out
    assert f"gzipped {model.gzip_size_bytes:,} bytes" in out
    assert "operators in the main subgraph: 3" in out
    lines = out.splitlines()
    operator_rows = {
        words[0]: words[1]
        for words in map(str.split, lines)
        if words[:1] in (["FULLY_CONNECTED"], ["RESHAPE"])
    }
    assert operator_rows == {"FULLY_CONNECTED": "2", "RESHAPE": "1"}
    [input_row] = [line for line in lines if line.startswith("input ")]
    [output_row] = [line for line in lines if line.startswith("output ")]
    assert input_row.split()[1:] == ["serving_default_x:0", "float32", "(?,", "8,", "8)", "-"]
    assert output_row.split()[2:] == ["float32", "(?,", "4)", "-"]


def test_inspect_shows_quantization(capsys, tiny_full_int8_file):
    model = TFLiteModel.from_file(tiny_full_int8_file)
    status, out, _ = _inspect(capsys, tiny_full_int8_file)
    assert status == 0
    [input_row] = [line for line in out.splitlines() if line.startswith("input ")]
    [output_row] = [line for line in out.splitlines() if line.startswith("output ")]
    for row, tensor in ((input_row, model.inputs[0]), (output_row, model.outputs[0])):
        assert " int8 " in row
        q = tensor.quantization
        assert f"scale={q.scales[0]:.6g} zero_point={q.zero_points[0]}" in row


def test_inspect_json(capsys, tiny_full_int8_file):
    model = TFLiteModel.from_file(tiny_full_int8_file)
    status, out, err = _inspect(capsys, tiny_full_int8_file, "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    assert data["size_bytes"] == model.size_bytes == tiny_full_int8_file.stat().st_size
    assert data["gzip_size_bytes"] == model.gzip_size_bytes < data["size_bytes"]
    assert data["op_histogram"] == {"FULLY_CONNECTED": 2, "RESHAPE": 1}
    [inp], [outp] = data["inputs"], data["outputs"]
    assert inp["dtype"] == outp["dtype"] == "int8"
    assert inp["shape_signature"] == [-1, 8, 8] and outp["shape_signature"] == [-1, 4]
    assert inp["quantization"]["scales"][0] == pytest.approx(model.inputs[0].quantization.scales[0])
    assert inp["quantization"]["zero_points"] == [-128]
    assert data["name"] == "tiny_int8" and data["subgraphs"] == 1


def test_inspect_json_of_a_float_model(capsys, tiny_tflite_file):
    status, out, _ = _inspect(capsys, "--json", tiny_tflite_file)
    assert status == 0
    data = json.loads(out)
    assert data["inputs"][0]["quantization"] is None
    assert data["inputs"][0]["dtype"] == "float32"


def _assert_clean_error(status, out, err, name):
    assert status == EXIT_BAD_INPUT == 2
    assert out == ""
    assert "Traceback" not in err
    assert err.startswith(f"error: model {name!r}: ")
    first_paragraph = err.strip().split("\n\n")[0]
    assert "\n" not in first_paragraph, "the explanation is one paragraph"
    return first_paragraph


def test_random_bytes_give_one_paragraph(capsys, tmp_path):
    path = tmp_path / "garbage.tflite"
    path.write_bytes(np.random.default_rng(0).bytes(500))
    status, out, err = _inspect(capsys, path)
    paragraph = _assert_clean_error(status, out, err, "garbage")
    assert err.strip() == paragraph, "exactly one paragraph"
    assert "not a TensorFlow Lite model" in paragraph


@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_file(capsys, tmp_path, tiny_tflite_file, fraction):
    content = tiny_tflite_file.read_bytes()
    path = tmp_path / "cut.tflite"
    path.write_bytes(content[: int(len(content) * fraction)])
    status, out, err = _inspect(capsys, path)
    paragraph = _assert_clean_error(status, out, err, "cut")
    assert "damaged or truncated" in paragraph
    assert "Convert the model again" in paragraph
    # anything below the paragraph is the decoder's own message, indented
    for block in err.strip().split("\n\n")[1:]:
        assert all(line.startswith("    ") for line in block.splitlines())


def test_empty_file(capsys, tmp_path):
    path = tmp_path / "empty.tflite"
    path.write_bytes(b"")
    status, out, err = _inspect(capsys, path)
    _assert_clean_error(status, out, err, "empty")


def test_missing_file(capsys, tmp_path):
    status, out, err = _inspect(capsys, tmp_path / "missing.tflite")
    paragraph = _assert_clean_error(status, out, err, "missing")
    assert "cannot read" in paragraph and "missing.tflite" in paragraph


def test_usage_errors_exit_through_argparse(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main([])
    assert excinfo.value.code == 2
    assert "COMMAND" in capsys.readouterr().err


def test_damaged_file_error_names_the_file(tmp_path, tiny_tflite_file, capsys):
    from pytest_tflite.cli import main

    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(tiny_tflite_file.read_bytes()[:200])
    assert main(["inspect", str(damaged)]) == 2
    assert str(damaged) in capsys.readouterr().err


# --- check --------------------------------------------------------------------------------


def _check(capsys, *args):
    status = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_check_prints_the_report_and_exits_0_when_compatible(capsys, tiny_tflite_file):
    status, out, err = _check(capsys, tiny_tflite_file)
    assert status == 0, err
    assert out.startswith("tiny on CPU: ")
    assert "verdict compatible" in out.splitlines()[0]
    assert f"{'Operator':<31}{'Count':<11}Status" in out


def test_check_json_has_the_documented_fields(capsys, tiny_full_int8_file):
    status, out, _ = _check(capsys, tiny_full_int8_file, "--target", "cpu", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["target"] == "cpu" and data["verdict"] == "compatible"
    assert data["ops_total"] == data["ops_on_target"] == len(data["ops"]) > 0
    assert {"index", "op", "on_target", "reason"} <= set(data["ops"][0])


def test_check_exits_1_when_operators_cannot_run(capsys, tmp_path, tf):
    module = tf.Module()
    module.f = tf.function(
        lambda x: tf.raw_ops.Cumprod(x=x, axis=1), input_signature=[tf.TensorSpec([1, 4], tf.float32)]
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.f.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    path = TFLiteModel(converter.convert(), name="flex").save(tmp_path / "flex.tflite")
    status, out, _ = _check(capsys, path, "--json")
    assert status == 1
    data = json.loads(out)
    assert data["verdict"] == "incompatible"
    assert [op["op"] for op in data["ops"] if not op["on_target"]] == ["FlexCumprod"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--target", "tpu"), "there is no target called 'tpu'. Known targets: cpu"),
        (("--option", "threads=2"), "target 'cpu' has no option(s) threads"),
        (("--option", "novalue"), "--option takes KEY=VALUE, not 'novalue'"),
    ],
    ids=["unknown-target", "unknown-option", "malformed-option"],
)
def test_check_bad_target_exits_2(capsys, tiny_tflite_file, args, message):
    status, out, err = _check(capsys, tiny_tflite_file, *args)
    assert status == EXIT_BAD_INPUT
    assert out == ""
    assert err.startswith("error: ") and message in err


def test_check_unreadable_model_exits_2(capsys, tmp_path):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x00" * 64)
    status, out, err = _check(capsys, bad)
    assert status == EXIT_BAD_INPUT
    assert "not a TensorFlow Lite model" in err and str(bad) in err


def test_closed_pipe_ends_quietly(tiny_tflite_file):
    """``check MODEL | head``: when the reader has gone, the command stops without a
    BrokenPipeError traceback."""
    command = [sys.executable, "-m", "pytest_tflite", "check", str(tiny_tflite_file)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        proc.stdout.close()  # gone before the report is written: every write hits EPIPE
        stderr = proc.stderr.read().decode()
        status = proc.wait(timeout=120)
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert status == 1
