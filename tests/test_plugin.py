"""The plugin seen from pytest: options, parametrization, errors, the cache, xdist.

Every test here runs a real pytest session with ``pytester``. Most run in-process
(TensorFlow is imported once by this process and reused); the few that must not share
this process (xdist, import checks) run pytest in a subprocess.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from support import collected_ids

POST_TRAINING_MODES = ["float32", "dynamic_int8", "float16", "int8", "full_int8", "int16x8"]
TRAINING_MODES = [
    "qat_int8", "pruned", "clustered", "pruned_clustered",
    "pruned_qat_int8", "clustered_qat_int8", "pruned_clustered_qat_int8",
]
QUANTIZER_MODES = ["int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations", "recipe"]
ALL_MODES = POST_TRAINING_MODES + TRAINING_MODES + QUANTIZER_MODES
"""Training-time modes are selected too; without tflite_training_data their tests skip."""

MODEL_CONFTEST = """
    import numpy as np
    import pytest


    @pytest.fixture(scope="session")
    def keras_model():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        # Layers are named so that the model's JSON, part of the cache key, is the same
        # in every run of this process (unnamed layers get dense_1, dense_2, ...).
        return keras.Sequential(
            [
                keras.Input((8, 8), name="x"),
                keras.layers.Flatten(name="flat"),
                keras.layers.Dense(16, activation="relu", name="hidden"),
                keras.layers.Dense(4, name="logits"),
            ],
            name="tiny_dense",
        )


    @pytest.fixture
    def tflite_source(keras_model):
        return keras_model
"""

REPRESENTATIVE_DATA = """

    @pytest.fixture
    def tflite_representative_data():
        return np.random.default_rng(0).random((32, 8, 8), dtype=np.float32)
"""

AGREEMENT_TEST = """
    import numpy as np

    X = np.random.default_rng(1).random((10, 8, 8), dtype=np.float32)
    # Largest difference from Keras allowed, relative to the largest Keras output.
    TOLERANCE = {"float32": 1e-5, "float16": 1e-2}


    def test_agrees_with_keras(tflite_model, tflite_mode, keras_model):
        assert tflite_model.size_bytes > 0
        assert tflite_model.mode == tflite_mode.name
        expected = keras_model.predict(X, verbose=0)
        got = tflite_model.predict(X)
        assert got.shape == expected.shape == (10, 4)
        scale = float(abs(expected).max())
        error = float(abs(got - expected).max())
        assert error <= TOLERANCE.get(tflite_mode.name, 0.1) * scale, (tflite_mode.name, error)
"""


@pytest.fixture
def project(runtime_loaded, pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester folder whose conftest defines the tiny model and calibration data."""
    pytester.makeconftest(MODEL_CONFTEST + REPRESENTATIVE_DATA)
    return pytester


def tflite_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.tflite"))


def junit_outcomes(path: Path) -> dict[str, str]:
    """{test id: passed/failed/error/skipped} from a JUnit XML report."""
    outcomes = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = kinds[0] if kinds else "passed"
    return outcomes


# --- options and help -------------------------------------------------------------------


def test_help_lists_options_and_ini_keys(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "TensorFlow Lite conversion and checks:",
            "*--tflite-mode=NAME*quantization mode*",
            "*--tflite-cache-dir=DIR*",
            "*--tflite-no-cache*convert every model afresh*",
            "*--tflite-calibration-samples=N*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*tflite_modes (args):*",
            "*tflite_cache_dir (string):*",
            "*tflite_calibration_samples (string):*",
        ]
    )


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (
            (),
            f"tflite: modes all {len(ALL_MODES)}; targets cpu; conversion cache */.pytest_cache/d/tflite",
        ),
        (
            ("--tflite-mode", "int8", "--tflite-no-cache"),
            "tflite: modes int8; targets cpu; conversion cache off",
        ),
        (("--tflite-cache-dir", "conv"), "tflite: modes *; conversion cache */conv"),
    ],
    ids=["default", "narrowed-no-cache", "cache-dir"],
)
def test_report_header(pytester: pytest.Pytester, args, header):
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest("--collect-only", *args)
    result.stdout.fnmatch_lines([header])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ("--tflite-calibration-samples", "0"),
            "",
            "*--tflite-calibration-samples*0 is not at least 1*",
        ),
        (("--tflite-calibration-samples", "ten"), "", "*'ten' is not a whole number*"),
        (
            (),
            "tflite_calibration_samples = -3",
            "*ini tflite_calibration_samples: -3 is not at least 1*",
        ),
    ],
    ids=["cli-zero", "cli-text", "ini-negative"],
)
def test_bad_calibration_samples_is_a_usage_error(pytester: pytest.Pytester, args, ini, message):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_plain(): pass")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        ((), "", 100),
        (("--tflite-calibration-samples", "7"), "", 7),
        ((), "tflite_calibration_samples = 12", 12),
    ],
    ids=["default", "cli", "ini"],
)
def test_calibration_samples_reach_the_session(pytester: pytest.Pytester, args, ini, expected):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        f"""
        def test_samples(tflite_session):
            assert tflite_session.calibration_samples == {expected}
        """
    )
    pytester.runpytest(*args).assert_outcomes(passed=1)


# --- parametrization over modes ---------------------------------------------------------

COLLECTION_TESTS = """
    import pytest


    def test_x(tflite_model):
        pass


    def test_plain():
        pass
"""


@pytest.mark.parametrize(
    ("args", "modes"),
    [
        ((), ALL_MODES),
        (("--tflite-mode", "all"), ALL_MODES),
        (("--tflite-mode", "int8", "--tflite-mode", "float16"), ["int8", "float16"]),
        (("--tflite-mode", "int8,float16"), ["int8", "float16"]),
        (("--tflite-mode", " full_int8 , float32 "), ["full_int8", "float32"]),
        (("--tflite-mode", "int8", "--tflite-mode", "float16,int8"), ["int8", "float16"]),
    ],
    ids=["default", "all", "repeated", "comma", "spaces", "duplicates"],
)
def test_tests_are_parametrized_over_selected_modes(pytester: pytest.Pytester, args, modes):
    pytester.makepyfile(test_x=COLLECTION_TESTS)
    result = pytester.runpytest("--collect-only", "-q", *args)
    assert result.ret == 0
    assert collected_ids(result) == [f"test_x[{m}]" for m in modes] + ["test_plain"]


@pytest.mark.parametrize("style", ["ini", "pyproject"])
def test_ini_tflite_modes_narrows(pytester: pytest.Pytester, style):
    if style == "ini":
        pytester.makeini("[pytest]\ntflite_modes = float32 int16x8\n")
    else:
        pytester.makepyprojecttoml(
            '[tool.pytest.ini_options]\ntflite_modes = ["float32", "int16x8"]\n'
        )
    pytester.makepyfile(test_x=COLLECTION_TESTS)
    result = pytester.runpytest("--collect-only", "-q")
    assert collected_ids(result) == ["test_x[float32]", "test_x[int16x8]", "test_plain"]


def test_command_line_overrides_ini(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ntflite_modes = float32\n")
    pytester.makepyfile(test_x=COLLECTION_TESTS)
    result = pytester.runpytest("--collect-only", "-q", "--tflite-mode", "float16")
    assert collected_ids(result) == ["test_x[float16]", "test_plain"]


@pytest.mark.parametrize(
    ("marker", "args", "ids"),
    [
        ('modes=["float16"]', (), ["test_m[float16]"]),
        ('modes="float16"', (), ["test_m[float16]"]),
        ('modes=["full_int8", "float32"]', (), ["test_m[full_int8]", "test_m[float32]"]),
        ('modes=["int8", "full_int8"]', ("--tflite-mode", "float16,int8"), ["test_m[int8]"]),
        ("", ("--tflite-mode", "int8"), ["test_m[int8]"]),
    ],
    ids=["list", "string", "marker-order", "intersection", "no-modes-kwarg"],
)
def test_marker_narrows_modes(pytester: pytest.Pytester, marker, args, ids):
    pytester.makepyfile(
        test_m=f"""
        import pytest

        @pytest.mark.tflite({marker})
        def test_m(tflite_model):
            pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q", *args)
    assert collected_ids(result) == ids


def test_marker_on_a_class_narrows_its_tests(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.tflite(modes=["int16x8"])
        class TestSmall:
            def test_a(self, tflite_mode):
                pass
        """
    )
    result = pytester.runpytest("--collect-only", "-q")
    assert collected_ids(result) == ["TestSmall::test_a[int16x8]"]


def test_marker_mode_not_selected_is_one_skip_with_reason(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_m="""
        import pytest

        @pytest.mark.tflite(modes=["int8", "full_int8"])
        def test_m(tflite_model):
            raise AssertionError("must not run")
        """
    )
    result = pytester.runpytest("-rs", "-v", "--tflite-mode", "float16,dynamic_int8")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*test_m.py::test_m[[]no-mode[]] SKIPPED*",
            "SKIPPED [[]1[]] *none of the marker's modes (int8, full_int8) is selected "
            "(selected: float16, dynamic_int8)*",
        ]
    )


def test_user_parametrization_of_tflite_mode_is_left_alone(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_u="""
        import pytest

        @pytest.mark.parametrize("tflite_mode", ["float16"], indirect=True)
        def test_u(tflite_mode):
            assert tflite_mode.name == "float16"
        """
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_u.py::test_u[[]float16[]] PASSED*"])


def test_tflite_mode_is_a_mode_object(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        from pytest_tflite import Mode

        def test_mode(tflite_mode):
            assert isinstance(tflite_mode, Mode)
            assert tflite_mode.needs_representative_data == (
                tflite_mode.name in ("int8", "full_int8", "int16x8", "int16_activations")
                or tflite_mode.name.endswith("qat_int8"))
            assert tflite_mode.needs_training_data == (tflite_mode.name not in (
                "float32", "dynamic_int8", "float16", "int8", "full_int8", "int16x8",
                "int4_weights", "dynamic_int4", "dynamic_int4_blockwise", "int16_activations", "recipe"))
        """
    )
    pytester.runpytest().assert_outcomes(passed=len(ALL_MODES))


def test_unknown_mode_on_command_line_fails_the_tests_that_use_modes(pytester: pytest.Pytester):
    pytester.makepyfile(test_x=COLLECTION_TESTS)
    result = pytester.runpytest("--tflite-mode", "float32,int4")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_x[[]invalid[]]*",
            "*--tflite-mode (or the tflite_modes ini key) names 'int4', "
            "which is no registered quantization mode. Known modes: float32, dynamic_int8, "
            "float16, int8, full_int8, int16x8*"
        ]
    )
    # The header still shows what was asked for rather than crashing.
    result.stdout.fnmatch_lines(["tflite: modes float32,int4; *"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            'modes=["int8"], mode="float16"',
            "*@pytest.mark.tflite got unknown argument(s) mode. It takes modes=[[]...[]], "
            "targets=[[]...[]]*",
        ),
        ('"int8"', "*@pytest.mark.tflite takes keyword arguments only*"),
        ('modes=["int4"]', "*there is no quantization mode called 'int4'. Known modes: float32, *"),
    ],
    ids=["unknown-kwarg", "positional", "unknown-mode"],
)
def test_bad_marker_fails_that_test_only(pytester: pytest.Pytester, marker, message):
    pytester.makepyfile(
        test_m=f"""
        import pytest

        @pytest.mark.tflite({marker})
        def test_m(tflite_model):
            pass

        def test_other(tflite_mode):
            pass
        """
    )
    result = pytester.runpytest("--tflite-mode", "float32")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, errors=1)
    failing = "int4" if "int4" in marker else "[]invalid[]"
    result.stdout.fnmatch_lines([f"*ERROR at setup of test_m[[]{failing}*", message])


def test_plugin_can_be_disabled(pytester: pytest.Pytester):
    pytester.makepyfile(test_x=COLLECTION_TESTS)
    result = pytester.runpytest("-p", "no:tflite")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'tflite_model' not found*"])
    result.stdout.no_fnmatch_line("tflite: modes*")


# --- real conversions -------------------------------------------------------------------


def test_converts_under_every_mode_and_agrees_with_keras(project: pytest.Pytester):
    project.makepyfile(test_agree=AGREEMENT_TEST)
    result = project.runpytest("-v")
    result.assert_outcomes(passed=11, skipped=7)  # no training data: training-time modes skip
    result.stdout.fnmatch_lines(
        [f"*test_agrees_with_keras[[]{m}[]] PASSED*" for m in POST_TRAINING_MODES + QUANTIZER_MODES]
    )


def test_integer_modes_without_data_fail_readably_and_float_modes_pass(runtime_loaded, pytester):
    pytester.makeconftest(MODEL_CONFTEST)  # no tflite_representative_data
    pytester.makepyfile(test_agree=AGREEMENT_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, errors=4, skipped=7)
    for mode in ("int8", "full_int8", "int16x8", "int16_activations"):
        result.stdout.fnmatch_lines(
            [
                f"*ERROR at setup of test_agrees_with_keras[[]{mode}[]]*",
                f"ModeError: model 'tiny_dense', mode '{mode}': this mode quantizes activations "
                "and needs a representative dataset to calibrate them, but none was given. *",
                # The short summary line carries the message, not just the test id again.
                f"ERROR test_agree.py::test_agrees_with_keras[[]{mode}[]] - ModeError*",
            ]
        )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "conversion.py" not in output  # no library frames
    assert "def tflite_model" not in output


def test_long_traceback_style_keeps_the_full_traceback(runtime_loaded, pytester):
    pytester.makeconftest(MODEL_CONFTEST)
    pytester.makepyfile(test_agree=AGREEMENT_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--tflite-mode", "int8", "--tb=long")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*conversion/converter.py:*: ModeError"])


def test_missing_tflite_source_says_what_to_define(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        def test_model(tflite_model):
            pass

        def test_other():
            pass
        """
    )
    result = pytester.runpytest("--tflite-mode", "float32")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "TFLiteError: the tflite_model fixture needs a model, and no tflite_source fixture "
            "is defined. Define a fixture named tflite_source in conftest.py*"
        ]
    )


def test_tflite_convert_fixture_with_a_source_in_the_test_file(runtime_loaded, pytester):
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        DATA = np.random.default_rng(0).random((16, 3), dtype=np.float32)


        @pytest.fixture(scope="module")
        def own_model():
            import tf_keras as keras

            keras.utils.set_random_seed(1)
            return keras.Sequential(
                [keras.Input((3,), name="v"), keras.layers.Dense(2, name="out")], name="own"
            )


        def test_convert(tflite_convert, tflite_mode, own_model):
            model = tflite_convert(own_model, representative_data=DATA, name="renamed")
            assert (model.name, model.mode) == ("renamed", tflite_mode.name)
            assert model.predict(DATA).shape == (16, 2)
            assert tflite_convert(own_model, representative_data=DATA, name="renamed") is model
        """
    )
    result = pytester.runpytest("-v", "-p", "no:cacheprovider", "--tflite-mode", "float32,int8")
    result.assert_outcomes(passed=2)
    # Each (model, mode) was converted once; the second call came from memory.
    result.stdout.fnmatch_lines(["tflite: 2 converted, 0 from the disk cache, 2 reused in memory"])


# --- the conversion cache ---------------------------------------------------------------

CACHE_TESTS = """
    def test_size(tflite_model):
        assert tflite_model.size_bytes > 0


    def test_inputs(tflite_model):
        assert tflite_model.inputs
"""


def test_disk_cache_across_runs(project: pytest.Pytester):
    project.makepyfile(test_cache=CACHE_TESTS)
    modes = ("--tflite-mode", "float32,int8")
    default_cache = project.path / ".pytest_cache" / "d" / "tflite"

    first = project.runpytest("-v", *modes)
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(["tflite: 2 converted, 0 from the disk cache, 2 reused in memory"])
    assert len(tflite_files(default_cache)) == 2

    second = project.runpytest("-v", *modes)
    second.assert_outcomes(passed=4)
    second.stdout.fnmatch_lines(["tflite: 0 converted, 2 from the disk cache, 2 reused in memory"])

    no_cache = project.runpytest("-v", "--tflite-no-cache", *modes)
    no_cache.assert_outcomes(passed=4)
    no_cache.stdout.fnmatch_lines(
        [
            "tflite: modes float32, int8; targets cpu; conversion cache off",
            "tflite: 2 converted, 0 from the disk cache, *",
        ]
    )

    stray = default_cache / "stray.tflite"
    stray.write_bytes(b"not a model")
    cleared = project.runpytest("-v", "--cache-clear", *modes)
    cleared.assert_outcomes(passed=4)
    cleared.stdout.fnmatch_lines(["tflite: 2 converted, 0 from the disk cache, *"])
    assert not stray.exists()
    assert len(tflite_files(default_cache)) == 2


def test_summary_line_needs_verbose(project: pytest.Pytester):
    project.makepyfile(test_cache=CACHE_TESTS)
    result = project.runpytest("--tflite-mode", "float16", "--tflite-no-cache")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("tflite: * converted*")


@pytest.mark.parametrize("how", ["option", "ini"])
def test_cache_dir_option_and_ini(project: pytest.Pytester, how):
    project.makepyfile(test_cache=CACHE_TESTS)
    if how == "option":
        args: tuple[str, ...] = ("--tflite-cache-dir", "conv_cache")
    else:
        project.makeini("[pytest]\ntflite_cache_dir = conv_cache\n")
        args = ()
    result = project.runpytest("-v", "--tflite-mode", "dynamic_int8,full_int8", *args)
    result.assert_outcomes(passed=4)
    cache = project.path / "conv_cache"
    result.stdout.fnmatch_lines([f"tflite: modes *; conversion cache {cache}"])
    assert len(tflite_files(cache)) == 2
    assert not list(cache.rglob("*.tmp"))
    assert not tflite_files(project.path / ".pytest_cache")


def test_corrupt_cache_entry_is_converted_again(project: pytest.Pytester):
    project.makepyfile(test_cache=CACHE_TESTS)
    args = ("-v", "--tflite-mode", "float32", "--tflite-cache-dir", "conv_cache")
    project.runpytest(*args).assert_outcomes(passed=2)
    [entry] = tflite_files(project.path / "conv_cache")
    entry.write_bytes(b"truncated")
    result = project.runpytest(*args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["tflite: 1 converted, 0 from the disk cache, 1 reused in memory"])
    assert entry.read_bytes()[4:8] == b"TFL3"


def test_calibration_sample_count_is_part_of_the_cache_key(project: pytest.Pytester):
    project.makepyfile(test_cache=CACHE_TESTS)
    args = ("-v", "--tflite-mode", "int8,float16", "--tflite-cache-dir", "conv_cache")
    project.runpytest(*args).assert_outcomes(passed=4)
    fewer = project.runpytest(*args, "--tflite-calibration-samples", "8")
    fewer.assert_outcomes(passed=4)
    # Only int8 is calibrated: it converts again; float16 comes from the disk cache.
    fewer.stdout.fnmatch_lines(["tflite: 1 converted, 1 from the disk cache, 2 reused in memory"])
    assert len(tflite_files(project.path / "conv_cache")) == 3


# --- processes: xdist, import cost ------------------------------------------------------

XDIST_TESTS = """
    import numpy as np
    import pytest

    X = np.random.default_rng(1).random((16, 8, 8), dtype=np.float32)


    def test_agrees_with_keras(tflite_model, keras_model):
        expected = keras_model.predict(X, verbose=0)
        error = abs(tflite_model.predict(X) - expected).max()
        assert error <= 0.1 * abs(expected).max()


    def test_float_io(tflite_model):
        assert [t.dtype for t in tflite_model.inputs] == ["float32"]


    @pytest.mark.tflite(modes=["float16", "int8"])
    def test_marked(tflite_model, tflite_mode):
        assert tflite_model.mode == tflite_mode.name


    def test_skips_integer_modes(tflite_mode):
        if "int" in tflite_mode.name:
            pytest.skip("integer mode")
"""


@pytest.mark.slow
def test_xdist_with_shared_cache_matches_serial_run(project: pytest.Pytester):
    project.makepyfile(test_dist=XDIST_TESTS)
    serial = project.runpytest("--tflite-no-cache", "--junitxml=serial.xml")
    # Training-time modes skip (no training data) and count among the integer modes.
    serial.assert_outcomes(passed=29, failed=1, skipped=26)
    expected = junit_outcomes(project.path / "serial.xml")
    assert expected["test_dist::test_float_io[full_int8]"] == "failure"
    assert len(expected) == 56

    shared = project.path / "shared_cache"
    result = project.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "-v", "--tflite-cache-dir", str(shared), "--junitxml=xdist.xml"
    )
    result.stdout.fnmatch_lines(["*2 workers [[]56 items[]]*"])
    # The file lock lets one worker convert each mode; the counts come back from the workers.
    result.stdout.fnmatch_lines(["tflite: 11 converted, *"])
    result.assert_outcomes(passed=29, failed=1, skipped=26)
    assert junit_outcomes(project.path / "xdist.xml") == expected
    # Both workers converted into one folder: one entry per mode, no leftovers.
    entries = {path: (path.stat().st_ino, path.stat().st_mtime_ns) for path in tflite_files(shared)}
    assert len(entries) == len(POST_TRAINING_MODES + QUANTIZER_MODES)
    assert not list(shared.rglob("*.tmp"))

    # Again on the warm cache: the workers read the entries and rewrite none of them.
    again = project.runpytest_subprocess(
        "-n", "2", "-p", "xdist", "-v", "--tflite-cache-dir", str(shared), "--junitxml=again.xml"
    )
    again.assert_outcomes(passed=29, failed=1, skipped=26)
    again.stdout.fnmatch_lines(["tflite: 0 converted, * from the disk cache, *"])
    assert junit_outcomes(project.path / "again.xml") == expected
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in tflite_files(shared)} == entries


def test_importing_the_plugin_does_not_import_tensorflow(pytester: pytest.Pytester):
    code = (
        "import sys, pytest_tflite.plugin, pytest_tflite; "
        "print(any(m.split('.')[0] == 'tensorflow' for m in sys.modules))"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0
    assert result.outlines == ["False"]


def test_run_without_model_tests_does_not_import_tensorflow(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import sys

        HEAVY = ("tensorflow", "tf_keras", "keras", "ai_edge_litert")

        def loaded():
            return sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))

        def test_plain():
            assert loaded() == []

        def test_session_fixture_is_cheap(tflite_session):
            assert tflite_session.selected_modes()
            assert loaded() == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["tflite: modes all *"])


NATIVE_LINES = ("fully_quantize", "XNNPACK delegate", "oneDNN", "cuInit")


def test_native_log_lines_stay_off_the_terminal_unless_asked_for(pytester: pytest.Pytester):
    pytester.makepyfile(
        """
        import numpy as np

        def test_convert_and_run():
            from pytest_tflite import Converter
            from pytest_tflite.conversion.tf_loader import tensorflow

            tensorflow()
            import tf_keras as keras

            model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
            data = np.random.default_rng(0).random((8, 8), dtype=np.float32)
            converted = Converter().convert(model, "full_int8", representative_data=data)
            assert converted.predict(data).shape == (8, 4)
        """
    )
    quiet = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    quiet.assert_outcomes(passed=1)
    output = quiet.stdout.str() + quiet.stderr.str()
    assert not [word for word in NATIVE_LINES if word in output]
    shown = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "--tflite-native-log")
    shown.assert_outcomes(passed=1)
    assert "fully_quantize" in shown.stdout.str() + shown.stderr.str()
