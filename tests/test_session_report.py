"""The session report: the table at the end of a run and the report files, from real
pytest sessions over a model repository of two tiny declared models."""

from __future__ import annotations

import json
import sys

import pytest

from pytest_tflite.report import files, summary, table
from pytest_tflite.report import format as fmt
from pytest_tflite.report.rows import Results

MODELS = """
    import numpy as np
    from pytest_tflite import DeclaredModel

    X = np.random.default_rng(0).random((32, 8), dtype=np.float32)


    def build(width):
        import tf_keras as keras

        keras.utils.set_random_seed(0)
        return keras.Sequential(
            [keras.Input((8,), name="x"), keras.layers.Dense(width, activation="relu", name="h"),
             keras.layers.Dense(4, name="out")],
            name=f"dense{width}",
        )


    def labelled(width):
        # Labels from the float model itself: float32 scores 100 %.
        return lambda: (X, build(width).predict(X, verbose=0).argmax(axis=1))


    narrow = DeclaredModel(
        "narrow", source=lambda: build(8), representative_data=X, evaluation_data=labelled(8),
        modes=["float32", "int8"],
    )
    # Only the GPU, which this run does not select: its modes get rows without a target.
    wide = DeclaredModel(
        "wide", source=lambda: build(16), representative_data=X, evaluation_data=labelled(16),
        modes=["float32", "int8"], targets=["gpu"],
    )
"""

INI = "[pytest]\ntflite_targets = cpu edgetpu\n"
ROWS = [
    ("narrow", "float32", "cpu"),
    ("narrow", "float32", "edgetpu"),
    ("narrow", "int8", "cpu"),
    ("narrow", "int8", "edgetpu"),
    ("wide", "float32", None),
    ("wide", "int8", None),
]
FAST_LATENCY = ("--benchmark-max-time=0.02", "--benchmark-min-rounds=3")


@pytest.fixture
def repo(runtime_loaded, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A model repository; its in-process runs time latency also when this run is a
    pytest-xdist worker (pytest-benchmark reads that from the environment)."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    pytester.makeini(INI)
    pytester.makepyfile(tflite_models=MODELS)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:cacheprovider", *FAST_LATENCY, *args)


def table_lines(result: pytest.RunResult) -> list[str]:
    """The lines of the terminal table, header first."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "tflite report" in line) + 1
    end = next(i for i in range(start, len(lines)) if " rows: " in lines[i])
    return [lines[start]] + lines[start + 2 : end]


def row_cells(line: str) -> list[str]:
    return line.split()


def terminal_blocks(result: pytest.RunResult) -> dict[str, list[str]]:
    """The default table: model -> its lines (the header, the rows, a folded skip line)."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "tflite report" in line) + 1
    end = next(i for i in range(start, len(lines)) if " rows: " in lines[i])
    blocks: dict[str, list[str]] = {}
    for line in lines[start:end]:
        if not line.startswith(" "):
            blocks[line] = []
        elif not set(line.strip()) <= {"-", " "}:
            blocks[list(blocks)[-1]].append(line.strip())
    return blocks


def comparable(document: dict) -> list[dict]:
    """Rows without what only timing can tell (latency is measured in serial runs only)."""
    return [
        {
            **{k: row[k] for k in ("model", "mode", "target", "verdict", "failed_checks", "reason")},
            "checks": {k: v for k, v in row["checks"].items() if k != "latency"},
            "values": {k: v for k, v in row["values"].items() if not k.startswith("latency")},
        }
        for row in document["rows"]
    ]


# --- real sessions ------------------------------------------------------------------------


def test_a_run_shows_the_table_and_writes_the_three_files(repo):
    result = run(
        repo, "--tflite-update-golden",
        "--tflite-report", "report.md", "--tflite-report", "report.json", "--tflite-report", "report.html",
    )
    assert result.ret == 0
    blocks = terminal_blocks(result)
    assert list(blocks) == ["narrow", "wide"]
    for model, lines in blocks.items():
        assert row_cells(lines[0])[:4] == ["mode", "target", "size", "Δ"]
        assert "gzip" not in lines[0] and "why" not in lines[0] and "latency" in lines[0]
        shown = [(model, *row_cells(line)[:2]) for line in lines[1:] if not line.startswith("skipped")]
        run_rows = [(m, mode, t or "-") for m, mode, t in ROWS if m == model]
        assert shown == [row for row in run_rows if row[1:] != ("float32", "edgetpu")]
        assert all(row_cells(line)[-1] == "pass" for line in lines[1:] if not line.startswith("skipped"))
    assert blocks["narrow"][-1] == "skipped 1: edgetpu (float32)"
    report_lines = result.outlines[next(i for i, line in enumerate(result.outlines) if "tflite report" in line) :]
    assert max(len(line) for line in report_lines) <= 100
    for name in ("report.md", "report.json", "report.html"):
        result.stdout.fnmatch_lines([f"tflite: report written to {name}"])

    document = json.loads((repo.path / "report.json").read_text())
    assert document["schema_version"] == 1 and document["created"]
    assert {"tensorflow", "ai_edge_litert", "pytest_tflite", "python", "pytest"} <= set(document["versions"])
    assert document["selection"]["targets"] == ["cpu", "edgetpu"]
    assert [(r["model"], r["mode"], r["target"]) for r in document["rows"]] == ROWS
    assert document["totals"] == {
        "rows": 6, "pass": 5, "fail": 0, "skip": 1, "error": 0, "checks": len(document["checks"])
    }
    int8 = document["rows"][3]
    assert int8["properties"]["tflite_edgetpu_verdict"] == "partial"
    assert int8["values"]["ops_on_target"] < int8["values"]["ops_total"]
    assert int8["values"]["size_bytes"] == int8["properties"]["tflite_size_bytes"] > 0
    assert int8["values"]["float32_metric_value"] == 1.0
    assert int8["values"]["golden_size_bytes"] is None  # an update compares with nothing
    assert int8["values"]["latency_median_ms"] == int8["properties"]["tflite_latency_median_ms"] > 0
    interval = int8["values"]["metric_interval_float32"]  # paired over the 32 evaluation samples
    assert interval["samples"] == 32 and interval["confidence"] == 0.95
    assert interval["low"] <= interval["change"] <= interval["high"]
    assert interval["text"].endswith(f"95 % CI {fmt.signed(interval['low'] * 100, '.1f')} to "
                                     f"{fmt.signed(interval['high'] * 100, '.1f')}")
    assert int8["values"]["metric_interval_golden"] is None  # an update compares with nothing
    assert int8["checks"]["latency"] == "passed"
    outcomes = {c["nodeid"].split("::", 1)[1]: c["outcome"] for c in document["checks"]}
    assert outcomes["narrow::test_compatible[float32-edgetpu]"] == "skipped"
    assert outcomes["narrow::test_size[int8]"] == "passed"

    markdown = (repo.path / "report.md").read_text()
    assert markdown.startswith("## pytest-tflite report\n")
    assert "| model   | mode    | target   |" in markdown
    assert "| Δ float32 CI " in markdown and "pt, 95 % CI" in markdown
    assert "**Totals:** 6 rows: 5 pass, 1 skip;" in markdown
    page = (repo.path / "report.html").read_text()
    assert "<svg" in page and "http" not in page
    for model, mode, target in ROWS:
        assert f"<td>{model}</td><td>{mode}</td><td>{target or '-'}</td>" in page


@pytest.mark.slow
def test_a_failing_budget_shows_fail_with_its_check_and_verbose_shows_every_column(repo):
    assert run(repo, "--tflite-update-golden").ret == 0
    repo.makeini(INI + "tflite_budgets =\n    narrow/int8: max_size_bytes=100\n")
    result = run(repo, "-v")
    lines = table_lines(result)
    for column in ("gzip", "accuracy Δ golden", "agreement", "SQNR", "why", "Δ float32 CI", "accuracy Δ golden CI"):
        assert column in lines[0]
    rows = {tuple(row_cells(line)[:3]): line for line in lines[1:]}
    assert "±0.0 pt, 95 % CI ±0.0 to ±0.0" in rows[("narrow", "int8", "cpu")]  # the same as its baseline
    assert set(rows) == {(m, mode, t or "-") for m, mode, t in ROWS}
    for target in ("cpu", "edgetpu"):
        line = rows[("narrow", "int8", target)]
        assert "fail (size)" in line and "over budget: size_bytes" in line
    assert "±0 B (±0.0%)" in rows[("narrow", "float32", "cpu")]  # compared with its baseline
    assert row_cells(rows[("narrow", "float32", "cpu")])[-1] == "pass"
    result.stdout.fnmatch_lines(["6 rows: 3 pass, 2 fail, 1 skip; * checks"])


@pytest.mark.slow
def test_parallel_runs_give_the_same_rows_as_serial_ones(repo):
    # No baselines: most checks fail, so failure messages cross from the workers too.
    serial = run(repo, "--tflite-report", "serial.json")
    parallel = repo.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "2", "-p", "xdist", *FAST_LATENCY, "--tflite-report", "parallel.json"
    )
    assert serial.ret == parallel.ret == 1
    parallel.stdout.fnmatch_lines(["*= tflite report =*", "tflite: report written to parallel.json"])
    first = json.loads((repo.path / "serial.json").read_text())
    second = json.loads((repo.path / "parallel.json").read_text())
    assert comparable(second) == comparable(first)
    assert [(r["model"], r["mode"], r["target"]) for r in second["rows"]] == ROWS
    assert {r["verdict"] for r in second["rows"]} == {"fail"}  # a failed mode check beats a skip
    assert "no golden baseline" in second["rows"][0]["reason"]


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ("--tflite-report", "missing/report.md"), "",
            "--tflite-report missing/report.md: the folder * does not exist; create it first",
        ),
        (
            ("--tflite-report", "report.txt"), "",
            "--tflite-report report.txt: a report file ends in .md, .json, .html, not the suffix '.txt'",
        ),
        ((), "tflite_report = report.pdf\n", "ini tflite_report report.pdf: a report file ends in .md, *"),
    ],
    ids=["no-folder", "suffix", "ini-suffix"],
)
def test_a_bad_report_path_fails_at_start_up_before_any_conversion(repo, args, ini, message):
    repo.makeini(INI + ini)
    result = run(repo, "--tflite-cache-dir", "conversions", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert not (repo.path / "conversions").exists()


def test_ini_report_paths_are_relative_to_the_ini_file(repo, monkeypatch):
    repo.makeini(INI + "tflite_report = reports/run.md\n")
    (repo.path / "reports").mkdir()
    (repo.path / "elsewhere").mkdir()
    monkeypatch.chdir(repo.path / "elsewhere")
    result = run(repo, "--tflite-cache-dir", "conversions", "-k", "test_converts and float32", "..")
    assert result.ret == 0
    assert (repo.path / "conversions").exists()  # what the start-up tests see absent
    result.stdout.fnmatch_lines(["tflite: report written to */reports/run.md"])
    text = (repo.path / "reports" / "run.md").read_text()
    assert "| narrow  | float32 | -        |" in text and "| wide    | float32 | -        |" in text


def test_the_report_modules_import_neither_tensorflow_nor_numpy(pytester: pytest.Pytester):
    code = (
        "import sys, pytest_tflite.report.rows, pytest_tflite.report.summary, pytest_tflite.report.table, "
        "pytest_tflite.report.files, pytest_tflite.report.plots; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'numpy', 'matplotlib'}))"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.outlines == ["[]"]


# --- rows from reports --------------------------------------------------------------------


def report(check, mode, target=None, *, outcome="passed", when="call", longrepr=None, model="m", **figures):
    """A real pytest TestReport as a declared check's would be."""
    param = f"{mode}-{target}" if target else mode
    properties = [("tflite_model", model), ("tflite_mode", mode), ("tflite_check", check)]
    properties += [("tflite_target", target)] if target else []
    properties += [(f"tflite_{name}", value) for name, value in figures.items()]
    nodeid = f"tflite_models.py::{model}::test_{check}[{param}]"
    location = ("tflite_models.py", 0, check)
    return pytest.TestReport(nodeid, location, {}, outcome, longrepr, when, user_properties=properties)


def results_of(*reports) -> Results:
    results = Results()
    for one in reports:
        results.add(one)
    return results


def test_a_target_check_fails_its_own_row_and_a_mode_check_every_row_of_its_mode():
    results = results_of(
        report("size", "int8", size_bytes=1000, golden_size_bytes=900),
        report("compatible", "int8", "cpu", cpu_ops_on_target=3, cpu_ops_total=3),
        report("compatible", "int8", "edgetpu", outcome="failed", longrepr="CompatibilityFailure: 2 fall back"),
        report(
            "size", "float32", outcome="failed", longrepr="BaselineFailure: model 'm', mode 'float32': big. Fix it."
        ),
        report("compatible", "float32", "cpu"),
    )
    rows = results.rows(["float32", "int8"], ["cpu", "edgetpu"])
    assert [(r.mode, r.target, r.verdict, r.failed) for r in rows] == [
        ("float32", "cpu", "fail", ("size",)),
        ("int8", "cpu", "pass", ()),
        ("int8", "edgetpu", "fail", ("compatible",)),
    ]
    assert fmt.reason_text(rows[0]) == "BaselineFailure: big."  # the first sentence only
    assert rows[1].values()["size_delta_bytes"] == 100 and rows[1].values()["ops_on_target"] == 3
    assert rows[2].values()["size_bytes"] == 1000  # mode figures repeat on every target's row
    assert fmt.verdict_text(rows[2]) == "fail (compatible)"


def test_skips_errors_and_modes_without_targets():
    results = results_of(
        report("converts", "float32"),
        report(
            "compatible", "float32", "edgetpu", outcome="skipped", when="setup",
            longrepr=("x.py", 1, "Skipped: no float on the Edge TPU"),
        ),
        report("converts", "int8"),
        report("accuracy", "int8", outcome="skipped", longrepr=("x.py", 1, "Skipped: no evaluation_data")),
        report("converts", "int16x8", outcome="failed", when="setup", longrepr="fixture exploded"),
    )
    rows = results.rows(["float32", "int8", "int16x8"])
    assert [(r.mode, r.target, r.verdict, r.reason) for r in rows] == [
        ("float32", "edgetpu", "skip", "no float on the Edge TPU"),
        ("int8", None, "pass", None),  # a mode check may skip, the row still passes
        ("int16x8", None, "error", "fixture exploded"),
    ]
    assert rows[1].checks == {"converts": "passed", "accuracy": "skipped"}


def test_reports_of_other_tests_are_ignored_and_phases_fold_into_one_check():
    plain = pytest.TestReport("test_x.py::test_plain", ("test_x.py", 0, "t"), {}, "passed", None, "call")
    setup, call = report("size", "int8", when="setup"), report("size", "int8", size_bytes=5)
    teardown = report("size", "int8", outcome="failed", when="teardown", longrepr="cleanup failed")
    results = results_of(plain, setup, call, teardown)
    [check] = results.checks()
    assert (check.outcome, check.message) == ("error", "cleanup failed")
    assert check.properties["tflite_size_bytes"] == 5


def test_the_metric_intervals_and_the_latency_against_a_saved_run_reach_the_rows_and_the_full_table():
    interval = {
        "float32_interval_change": -0.004, "float32_interval_low": -0.009, "float32_interval_high": 0.001,
        "float32_interval_confidence": 0.95, "float32_interval_samples": 450, "float32_interval_p_value": 0.39,
        "float32_interval_lost": 5, "float32_interval_gained": 2,
        "golden_interval_missing": "no paired interval: the baseline has no per-sample scores",
    }
    latency = {"latency_median_ms": 2.3, "latency_iqr_ms": 0.2, "latency_saved_median_ms": 2.0,
               "latency_saved_iqr_ms": 0.1}
    rows = results_of(
        report("accuracy", "int8", metric="accuracy", accuracy=0.9, float32_accuracy=0.904, **interval),
        report("latency", "int8", **latency),
        report("accuracy", "float32", metric="accuracy", accuracy=0.904),
    ).rows(["int8", "float32"])
    values = rows[0].values()
    assert values["metric_interval_float32"]["text"] == "-0.4 pt, 95 % CI -0.9 to +0.1"
    assert values["metric_interval_float32"]["lost"] == 5
    assert values["metric_interval_golden"] == {"missing": "no paired interval: the baseline has no per-sample scores"}
    assert values["latency_change_saved"]["beyond_spread"] is True
    assert values["latency_change_saved"]["text"] == "+15.0 %, beyond the runs' spread (IQR 10.0 %)"
    assert rows[1].values()["metric_interval_float32"] is None and rows[1].values()["latency_change_saved"] is None
    full = {c.header: c for c in table.columns(rows, full=True)}
    assert full["Δ float32 CI"].cell(rows[0]) == "-0.4 pt, 95 % CI -0.9 to +0.1"
    assert full["accuracy Δ golden CI"].cell(rows[0]) == "not paired"
    assert full["latency Δ saved run"].cell(rows[0]) == "+15.0 %, beyond the runs' spread (IQR 10.0 %)"
    assert full["Δ float32 CI"].cell(rows[1]) == full["latency Δ saved run"].cell(rows[1]) == "—"
    compact = [c.header for c in table.terminal_columns(rows)]
    assert not [header for header in compact if "CI" in header or "saved" in header]
    assert max(len(line) for line in table.terminal_table(rows).splitlines()) <= table.TERMINAL_WIDTH


@pytest.mark.slow
def test_latency_against_the_saved_run_says_whether_it_moved_beyond_the_spread(repo):
    latency = ("-k", "latency and narrow and int8")
    saved = repo.runpytest_subprocess("-p", "no:cacheprovider", *FAST_LATENCY, *latency, "--benchmark-autosave")
    saved.assert_outcomes(passed=1)
    compared = repo.runpytest_subprocess(
        "-p", "no:cacheprovider", *FAST_LATENCY, *latency, "--benchmark-compare", "-v", "--tflite-report", "r.json"
    )
    compared.assert_outcomes(passed=1)
    [row] = json.loads((repo.path / "r.json").read_text())["rows"]
    found = row["values"]["latency_change_saved"]
    stored = json.loads(next((repo.path / ".benchmarks").rglob("0001_*.json")).read_text())["benchmarks"][0]["stats"]
    assert found["old_median"] == pytest.approx(stored["median"] * 1000, rel=1e-5)
    assert found["new_median"] == row["values"]["latency_median_ms"]
    assert found["spread"] >= stored["iqr"] * 1000 * (1 - 1e-5)
    assert found["beyond_spread"] == (abs(found["new_median"] - found["old_median"]) > found["spread"])
    assert "latency Δ saved run" in compared.stdout.str() and found["text"].split(" %")[0] in compared.stdout.str()
    run(repo, *latency, "--tflite-report", "plain.json").assert_outcomes(passed=1)
    assert json.loads((repo.path / "plain.json").read_text())["rows"][0]["values"]["latency_change_saved"] is None


# --- numbers for people ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (fmt.kilobytes(421_936), "421.9 KB"),
        (fmt.kilobytes(1_234_567), "1,234.6 KB"),
        (fmt.kilobytes(None), "—"),
        (fmt.size_delta(6548, 112_344), "+6.5 KB (+5.8%)"),
        (fmt.size_delta(-48, 2000), "-48 B (-2.4%)"),
        (fmt.size_delta(0, 2000), "±0 B (±0.0%)"),
        (fmt.size_delta(None), "—"),
        (fmt.metric_text(0.97777, "accuracy"), "97.78%"),
        (fmt.metric_text(0.123456, "mae"), "0.1235"),
        (fmt.metric_delta(-0.0044, "accuracy"), "-0.44 pt"),
        (fmt.metric_delta(0.0012, "mae"), "+0.0012"),
        (fmt.metric_delta(0.0, "accuracy"), "±0.00 pt"),
        (fmt.percent(0.996), "99.6%"),
        (fmt.decibels(42.06), "42.1 dB"),
        (fmt.milliseconds(12.34), "12.3 ms"),
        (fmt.milliseconds(1234.5), "1,234 ms"),
        (fmt.milliseconds(0.8209), "821 µs"),
        (fmt.operators(98, 99), "98/99"),
    ],
)
def test_numbers_are_formatted_for_people(text, expected):
    assert text == expected


def test_another_metric_names_its_columns_and_markdown_escapes_pipes():
    rows = results_of(
        report("accuracy", "int8", metric="mae", mae=0.25, float32_mae=0.2),
        report("size", "int8", outcome="failed", longrepr="AssertionError: a | b"),
    ).rows()
    assert [c.header for c in table.columns(rows, full=False)][5:7] == ["mae", "Δ float32"]
    assert table.columns(rows, full=False)[6].cell(rows[0]) == "+0.05"
    text = files.to_markdown(summary.Summary(rows, versions={"tensorflow": "2.21.0"}))
    assert "Versions: tensorflow 2.21.0." in text and "AssertionError: a \\| b" in text


def test_the_page_draws_every_plot_it_has_data_for():
    rows = results_of(
        *[
            report(check, mode, model=model, size_bytes=size, metric="accuracy", accuracy=acc,
                   latency_median_ms=0.2, latency_stddev_ms=0.01)
            for model in ("a", "b")
            for mode, size, acc in (("float32", 4000, 1.0), ("int8", 1200, 0.98))
            for check in ("size",)
        ],
        report("compatible", "int8", "edgetpu", model="a", edgetpu_ops_on_target=2, edgetpu_ops_total=4),
    ).rows(["float32", "int8"])
    page = files.to_html(summary.Summary(rows, created="now"))
    assert page.count("<svg") == 2 + 2 + 1  # size/accuracy and latency per model, placement per target
    assert "http" not in page and "No latency" not in page
    empty = files.to_html(summary.Summary([]))
    assert "<svg" not in empty and "No latency was measured in this run." in empty


def test_labels_of_points_close_together_do_not_overlap():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from pytest_tflite.report import plots

    figure = Figure(figsize=plots.FIGSIZE, layout="constrained")
    FigureCanvasAgg(figure)
    sizes = {"dynamic_int8": 7.5, "full_int8": 7.55, "float16": 7.75, "int8": 7.95, "float32": 13.5}
    plots._scatter("m", "accuracy", [(mode, size, 1.0) for mode, size in sizes.items()], figure)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    labels = figure.axes[0].texts
    assert sorted(t.get_text() for t in labels) == ["dynamic_int8, full_int8", "float16", "float32", "int8"]
    boxes = [Text.get_window_extent(t, renderer) for t in labels]  # the text alone, not its line
    assert not [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    assert figure.axes[0].get_ylim()[1] < 1.01  # no room for accuracy over 100 %


def test_a_long_skip_reason_is_cut_in_the_page_and_whole_in_the_json():
    reason = "the Edge TPU cannot run float32 arithmetic, which mode 'float32' produces; modes that fit: " + ", ".join(
        f"mode_{i}" for i in range(30)
    )
    rows = results_of(
        report("compatible", "float32", "edgetpu", outcome="skipped", when="setup", longrepr=("x.py", 1, reason)),
    ).rows(["float32"])
    page = files.to_html(summary.Summary(rows, created="now"))
    assert "the Edge TPU cannot run float32 arithmetic" in page and "mode_29" not in page
    assert "mode_29" in files.to_json(summary.Summary(rows, created="now"))
