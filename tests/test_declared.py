"""Declared models from a user's point of view: a model repository of its own, real
pytest sessions, real conversions, and golden baselines on disk."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from support import TOY_BUILD

from pytest_tflite import Budget, DeclaredModel
from pytest_tflite.errors import TFLiteError
from pytest_tflite.gate.budget import Budget as BudgetClass

MODELS = """
    import numpy as np
    from pytest_tflite import Budget, DeclaredModel

    X = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    WIDTH = {width}

{build}

    def evaluation():
        # Labels from the float model itself: float32 scores 100 %, int8 close to it.
        return X, build().predict(X, verbose=0).argmax(axis=1)


    toy = DeclaredModel(
        "toy",
        source=build,
        representative_data=X,
        evaluation_data=evaluation,
        modes=["float32", "int8"],
        budget=Budget(min_accuracy={min_accuracy}),
    )
"""

INI = "[pytest]\ntflite_targets = cpu edgetpu\naddopts = --benchmark-skip\n"  # latency: test_latency.py
IDS = [
    "toy::test_converts[float32]",
    "toy::test_converts[int8]",
    "toy::test_size[float32]",
    "toy::test_size[int8]",
    "toy::test_accuracy[float32]",
    "toy::test_accuracy[int8]",
    "toy::test_compatible[float32-cpu]",
    "toy::test_compatible[float32-edgetpu]",
    "toy::test_compatible[int8-cpu]",
    "toy::test_compatible[int8-edgetpu]",
    "toy::test_latency[float32]",
    "toy::test_latency[int8]",
]


@pytest.fixture
def repo(runtime_loaded, pytester: pytest.Pytester) -> pytest.Pytester:
    """A model repository with one declared model and two targets."""
    pytester.makeini(INI)
    write_models(pytester)
    return pytester


def write_models(pytester: pytest.Pytester, width: int = 16, min_accuracy: float = 0.5) -> None:
    pytester.makepyfile(tflite_models=MODELS.format(width=width, min_accuracy=min_accuracy, build=TOY_BUILD))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", "-rs", *args)


def baseline(pytester: pytest.Pytester, mode: str) -> dict:
    return json.loads((pytester.path / "golden" / "toy" / f"{mode}.json").read_text())


def test_checks_are_generated_per_model_mode_and_target(repo):
    result = repo.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == 0
    ids = [line.split("::", 1)[1] for line in result.outlines if line.startswith("tflite_models.py::")]
    assert ids == IDS


@pytest.mark.slow
def test_first_run_asks_for_baselines_update_writes_them_and_the_next_run_passes(repo):
    first = run(repo)
    first.assert_outcomes(passed=2, failed=7, skipped=3)
    first.stdout.fnmatch_lines(
        [
            "*BaselineFailure: model 'toy', mode 'int8': no golden baseline in "
            "*golden/toy/int8.json. Create it with pytest --tflite-update-golden "
            "'tflite_models.py::toy::test_size[[]int8[]]', then commit *golden/toy/int8.json (one run with "
            "--tflite-update-golden records every missing baseline: the run's summary names it).",
        ]
    )
    first.stdout.fnmatch_lines(
        ["tflite: 7 check(s) have no golden baseline yet; record them all in one run: pytest * --tflite-update-golden"]
    )
    first.stdout.fnmatch_lines(["SKIPPED [[]1[]] tflite_models.py: the Edge TPU cannot run float32 arithmetic*"])
    first.stdout.no_fnmatch_line("SKIPPED * *collector.py*")
    assert not (repo.path / "golden").exists()

    update = run(repo, "--tflite-update-golden")
    update.assert_outcomes(passed=9, skipped=3)
    int8 = baseline(repo, "int8")
    assert int8["schema_version"] == 1 and int8["model"] == "toy" and int8["mode"] == "int8"
    assert int8["metric"]["name"] == "accuracy" and int8["float32_value"] == 1.0
    assert set(int8["targets"]) == {"cpu", "edgetpu"}
    assert int8["targets"]["edgetpu"]["verdict"] == "partial"
    assert int8["op_histogram"]["FULLY_CONNECTED"] == 2
    assert {"tensorflow", "ai_edge_litert", "pytest_tflite"} <= set(int8["versions"])
    text = (repo.path / "golden" / "toy" / "int8.json").read_text()
    assert text.endswith("}\n") and text == json.dumps(int8, indent=2, sort_keys=True) + "\n"
    assert sorted(p.name for p in (repo.path / "golden" / "toy").iterdir()) == ["float32.json", "int8.json"]

    run(repo).assert_outcomes(passed=9, skipped=3)


def test_an_update_that_changes_nothing_rewrites_nothing(repo):
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    path = repo.path / "golden" / "toy" / "int8.json"
    before = path.stat()
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    after = path.stat()
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)


@pytest.mark.slow
def test_a_model_that_grows_fails_with_a_table_and_one_that_shrinks_passes(repo):
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    write_models(repo, width=64)
    grown = run(repo, "-k", "test_size")
    grown.assert_outcomes(failed=2)
    grown.stdout.fnmatch_lines(
        [
            "*BaselineFailure: model 'toy', mode 'float32': worse than its golden baseline or "
            "over budget: size_bytes, gzip_size_bytes. If the change is intended*",
            "*metric*golden*measured*delta*budget*verdict*",
            "*size_bytes*<= golden + 1%*fail*",
        ]
    )
    write_models(repo, width=8)
    smaller = run(repo, "-k", "test_size", "-v")
    smaller.assert_outcomes(passed=2)


@pytest.mark.slow
def test_an_update_refuses_a_value_that_breaks_a_budget(repo):
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    before = (repo.path / "golden" / "toy" / "int8.json").read_text()
    write_models(repo, min_accuracy=1.01)
    refused = run(repo, "--tflite-update-golden", "-k", "test_accuracy")
    refused.assert_outcomes(failed=2)
    refused.stdout.fnmatch_lines(
        ["*refusing to record a baseline that breaks its budget (accuracy). Updating baselines never loosens a gate*"]
    )
    assert (repo.path / "golden" / "toy" / "int8.json").read_text() == before


@pytest.mark.slow
def test_a_damaged_baseline_fails_its_tests_only_and_is_left_alone(repo):
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    damaged = repo.path / "golden" / "toy" / "int8.json"
    damaged.write_text('{"schema_version": 1, "size_bytes": ')
    result = run(repo)
    result.assert_outcomes(passed=5, failed=4, skipped=3)
    result.stdout.fnmatch_lines(["*GoldenError*golden/toy/int8.json*"])
    assert damaged.read_text() == '{"schema_version": 1, "size_bytes": '
    damaged.write_text(json.dumps({"schema_version": 99}))
    result = run(repo, "-k", "int8 and test_size")
    result.stdout.fnmatch_lines(["*GoldenError*int8.json*schema*99*"])
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    assert baseline(repo, "int8")["schema_version"] == 1


def test_measurements_reach_the_junit_report(repo):
    run(repo, "--tflite-update-golden", f"--junitxml={repo.path / 'report.xml'}")
    cases = {c.get("name"): c for c in ET.parse(repo.path / "report.xml").getroot().iter("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["test_accuracy[int8]"].iter("property")}
    assert float(props["tflite_accuracy"]) == pytest.approx(baseline(repo, "int8")["metric"]["value"])
    assert int(props["tflite_size_bytes"]) == baseline(repo, "int8")["size_bytes"]
    assert "tflite_fidelity_sqnr_db" in props
    placement = {p.get("name"): p.get("value") for p in cases["test_compatible[int8-edgetpu]"].iter("property")}
    assert placement["tflite_edgetpu_verdict"] == "partial"


@pytest.mark.slow
def test_baselines_no_test_used_are_listed_after_a_full_run(repo):
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    gone = repo.path / "golden" / "retired" / "int8.json"
    gone.parent.mkdir()
    gone.write_text(json.dumps({"schema_version": 1}))
    result = run(repo)
    result.stdout.fnmatch_lines(
        ["tflite: 1 golden baseline(s) no test used (a model or mode that is gone?):", "  golden/retired/int8.json"]
    )
    for narrowing in (("-k", "test_size"), ("tflite_models.py::toy",), ("-x", "--tflite-golden-dir", "other")):
        run(repo, *narrowing).stdout.no_fnmatch_line("*no test used*")


def test_an_update_records_only_what_its_check_judged(repo):
    repo.makeini(INI + "tflite_budgets =\n    toy/int8: max_size_bytes=100\n")
    result = run(repo, "--tflite-update-golden", "-k", "int8")
    result.assert_outcomes(passed=4, failed=1, skipped=1)  # test_size refuses; accuracy and placement record
    recorded = baseline(repo, "int8")
    assert "size_bytes" not in recorded and "gzip_size_bytes" not in recorded
    assert recorded["metric"]["name"] == "accuracy" and set(recorded["targets"]) == {"cpu", "edgetpu"}


def test_ini_budgets_override_the_declared_ones(repo):
    repo.makeini(INI + "tflite_budgets =\n    toy/int8: max_size_bytes=100\n")
    run(repo, "--tflite-update-golden", "-k", "test_size and float32").assert_outcomes(passed=1)
    refused = run(repo, "--tflite-update-golden", "-k", "test_size and int8")
    refused.assert_outcomes(failed=1)
    refused.stdout.fnmatch_lines(["*size_bytes*<= 100*fail*"])


def test_a_bad_budget_line_is_a_usage_error(repo):
    repo.makeini(INI + "tflite_budgets =\n    int8: max_sise_bytes=1\n")
    result = run(repo)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini tflite_budgets:*max_sise_bytes*"])


@pytest.mark.slow
def test_two_xdist_workers_record_one_baseline_together(repo):
    result = repo.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "--tflite-update-golden", "-k", "test_compatible and int8"
    )
    result.assert_outcomes(passed=2)
    assert set(baseline(repo, "int8")["targets"]) == {"cpu", "edgetpu"}
    rerun = repo.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-k", "test_compatible and int8")
    rerun.assert_outcomes(passed=2)


# --- the declaration itself ---------------------------------------------------------------


def test_a_declaration_needs_a_name_and_budget_objects():
    with pytest.raises(TFLiteError, match="needs a name"):
        DeclaredModel("", source=None)
    with pytest.raises(TFLiteError, match="budgets must be Budget objects, not dict"):
        DeclaredModel("m", source=None, budgets={"int8": {"min_accuracy": 0.9}})


def test_per_mode_budgets_override_the_model_budget():
    declared = DeclaredModel(
        "m",
        source=None,
        budget=Budget(min_accuracy=0.9, max_size_bytes=1000),
        budgets={"int8": Budget(min_accuracy=0.85)},
    )
    assert declared.budget_for("int8") == BudgetClass(min_accuracy=0.85, max_size_bytes=1000)
    assert declared.budget_for("float16") == BudgetClass(min_accuracy=0.9, max_size_bytes=1000)


def test_declared_golden_tolerances_survive_the_defaults(tmp_path):
    from pytest_tflite.gate.baseline import Gate
    from pytest_tflite.gate.budget import parse_budget_lines

    declared = Budget(golden_size_tolerance=0.05, golden_accuracy_tolerance=0.02, golden_on_target_tolerance=3)
    gate = Gate(tmp_path, budgets=parse_budget_lines(["int8: golden_on_target_tolerance=1"]))
    budget = gate.budget("m", "int8", declared)
    assert (budget.golden_size_tolerance, budget.golden_accuracy_tolerance) == (0.05, 0.02)
    assert budget.golden_on_target_tolerance == 1  # the ini scope is more specific
    assert gate.budget("m", "float16").golden_size_tolerance == 0.01  # the documented default


def test_a_plain_function_is_a_metric_named_after_it():
    def mean_score(outputs, labels):
        return 0.5

    declared = DeclaredModel("m", source=None, metric=mean_score)
    assert declared.metric.name == "mean_score" and declared.metric.higher_is_better
    with pytest.raises(TFLiteError, match="metric must be a Metric or a function"):
        DeclaredModel("m", source=None, metric="accuracy")


def test_factories_are_called_once_and_models_are_not():
    calls = []

    def make():
        calls.append(1)
        return "made"

    declared = DeclaredModel("m", source=make, evaluation_data=lambda: calls.append(2) or "data")
    assert declared.resolved("source") == "made" and declared.resolved("source") == "made"
    assert declared.resolved("evaluation_data") == "data"
    assert calls == [1, 2]
    keep = DeclaredModel("m", source=None, representative_data=make)
    assert keep.resolved("representative_data") is make  # calibration takes functions itself


def test_duplicate_names_in_one_module_are_refused(repo):
    repo.makepyfile(
        tflite_models="""
        from pytest_tflite import DeclaredModel
        a = DeclaredModel("same", source=None)
        b = DeclaredModel("same", source=None)
        """
    )
    result = run(repo, "--collect-only")
    result.stdout.fnmatch_lines(["*declares more than one model called same*"])


def test_names_that_share_a_baseline_folder_are_refused_at_collection(runtime_loaded, pytester, tiny_tflite_file):
    pytester.makeini(INI)
    pytester.makepyfile(
        tflite_models=f"""
        from pytest_tflite import DeclaredModel

        a = DeclaredModel("toy a", source={str(tiny_tflite_file)!r}, modes=["float32"])
        b = DeclaredModel("toy/a", source={str(tiny_tflite_file)!r}, modes=["float32"])
        c = DeclaredModel("toy_b", source={str(tiny_tflite_file)!r}, modes=["float32"])
        """
    )
    result = run(pytester, "--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*baselines would share one folder: 'toy a' and 'toy/a'*"])


def test_a_budget_scope_that_names_nothing_warns_at_collection(repo):
    repo.makeini(INI + "tflite_budgets =\n    tyo/int8: max_size_bytes=100\n    toy/int8: max_size_bytes=100000\n")
    result = run(repo, "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*scope 'tyo/int8' names no declared model and no mode*declared: toy*"])
    assert "'toy/int8' names" not in result.stdout.str()


def test_an_unknown_mode_fails_only_its_own_tests(runtime_loaded, pytester, tiny_tflite_file):
    pytester.makeini("[pytest]\ntflite_targets = cpu\naddopts = --benchmark-skip\n")
    pytester.makepyfile(
        tflite_models=f"""
        from pytest_tflite import DeclaredModel

        m = DeclaredModel("m", source={str(tiny_tflite_file)!r}, modes=["float32", "flaot16"])
        """
    )
    result = run(pytester, "--tflite-update-golden")
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 4 and outcomes["passed"] >= 2, result.stdout.str()
    errors = [line for line in result.outlines if line.startswith("ERROR")]
    assert all("[flaot16" in line and "ModeError" in line for line in errors), errors


KILL_AFTER_SIZE = """
import os
import signal


def pytest_runtest_logfinish(nodeid, location):
    if nodeid.endswith("toy::test_size[float32]"):
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_update_leaves_its_baselines_marked_and_the_next_run_says_so(repo):
    repo.makeconftest(KILL_AFTER_SIZE)
    killed = repo.runpytest_subprocess("-p", "no:cacheprovider", "--tflite-update-golden")
    assert killed.ret == -9
    assert baseline(repo, "float32")["update_in_progress"]
    (repo.path / "conftest.py").unlink()
    compared = run(repo, "-k", "test_size and float32")
    compared.assert_outcomes(failed=1)
    compared.stdout.fnmatch_lines(["*was written by an update that did not finish*"])
    run(repo, "--tflite-update-golden").assert_outcomes(passed=9, skipped=3)
    assert "update_in_progress" not in baseline(repo, "float32")
    run(repo, "-k", "test_size").assert_outcomes(passed=2)


def test_a_skip_points_at_the_line_that_declares_the_model(tmp_path):
    from pytest_tflite.declared.collector import declaration_line

    path = tmp_path / "tflite_models.py"
    path.write_text("import x\n\nother = DeclaredModel('other', source=1)\ntoy = DeclaredModel(\"toy\", source=2)\n")
    assert declaration_line(path, "toy") == (path, 4)
    assert declaration_line(path, "gone") == (path, 1)


FILE_MODELS = """
    import numpy as np
    from pytest_tflite import DeclaredModel

    X = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    Y = np.random.default_rng(1).integers(0, 4, 64)


    def calibration():
        return X


    toy = DeclaredModel(
        "toy",
        source={path!r},
        representative_data=calibration,
        training_data=(X, Y),
        evaluation_data=(X, Y),
        compile_config={{"loss": "sparse_categorical_crossentropy"}},
        modes=["float32", "int8", "pruned"],
    )
"""
RECORD_IMPORTS = """
    import sys

    def pytest_sessionfinish(session):
        loaded = sorted({m.split(".")[0] for m in sys.modules} & {"tensorflow", "tf_keras", "keras"})
        (session.config.rootpath / "loaded.txt").write_text(" ".join(loaded) or "none")
"""


@pytest.mark.slow
def test_a_run_whose_conversions_are_all_cached_loads_no_tensorflow(runtime_loaded, pytester, tf_keras):
    """The second run answers every conversion from the cache folder by the request alone
    (the file's bytes, the mode, the data as given), so it loads neither the model nor
    TensorFlow; its outcomes are the first run's."""
    model = tf_keras.Sequential([tf_keras.Input((8,), name="x"), tf_keras.layers.Dense(4, name="out")], name="toy")
    model.save(pytester.path / "toy.keras")
    pytester.makeini(INI)
    pytester.makeconftest(RECORD_IMPORTS)
    pytester.makepyfile(tflite_models=FILE_MODELS.format(path=str(pytester.path / "toy.keras")))
    args = ("-p", "no:cacheprovider", "--tflite-cache-dir", str(pytester.path / "cache"))

    first = pytester.runpytest_subprocess(*args, "--tflite-update-golden")
    first.assert_outcomes(passed=13, skipped=5)
    assert (pytester.path / "loaded.txt").read_text() != "none"

    again = pytester.runpytest_subprocess(*args, "-v")
    again.assert_outcomes(passed=13, skipped=5)
    again.stdout.fnmatch_lines(["tflite: 0 converted, * from the disk cache*"])
    assert (pytester.path / "loaded.txt").read_text() == "none"


def test_the_checks_of_a_model_under_one_mode_share_a_pytest_xdist_worker(repo):
    """So the workers convert different modes side by side instead of waiting on the lock
    of the conversion another worker is running."""
    result = repo.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v", "--tflite-update-golden")
    result.assert_outcomes(passed=9, skipped=3)
    workers: dict[str, set[str]] = {}
    for line in result.outlines:
        match = re.match(r"\[(gw\d)\] .* tflite_models.py::toy::test_\w+\[(\w+)", line)
        if match:
            workers.setdefault(match.group(2), set()).add(match.group(1))
    assert sorted(workers) == ["float32", "int8"]
    assert all(len(found) == 1 for found in workers.values()), workers


@pytest.mark.parametrize(
    ("nodeid", "unit"),
    [
        ("tflite_models.py::toy::test_size[int8]", "tflite_models.py::toy::int8"),
        ("models/tflite_models.py::toy::test_compatible[qat_int8-ethos-u55]", "models/tflite_models.py::toy::qat_int8"),
        ("test_plain.py::test_x[int8]", "test_plain.py::test_x[int8]"),
        ("tflite_models.py::test_helper", "tflite_models.py::test_helper"),
    ],
)
def test_a_work_unit_is_a_declared_model_under_one_mode(nodeid, unit):
    from pytest_tflite.declared.scheduling import work_unit

    assert work_unit(nodeid, ["tflite_models.py"]) == unit
