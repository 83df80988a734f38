"""Latency through pytest-benchmark: real conversions timed in real pytest sessions, the
pytest-benchmark flags a user relies on, and the start-up checks of a comparison."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from support import TOY_BUILD

from pytest_tflite.gate.versions import current_versions
from pytest_tflite.latency import Latency, extra_info, figures, fixed_inputs, prepare

MODELS = """
    import numpy as np
    from pytest_tflite import DeclaredModel

    X = np.random.default_rng(0).random((32, 8), dtype=np.float32)
    WIDTH = {width}

{build}

    toy = DeclaredModel("toy", source=build, representative_data=X, modes={modes})
"""

CUSTOM = """
    import numpy as np
    import pytest


    @pytest.fixture
    def tflite_source():
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((8,), name="x"), keras.layers.Dense(4)], name="custom")


    @pytest.mark.tflite(modes=["float32"])
    @pytest.mark.benchmark(group="mine")
    def test_custom(tflite_benchmark, tflite_model):
        timed = tflite_benchmark(tflite_model, inputs=np.ones((3, 8), np.float32))
        assert timed.rounds >= 5 and 0 < timed.min_ms <= timed.median_ms
"""

INI = "[pytest]\ntflite_targets = cpu edgetpu\n"
QUICK = ("--benchmark-max-time=0.05", "--benchmark-min-rounds=5")
SLOWER = 65536  # hidden units: some 50,000 times the work of the tiny model's 16


@pytest.fixture
def repo(runtime_loaded, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A model repository; its runs are not pytest-xdist workers, even when this one is
    (pytest-benchmark reads that from the environment and would time nothing)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeini(INI)
    write_models(pytester)
    return pytester


def write_models(pytester: pytest.Pytester, width: int = 16, modes: tuple[str, ...] = ("float32", "int8")) -> None:
    pytester.makepyfile(tflite_models=MODELS.format(width=width, modes=list(modes), build=TOY_BUILD))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-rs", *args)


def properties(path, name: str) -> list[tuple[str, str]]:
    cases = {c.get("name"): c for c in ET.parse(path).getroot().iter("testcase")}
    return [(p.get("name"), p.get("value")) for p in cases[name].iter("property")]


def test_each_mode_of_a_declared_model_is_timed_once_on_the_host_cpu(repo):
    listed = run(repo, "--collect-only", "-q", "-k", "latency")
    assert [line.split("::", 1)[1] for line in listed.outlines if "::" in line] == [
        "toy::test_latency[float32]",
        "toy::test_latency[int8]",
    ]
    result = run(
        repo, "-k", "latency", *QUICK, "--tflite-threads", "2", "--tflite-warmup", "3",
        "--benchmark-json=bench.json", "--junitxml=report.xml",
    )
    result.assert_outcomes(passed=2)
    saved = {b["name"]: b for b in json.loads((repo.path / "bench.json").read_text())["benchmarks"]}
    assert sorted(saved) == ["test_latency[float32]", "test_latency[int8]"]
    for mode in ("float32", "int8"):
        bench = saved[f"test_latency[{mode}]"]
        assert bench["group"] == "toy"
        info = bench["extra_info"]
        assert (info["model"], info["mode"], info["target"], info["threads"]) == ("toy", mode, "cpu", 2)
        assert info["size_bytes"] > 1000 and info["versions"] == current_versions()
        assert bench["stats"]["rounds"] >= 5
        values = dict(properties(repo.path / "report.xml", f"test_latency[{mode}]"))
        assert (values["tflite_model"], values["tflite_mode"]) == ("toy", mode)
        for name in ("median", "mean", "stddev", "min"):
            assert float(values[f"tflite_latency_{name}_ms"]) == pytest.approx(bench["stats"][name] * 1000, rel=1e-5)
        assert int(values["tflite_latency_rounds"]) == bench["stats"]["rounds"]


def test_the_fixture_times_a_given_sample_and_returns_the_figures(repo):
    repo.makepyfile(test_custom=CUSTOM)
    result = run(repo, "test_custom.py", *QUICK, "--benchmark-json=bench.json")
    result.assert_outcomes(passed=1)
    (bench,) = json.loads((repo.path / "bench.json").read_text())["benchmarks"]
    assert bench["name"] == "test_custom[float32]" and bench["group"] == "mine"
    assert bench["extra_info"]["model"] == "custom" and bench["extra_info"]["threads"] == 1


@pytest.mark.slow
def test_a_model_made_much_slower_fails_the_comparison_with_the_saved_run(repo):
    write_models(repo, modes=("float32",))
    saved = repo.runpytest_subprocess("-p", "no:cacheprovider", "-k", "latency", *QUICK, "--benchmark-autosave")
    saved.assert_outcomes(passed=1)
    assert len(list((repo.path / ".benchmarks").glob("*/0001_*.json"))) == 1
    write_models(repo, width=SLOWER, modes=("float32",))
    compared = repo.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "latency", *QUICK,
        "--benchmark-compare", "--benchmark-compare-fail=median:10%",
    )
    assert compared.ret != 0
    compared.stderr.fnmatch_lines(
        ["Performance has regressed:", "*test_latency[[]float32[]] (0001_*) - Field 'median' has failed*"]
    )


def test_benchmark_disable_runs_the_model_once_and_records_no_figures(repo):
    result = run(repo, "-k", "latency", "--benchmark-disable", "--benchmark-json=bench.json", "--junitxml=report.xml")
    result.assert_outcomes(passed=2)
    assert not (repo.path / "bench.json").exists()  # pytest-benchmark writes nothing when nothing ran
    recorded = dict(properties(repo.path / "report.xml", "test_latency[int8]"))
    assert recorded["tflite_mode"] == "int8" and not [n for n in recorded if n.startswith("tflite_latency")]


def test_benchmark_skip_skips_the_latency_checks_before_converting(repo):
    result = run(repo, "-k", "latency", "--benchmark-skip", "-v")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*Skipping benchmark (--benchmark-skip active)*"])
    result.stdout.no_fnmatch_line("tflite: * converted*")


def test_without_pytest_benchmark_the_latency_checks_are_skipped(repo):
    result = run(repo, "-k", "latency", "-p", "no:benchmark")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED * latency needs pytest-benchmark, turned off by -p no:benchmark"])


@pytest.mark.slow
def test_under_xdist_the_controller_says_once_that_latency_was_not_measured(repo):
    result = repo.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-k", "latency")
    result.assert_outcomes(passed=2)
    notice = [line for line in result.outlines if "latency not measured" in line]
    assert notice == [
        "tflite: latency not measured in 2 test(s): pytest-benchmark turns itself off under "
        "pytest-xdist (-n); time them in a serial run: pytest -n 0 -k latency"
    ]
    skipped = repo.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-k", "latency", "--benchmark-skip")
    skipped.assert_outcomes(skipped=2)
    skipped.stdout.no_fnmatch_line("*latency not measured*")


def test_the_serial_command_of_the_notice_times_them(repo):
    result = run(repo, "-n", "0", "-k", "latency", *QUICK, "--benchmark-json=bench.json")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*latency not measured*")
    assert len(json.loads((repo.path / "bench.json").read_text())["benchmarks"]) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark-compare"], "*--benchmark-compare: no saved benchmark run in *.benchmarks*--benchmark-autosave*"),
        (["--benchmark-compare=0007"], "*no saved benchmark run matching '0007' in *.benchmarks*"),
        (["--benchmark-compare-fail=median:10%"], "*--benchmark-compare-fail needs a saved run*--benchmark-compare*"),
        (["--tflite-threads", "0"], "*--tflite-threads: 0 is not at least 1*"),
        (["--tflite-warmup", "many"], "*--tflite-warmup: 'many' is not a whole number*"),
    ],
)
def test_bad_latency_options_stop_the_run_at_start_up(repo, args, message):
    result = run(repo, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (repo.path / ".benchmarks").exists() or not any((repo.path / ".benchmarks").rglob("*.json"))


def test_an_unreadable_last_run_stops_a_comparison_instead_of_using_an_older_one(repo):
    runs = repo.path / ".benchmarks"
    runs.mkdir()
    (runs / "0001_good.json").write_text(json.dumps({"machine_info": {}, "commit_info": {}, "benchmarks": []}))
    (runs / "0002_cut.json").write_text('{"benchmarks": [')
    result = run(repo, "--benchmark-compare")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*saved benchmark run *0002_cut.json cannot be used: it is not valid JSON*Delete it*"])
    (runs / "0002_cut.json").write_text(json.dumps({"results": []}))
    result = run(repo, "--benchmark-compare=0002")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*0002_cut.json cannot be used: it does not hold pytest-benchmark results*"])


def test_a_bad_ini_setting_is_a_usage_error(repo):
    repo.makeini(INI + "tflite_warmup = -1\n")
    result = run(repo)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini tflite_warmup: -1 is not at least 0*"])


# --- the pieces, without a pytest session --------------------------------------------------


def test_fixed_inputs_follow_the_model_and_never_change(tiny_tflite):
    for mode in ("float32", "full_int8"):
        model = tiny_tflite(mode)
        first, again = fixed_inputs(model), fixed_inputs(model)
        assert list(first) == ["x"] and first["x"].shape == (1, 8, 8)
        assert np.array_equal(first["x"], again["x"])


def test_a_prepared_runner_is_loaded_and_gives_what_predict_gives(tiny_tflite):
    model = tiny_tflite("float32")
    runner = prepare(model, threads=2, warmup=2)
    runner.invoke()
    np.testing.assert_allclose(runner.outputs()[0], model.predict(fixed_inputs(model)["x"]), rtol=1e-6)


def test_extra_info_names_the_model_and_the_toolchain(tiny_tflite):
    model = tiny_tflite("full_int8")
    info = extra_info(model, threads=3)
    assert info == {
        "model": model.name,
        "mode": "full_int8",
        "target": "cpu",
        "kernels": "xnnpack",
        "threads": 3,
        "size_bytes": model.size_bytes,
        "versions": current_versions(),
    }


def test_figures_are_pytest_benchmarks_statistics_in_milliseconds():
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for seconds in (0.002, 0.001, 0.004, 0.001):
        stats.update(seconds)
    timed = figures(stats)
    assert timed == Latency(median_ms=1.5, mean_ms=2.0, stddev_ms=1.41421, min_ms=1.0, rounds=4)
    assert timed.properties()["tflite_latency_median_ms"] == 1.5
    assert set(timed.properties()) == {
        f"tflite_latency_{name}" for name in ("median_ms", "mean_ms", "stddev_ms", "min_ms", "rounds")
    }
    assert figures(None) is None and figures(Stats()) is None


def test_the_latency_table_shows_the_median_and_its_spread_unless_told_otherwise(repo):
    narrow = run(repo, "-k", "latency and float32", *QUICK)
    narrow.assert_outcomes(passed=1)
    header = next(line for line in narrow.outlines if line.startswith("Name (time in"))
    assert header.split(")", 1)[1].split() == ["Median", "IQR", "Rounds"]
    table = narrow.outlines[narrow.outlines.index(header) - 2 :]
    assert max(len(line) for line in table[: table.index("Legend:")]) <= 100
    chosen = run(repo, "-k", "latency and float32", *QUICK, "--benchmark-columns", "min,max")
    header = next(line for line in chosen.outlines if line.startswith("Name (time in"))
    assert header.split(")", 1)[1].split() == ["Min", "Max"]
