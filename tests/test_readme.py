"""The README's promises: two command lines first, and CI runs the same test line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_command_lines() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the README starts with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_starts_with_exactly_two_lines():
    text = (ROOT / "README.md").read_text()
    assert text.index("```bash") < text.index("##"), "the command lines come before any section"
    lines = readme_command_lines()
    assert len(lines) == 2
    assert "pip install" in lines[0] and "pytest suites" in lines[0]
    assert "pytest tests" in lines[1]


def test_ci_runs_the_readme_test_line():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert readme_command_lines()[1] in ci


def test_every_documented_option_exists():
    from pytest_tflite import options

    source = Path(options.__file__).read_text()
    documented = set(re.findall(r"`(--tflite-[a-z-]+)", (ROOT / "README.md").read_text()))
    assert documented, "the README documents the options"
    for option in documented:
        assert f'"{option}"' in source, f"{option} is documented but not defined"


def test_every_documented_ini_key_exists(pytester):
    text = (ROOT / "README.md").read_text()
    options = text[text.index("## Options") :]
    options = options[: options.index("\n## ", 1)]
    documented = set(re.findall(r"\| `(tflite_[a-z_]+)` \|", options))
    assert {"tflite_modes", "tflite_targets", "tflite_budgets", "tflite_golden_dir"} <= documented
    result = pytester.runpytest("--help")
    for key in documented:
        result.stdout.fnmatch_lines([f"*{key} (*"])


def readme_files() -> dict[str, str]:
    """The README's example files: every Python block whose first line names a file."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n# ([\w./]+\.py)\n(.*?)```", text, re.S)
    return {name: body for name, body in blocks}


def _write_example_data(root: Path) -> None:
    """What the examples load: trained classifier weights, a saved model, digits-like data
    whose label is the brightest of ten bands of rows (learnable to well above 95 %)."""
    import numpy as np
    import tf_keras as keras

    rng = np.random.default_rng(0)

    def images(count: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, count)
        x = 0.3 * rng.random((count, 28, 28), dtype=np.float32)
        for i, label in enumerate(y):
            x[i, 2 * label + 4 : 2 * label + 6] += 0.7
        return x, y

    x_train, y_train = images(1200)
    x_test, y_test = images(200)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((28, 28), batch_size=1), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
         keras.layers.Dense(10)],
        name="classifier",
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=3, batch_size=1, verbose=0)
    for folder in ("weights", "data", "models"):
        (root / folder).mkdir()
    model.save_weights(root / "weights" / "classifier.weights.h5")
    model.save(root / "models" / "mnist_mlp.keras")
    np.save(root / "data" / "calibration.npy", x_train[:100])
    for name, array in (("test_x", x_test), ("test_y", y_test), ("x_test", x_test), ("y_test", y_test)):
        np.save(root / "data" / f"{name}.npy", array)


@pytest.mark.slow
def test_the_readme_examples_run_as_a_model_repository(pytester, runtime_loaded):
    """The README's conftest.py, test_classifier.py and tflite_models.py, as written,
    against the Edge TPU: first recording the baselines, then gated by them."""
    files = readme_files()
    assert {"conftest.py", "test_classifier.py", "tflite_models.py"} <= set(files)
    for name, body in files.items():
        (pytester.path / name).write_text(body)
    _write_example_data(pytester.path)
    args = ["--tflite-target", "edgetpu", "-p", "no:cacheprovider", "--benchmark-disable",
            "-W", "error::pytest.PytestReturnNotNoneWarning"]
    first = pytester.runpytest_subprocess(*args, "--tflite-update-golden")
    assert first.ret == pytest.ExitCode.OK, first.stdout.str()[-3000:]
    second = pytester.runpytest_subprocess(*args)
    assert second.ret == pytest.ExitCode.OK, second.stdout.str()[-3000:]
    second.stdout.no_fnmatch_line("*test_set*")
    second.assert_outcomes(passed=42, skipped=16)
    second.stdout.fnmatch_lines(["mnist_mlp", "*full_int8*edgetpu*pass"])
