"""The example suite stays runnable: every declared model has its weights and baselines,
and a slice of it passes against the committed baselines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_tflite import mode_names
from pytest_tflite.declared.checks import declared_in
from pytest_tflite.gate.golden import golden_path, read_golden

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"


@pytest.fixture(scope="module")
def declared():
    from suites import tflite_models

    return {model.name: model for model in declared_in(tflite_models)}


def test_every_architecture_is_declared(declared):
    from suites.architectures import BUILDERS

    assert sorted(declared) == sorted(BUILDERS)


def test_every_declared_mode_has_a_baseline(declared):
    missing = [
        f"{name}/{mode}"
        for name, model in declared.items()
        for mode in model.modes or mode_names()
        if read_golden(golden_path(GOLDEN, name, mode)) is None
    ]
    assert not missing, f"no baseline for {missing}: run pytest suites --tflite-target all --tflite-update-golden"


def test_baselines_hold_every_part_and_target(declared):
    """Size, accuracy and placement were all recorded, for every target that runs the mode."""
    incomplete = []
    for name, model in declared.items():
        for mode in model.modes or mode_names():
            golden = read_golden(golden_path(GOLDEN, name, mode)) or {}
            if not {"size_bytes", "metric", "op_histogram"} <= set(golden) or "cpu" not in golden.get("targets", {}):
                incomplete.append(f"{name}/{mode}")
    assert not incomplete


def test_no_baseline_without_a_declared_model_and_mode(declared):
    expected = {golden_path(GOLDEN, n, m) for n, d in declared.items() for m in d.modes or mode_names()}
    stray = sorted(str(p.relative_to(ROOT)) for p in GOLDEN.glob("*/*.json") if p not in expected)
    assert not stray


def test_narrowed_modes_are_modes(declared):
    for model in declared.values():
        assert set(model.modes or ()) <= set(mode_names())


def _layout(model):
    """Each layer's name and weight shapes, and the input shape: what the file must match."""
    layers = [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers]
    return tuple(model.input_shape), layers


@pytest.mark.parametrize(
    "name", ["dense_mlp", "mobilenet", "shufflenet", "efficientnet_lite", "efficientnet_lite_se", "lstm_rows"]
)
def test_weight_file_matches_its_architecture(tf_keras, name):
    from suites.architectures import build
    from suites.train import weights_path

    loaded = tf_keras.models.load_model(weights_path(name), compile=False)
    assert loaded.name == name
    assert _layout(loaded) == _layout(build(name))


@pytest.mark.slow
def test_a_slice_of_the_suite_passes_against_the_committed_baselines(tmp_path):
    """The dense classifier's float32 and Edge TPU forms, converted afresh, on every target."""
    report = tmp_path / "report.xml"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/tflite_models.py",
        "-k",
        "dense_mlp and (float32 or full_int8)",
        "--tflite-target",
        "all",
        "--tflite-cache-dir",
        str(tmp_path / "cache"),
        "--benchmark-disable",
        "-p",
        "no:cacheprovider",
        "-q",
        f"--junitxml={report}",
    ]
    before = {p: p.read_bytes() for p in GOLDEN.glob("dense_mlp/*.json")}
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = report.read_text()
    assert text.count("<testcase") == 22, text  # 2 modes x (converts, size, accuracy, latency, 7 targets)
    assert text.count("<skipped") == 4  # float32 on the Edge TPU and the three Ethos-U NPUs, which never run float
    assert "tflite_edgetpu_ops_on_target" in text
    assert "tflite_ethos-u55_cycles" in text and "tflite_tflm_arena_bytes" in text
    assert before == {p: p.read_bytes() for p in GOLDEN.glob("dense_mlp/*.json")}


def test_figures_print_a_row_per_declared_model_and_mode(declared):
    command = [sys.executable, "-m", "suites.figures"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cells = [[c.strip() for c in line.split("|")[1:3]] for line in done.stdout.splitlines() if line.startswith("| ")]
    rows = {(model, mode.strip("`")) for model, mode in cells if model in declared}
    assert rows == {(n, m) for n, d in declared.items() for m in d.modes or mode_names()}
    assert "no baseline" not in done.stdout


@pytest.mark.slow
def test_a_slice_of_the_suites_runs_without_a_network(tmp_path):
    """No network at run time: the suite's data ship with scikit-learn, its weights and
    baselines with the repository; run inside a network namespace where the machine allows one."""
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine does not allow a network namespace (unshare -rn)")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [
            unshare,
            "-rn",
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--tflite-target=cpu",
            f"--tflite-cache-dir={tmp_path}",
            "-k",
            "dense_mlp and float32 and not qat and not latency",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
