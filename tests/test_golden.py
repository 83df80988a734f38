"""Golden baselines: stable text, clear errors, atomic and merged updates, even from
several processes at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from types import SimpleNamespace

import numpy as np
import pytest

from pytest_tflite.errors import GoldenError
from pytest_tflite.gate.golden import (
    GOLDEN_SCHEMA_VERSION,
    dump,
    golden_path,
    lock_path,
    read_golden,
    record,
    stale_baselines,
    update_golden,
    version_differences,
)
from pytest_tflite.gate.measurement import Measurement
from pytest_tflite.gate.versions import current_versions

VERSIONS = {"tensorflow": "2.21.0", "ai_edge_litert": "2.3.0", "pytest_tflite": "0.1.0"}


def baseline(**extra):
    return {"schema_version": GOLDEN_SCHEMA_VERSION, "model": "net", "mode": "int8", "size_bytes": 100, **extra}


# --- paths ----------------------------------------------------------------------------


def test_one_file_per_model_and_mode(tmp_path):
    assert golden_path(tmp_path, "net", "int8") == tmp_path / "net" / "int8.json"


@pytest.mark.parametrize(
    ("model", "folder"),
    [
        ("a/b c", "a_b_c"),
        ("..", "_.."),
        (".hidden", "_.hidden"),
        ("", "_"),
        ("x:y\\z", "x_y_z"),
        ("ok-1.2_+", "ok-1.2_+"),
    ],
)
def test_names_are_made_safe(tmp_path, model, folder):
    path = golden_path(tmp_path, model, "int8")
    assert path == tmp_path / folder / "int8.json"
    assert path.parent.parent == tmp_path


# --- the text -------------------------------------------------------------------------


def test_dump_is_sorted_indented_and_ends_with_a_newline():
    text = dump({"b": 1, "a": {"d": 2, "c": 3}})
    assert text == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (1 / 3, 0.333333),
        (123456789.123, 123457000.0),
        (3.14159265e-7, 3.14159e-7),
        (-0.0, 0.0),
        (np.float32(0.1), 0.1),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (2, 2),
    ],
)
def test_numbers_are_rounded_to_six_significant_digits(value, stored):
    loaded = json.loads(dump({"v": value}))["v"]
    assert loaded == stored and type(loaded) is type(stored)


def test_dump_is_stable_when_read_back():
    data = {"x": [1 / 7, 2 / 3], "y": {"z": 1e-9 / 3}}
    once = dump(data)
    assert dump(json.loads(once)) == once


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.float32("-inf")])
def test_non_finite_values_are_refused(bad):
    with pytest.raises(GoldenError, match=r"at fidelity\.sqnr_db"):
        dump({"fidelity": {"sqnr_db": bad}})


# --- reading --------------------------------------------------------------------------


def test_missing_file_is_none(tmp_path):
    assert read_golden(tmp_path / "net" / "int8.json") is None


def test_reads_what_was_written(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    assert update_golden(path, baseline())
    assert read_golden(path) == baseline()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema_version": 1,', "is not valid JSON"),
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"model": "net"}', "has no schema_version"),
        ('{"schema_version": 99}', "has schema version 99; this pytest-tflite reads version 1"),
    ],
)
def test_unreadable_baselines_name_the_path_and_the_fix(tmp_path, text, message):
    path = tmp_path / "net" / "int8.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(GoldenError, match=message) as info:
        read_golden(path)
    assert str(path) in str(info.value)
    assert "--tflite-update-golden" in str(info.value)


# --- updating -------------------------------------------------------------------------


def test_an_unchanged_file_is_not_rewritten(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    assert update_golden(path, baseline(value=0.5))
    before = os.stat(path)
    time.sleep(0.01)
    assert not update_golden(path, baseline(value=0.5000000001))  # equal once rounded
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_change_is_written(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, baseline())
    before = os.stat(path).st_ino
    assert update_golden(path, {"size_bytes": 120})
    assert read_golden(path)["size_bytes"] == 120
    assert os.stat(path).st_ino != before  # replaced by a rename, not rewritten in place


def test_targets_merge_and_other_sections_are_replaced(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(
        path, baseline(op_histogram={"CONV_2D": 3, "FULLY_CONNECTED": 1}, targets={"cpu": {"ops_on_target": 4}})
    )
    update_golden(path, {"op_histogram": {"CONV_2D": 3}, "targets": {"edgetpu": {"ops_on_target": 2}}})
    data = read_golden(path)
    assert data["op_histogram"] == {"CONV_2D": 3}
    assert data["targets"] == {"cpu": {"ops_on_target": 4}, "edgetpu": {"ops_on_target": 2}}
    assert data["size_bytes"] == 100


def test_a_new_file_gets_the_schema_version(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, {"size_bytes": 1})
    assert json.loads(path.read_text())["schema_version"] == GOLDEN_SCHEMA_VERSION


def test_an_unreadable_file_is_kept_unless_discarded(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(GoldenError, match="is not valid JSON"):
        update_golden(path, baseline())
    assert path.read_text() == "{not json"
    assert update_golden(path, baseline(), discard_invalid=True)
    assert read_golden(path) == baseline()


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, baseline())
    old = path.read_text()

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr("pytest_tflite.atomicfile.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        update_golden(path, {"size_bytes": 999})
    assert path.read_text() == old
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_the_lock_stays_out_of_the_golden_folder(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, baseline())
    assert not lock_path(path).is_relative_to(tmp_path)
    assert lock_path(path) == lock_path(tmp_path / "net" / "." / "int8.json")  # one per file
    assert lock_path(path) != lock_path(golden_path(tmp_path, "net", "float32"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["int8.json"]
    assert stale_baselines(tmp_path, set()) == [path]


WORKER = textwrap.dedent(
    """
    import sys
    from pytest_tflite.gate.golden import update_golden
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    for i in range(count):
        update_golden(path, {"targets": {f"{name}_{i}": {"ops_on_target": i}}, "last": name})
    """
)


def test_concurrent_updates_all_land(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, baseline())
    count = 40
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(path), name, str(count)]) for name in ("cpu", "edgetpu")
    ]
    reads = 0
    while any(w.poll() is None for w in workers):
        assert read_golden(path)["schema_version"] == GOLDEN_SCHEMA_VERSION  # always whole
        reads += 1
    assert [w.returncode for w in workers] == [0, 0]
    data = read_golden(path)
    expected = {f"{name}_{i}" for name in ("cpu", "edgetpu") for i in range(count)}
    assert set(data["targets"]) == expected
    assert data["size_bytes"] == 100
    assert reads > 0
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


# --- recording and reporting ----------------------------------------------------------


def test_record_holds_what_was_measured_and_no_budget():
    m = Measurement(
        size_bytes=3056,
        gzip_size_bytes=2076,
        metric="accuracy",
        value=0.75,
        float32_value=0.8,
        fidelity={"agreement": 0.9, "sqnr_db": 30.123456789},
    )
    report = SimpleNamespace(target="edgetpu", verdict="partial", ops_on_target=2, ops_total=3, details={})
    data = record("net", "int8", m, op_histogram={"FULLY_CONNECTED": 2}, targets=[report], versions=VERSIONS)
    assert data == {
        "schema_version": GOLDEN_SCHEMA_VERSION,
        "model": "net",
        "mode": "int8",
        "versions": VERSIONS,
        "size_bytes": 3056,
        "gzip_size_bytes": 2076,
        "metric": {"name": "accuracy", "value": 0.75, "higher_is_better": True},
        "float32_value": 0.8,
        "fidelity": {"agreement": 0.9, "sqnr_db": 30.123456789},
        "op_histogram": {"FULLY_CONNECTED": 2},
        "targets": {"edgetpu": {"verdict": "partial", "ops_on_target": 2, "ops_total": 3}},
    }
    assert not any("budget" in key or "tolerance" in key for key in json.loads(dump(data)))


def test_record_of_placement_alone_keeps_the_measurements(tmp_path):
    path = golden_path(tmp_path, "net", "int8")
    m = Measurement(size_bytes=10, gzip_size_bytes=8, metric="accuracy", value=0.5)
    update_golden(path, record("net", "int8", m, versions=VERSIONS))
    report = SimpleNamespace(target="cpu", verdict="compatible", ops_on_target=3, ops_total=3, details={})
    update_golden(path, record("net", "int8", targets=[report], versions=VERSIONS))
    data = read_golden(path)
    assert data["metric"]["value"] == 0.5 and data["targets"]["cpu"]["ops_total"] == 3


def test_current_versions_name_the_toolchain():
    versions = current_versions()
    assert set(versions) == {"tensorflow", "ai_edge_litert", "pytest_tflite"}
    assert versions["pytest_tflite"] == __import__("pytest_tflite").__version__


def test_version_differences():
    recorded = {"versions": {"tensorflow": "2.20.0", "ai_edge_litert": "2.3.0", "old_tool": "1"}}
    current = {"tensorflow": "2.21.0", "ai_edge_litert": "2.3.0"}
    assert version_differences(recorded, current) == [
        "old_tool: golden 1, running not installed",
        "tensorflow: golden 2.20.0, running 2.21.0",
    ]
    assert version_differences({"schema_version": 1}, current) == []
    assert version_differences(None, current) == []


def test_stale_baselines(tmp_path):
    used = golden_path(tmp_path, "net", "int8")
    unused = golden_path(tmp_path, "old_net", "float16")
    for path in (used, unused):
        update_golden(path, baseline())
    (tmp_path / "net" / "notes.txt").write_text("not a baseline")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.json").write_text("{}")
    assert stale_baselines(tmp_path, {used}) == [unused]
    assert stale_baselines(tmp_path, {used, unused}) == []
    assert stale_baselines(tmp_path / "missing", set()) == []


# --- baselines that cannot lie --------------------------------------------------------

GOOD = {
    "schema_version": 1,
    "model": "toy",
    "mode": "int8",
    "size_bytes": 1000,
    "metric": {"name": "accuracy", "value": 0.9, "higher_is_better": True},
    "targets": {"cpu": {"verdict": "compatible", "ops_on_target": 3, "ops_total": 3}},
}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('"size_bytes": "abc"', "'size_bytes': expected an integer, not the text 'abc'"),
        ('"size_bytes": 1e400', "'size_bytes': expected an integer"),
        ('"size_bytes": 10000000000000000000000000000000000000000', "'size_bytes': expected an integer from 0"),
        ('"targets": []', "'targets': expected an object, not a list"),
        ('"targets": {"cpu": {"ops_on_target": "3"}}', "'targets.cpu.ops_on_target'"),
        ('"metric": {"name": "accuracy", "value": NaN}', "holds NaN"),
        ('"metric": {"name": "accuracy", "value": Infinity}', "holds Infinity"),
        ('"metric": {"name": "accuracy", "value": 1e400}', "'metric.value': expected a finite number"),
        ('"targets": {"tflm": {"arena_bytes": "16 KB"}}', "'targets.tflm.arena_bytes': expected an integer"),
        ('"targets": {"ethos-u55": {"inference_us": -3.5}}', "'targets.ethos-u55.inference_us': expected a number"),
        ('"targets": {"ethos-u55": {"cycles": 1.5}}', "'targets.ethos-u55.cycles': expected an integer"),
    ],
    ids=[
        "text-size", "huge-float-size", "huge-int-size", "list-targets", "text-count", "nan", "infinity", "1e400",
        "text-arena", "negative-time", "fractional-cycles",
    ],
)
def test_a_baseline_with_a_value_no_writer_records_is_refused_naming_the_file_and_key(tmp_path, text, where):
    path = tmp_path / "toy" / "int8.json"
    path.parent.mkdir()
    base = json.dumps({k: v for k, v in GOOD.items() if k not in text.split(":")[0].strip('"')})
    path.write_text(base[:-1] + ", " + text + "}")
    with pytest.raises(GoldenError) as excinfo:
        read_golden(path)
    assert str(path) in str(excinfo.value) and where in str(excinfo.value)


def test_a_well_formed_baseline_is_read(tmp_path):
    path = tmp_path / "toy.json"
    path.write_text(json.dumps(GOOD))
    assert read_golden(path) == GOOD


def test_a_baseline_recorded_for_another_model_fails(tmp_path):
    from pytest_tflite.gate.baseline import Gate

    gate = Gate(tmp_path)
    path = gate.path("toy a", "int8")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**GOOD, "model": "toy_a"}))
    assert gate.path("toy_a", "int8") == path
    with pytest.raises(GoldenError, match="recorded for model 'toy_a', mode 'int8', not model 'toy a'"):
        gate.baseline("toy a", "int8")
    assert gate.baseline("toy_a", "int8")["model"] == "toy_a"


def test_the_lock_folder_is_private_to_the_user(tmp_path, monkeypatch):
    import stat as stat_module
    import tempfile

    from pytest_tflite.gate.golden import lock_path

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    folder = lock_path(tmp_path / "golden" / "toy" / "int8.json").parent
    assert stat_module.S_IMODE(folder.stat().st_mode) == 0o700
    assert folder.stat().st_uid == os.getuid()
    folder.chmod(0o777)
    with pytest.raises(GoldenError, match="is not private to this user"):
        lock_path(tmp_path / "golden" / "toy" / "int8.json")


def test_a_worker_whose_controller_has_gone_writes_no_baseline(tmp_path):
    from pytest_tflite.gate.baseline import SIZE, BaselineFailure, Gate
    from pytest_tflite.gate.budget import DEFAULT_BUDGET

    measurement = Measurement(size_bytes=100, gzip_size_bytes=80)
    orphan = Gate(tmp_path, update=True, run_id="r", controller_pid=os.getppid() + 1)
    with pytest.raises(BaselineFailure, match="controller of this worker has gone"):
        orphan.check("toy", "int8", measurement, SIZE, budget=DEFAULT_BUDGET, nodeid="t")
    assert not orphan.path("toy", "int8").exists()
    alive = Gate(tmp_path, update=True, run_id="r", controller_pid=os.getppid())
    assert alive.check("toy", "int8", measurement, SIZE, budget=DEFAULT_BUDGET, nodeid="t").written
    assert read_golden(alive.path("toy", "int8"))["update_in_progress"] == "r"
    alive.finish_update([alive.path("toy", "int8")])
    assert "update_in_progress" not in read_golden(alive.path("toy", "int8"))


# --- per-sample scores, for a paired interval of the next run's change ------------------------


def test_record_keeps_0_1_per_sample_scores_as_bits_and_reads_them_back(tmp_path):
    from pytest_tflite.gate.golden import recorded_scores
    from pytest_tflite.gate.significance import unpack

    scores = tuple(float(i % 3 != 0) for i in range(60))
    m = Measurement(size_bytes=10, gzip_size_bytes=8, metric="accuracy", value=sum(scores) / 60, per_sample=scores)
    data = record("net", "int8", m, versions=VERSIONS)
    assert data["metric"]["samples"] == 60
    assert unpack(data["metric"]["per_sample"], 60) == scores
    assert len(data["metric"]["per_sample"]) == 12  # 60 bits: 8 bytes, 12 characters of base64
    path = golden_path(tmp_path, "net", "int8")
    update_golden(path, data)
    assert recorded_scores(read_golden(path)["metric"]) == scores


def test_other_per_sample_scores_are_not_recorded():
    m = Measurement(size_bytes=10, gzip_size_bytes=8, metric="iou", value=0.5, per_sample=(0.25, 0.75))
    metric = record("net", "int8", m, versions=VERSIONS)["metric"]
    assert "per_sample" not in metric and "samples" not in metric


@pytest.mark.parametrize(
    ("entry", "where"),
    [
        ({"samples": 8, "per_sample": "!!!!"}, "'metric.per_sample': expected the bits of 8 samples as base64 text"),
        ({"samples": 60, "per_sample": "/w=="}, "(8 bits where 60 samples take 64)"),
        ({"samples": 5, "per_sample": "/w=="}, "(the padding bits after the last sample are not zero)"),
        ({"per_sample": "/w=="}, "'metric.samples': expected the count of the samples per_sample holds"),
        ({"samples": 0, "per_sample": "AA=="}, "'metric.samples': expected an integer from 1 to 2**53, not 0"),
        ({"samples": "8", "per_sample": "/w=="}, "'metric.samples': expected an integer, not the text '8'"),
        ({"samples": 8, "per_sample": [1, 0]}, "'metric.per_sample': expected text, not a list"),
    ],
    ids=["not-base64", "too-short", "padding", "no-count", "zero-count", "text-count", "list"],
)
def test_damaged_per_sample_scores_are_refused_naming_the_file_and_key(tmp_path, entry, where):
    path = tmp_path / "toy" / "int8.json"
    path.parent.mkdir()
    path.write_text(json.dumps({**GOOD, "metric": {**GOOD["metric"], **entry}}))
    with pytest.raises(GoldenError) as excinfo:
        read_golden(path)
    assert str(path) in str(excinfo.value) and where in str(excinfo.value)
    assert "--tflite-update-golden" in str(excinfo.value)


def test_a_baseline_with_whole_per_sample_scores_is_read(tmp_path):
    path = tmp_path / "toy.json"
    good = {**GOOD, "metric": {**GOOD["metric"], "samples": 9, "per_sample": "/4A="}}
    path.write_text(json.dumps(good))
    assert read_golden(path) == good


FLIPPING_MODELS = """
    import os

    import numpy as np
    from pytest_tflite import DeclaredModel

    X = np.random.default_rng(0).random((60, 8), dtype=np.float32)
    WIDTH = 16

{build}

    def evaluation():
        # The float model's own answers with the first FLIPPED of them changed: each is a
        # prediction that no longer matches its label, as a changed model's would be.
        labels = build().predict(X, verbose=0).argmax(axis=1)
        flipped = int(os.environ.get("FLIPPED", "0"))
        labels[:flipped] = (labels[:flipped] + 1) % 4
        return X, labels


    toy = DeclaredModel("toy", source=build, representative_data=X, evaluation_data=evaluation, modes=["float32"])
"""
SIGNIFICANCE_INI = "[pytest]\ntflite_targets = cpu\naddopts = --benchmark-skip\n"


def test_a_significance_budget_passes_a_few_flipped_predictions_and_fails_a_real_loss(
    runtime_loaded, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    from support import TOY_BUILD

    pytester.makeini(SIGNIFICANCE_INI)
    pytester.makepyfile(tflite_models=FLIPPING_MODELS.format(build=TOY_BUILD))
    path = pytester.path / "golden" / "toy" / "float32.json"

    def accuracy(flipped: int, significance: bool) -> pytest.RunResult:
        monkeypatch.setenv("FLIPPED", str(flipped))
        budgets = "tflite_budgets = toy: significance=0.05\n" if significance else ""
        pytester.makeini(SIGNIFICANCE_INI + budgets)
        return pytester.runpytest("-p", "no:cacheprovider", "-k", "test_accuracy")

    monkeypatch.setenv("FLIPPED", "0")
    assert pytester.runpytest("-p", "no:cacheprovider", "--tflite-update-golden", "-k", "test_accuracy").ret == 0
    recorded = json.loads(path.read_text())["metric"]
    assert (recorded["value"], recorded["samples"], recorded["per_sample"]) == (1.0, 60, "//////////A=")

    # Changed labels are other evaluation data: not paired with the baseline's scores.
    relabelled = accuracy(2, significance=True)
    relabelled.assert_outcomes(failed=1)
    relabelled.stdout.fnmatch_lines(["*no paired interval: the baseline scored other samples or the same in another*"])
    # Below, the changed labels stand for a changed model's answers: without the labels'
    # digest (a baseline recorded before it was kept), scores pair by position.
    unlabelled = json.loads(path.read_text())
    del unlabelled["metric"]["labels_digest"]
    path.write_text(json.dumps(unlabelled))

    # Two of 60 predictions changed: 3.3 points, beyond the 0.5 point tolerance, but noise.
    plain = accuracy(2, significance=False)
    plain.assert_outcomes(failed=1)
    plain.stdout.fnmatch_lines(
        [
            "*metric*golden*measured*delta*budget*verdict*paired change*",
            "*accuracy*1*0.966667*>= golden - 0.005*fail*-3.3 pt, 95 % CI -8.3 to ±0.0 (McNemar p 0.5, 2 lost, 0 gain*"
        ]
    )
    accuracy(2, significance=True).assert_outcomes(passed=1)

    # Twenty changed: the whole interval lies beyond the tolerance.
    lost = accuracy(20, significance=True)
    lost.assert_outcomes(failed=1)
    lost.stdout.fnmatch_lines(
        ["*accuracy*>= golden - 0.005 at 95 % confidence*fail*-33.3 pt, 95 % CI -45.0 to -21.7 (McNemar p 1.9e-06*"]
    )

    # A baseline recorded before per-sample scores were kept: the change alone, and how to pair.
    old = json.loads(path.read_text())
    del old["metric"]["per_sample"], old["metric"]["samples"]
    path.write_text(json.dumps(old))
    unpaired = accuracy(2, significance=True)
    unpaired.assert_outcomes(failed=1)
    unpaired.stdout.fnmatch_lines(
        ["*>= golden - 0.005 *fail*no paired interval: the baseline has no per-sample scores "
         "(--tflite-update-golden records them)"]
    )

    old["metric"].update(samples=60, per_sample="//////////A")
    path.write_text(json.dumps(old))
    damaged = accuracy(2, significance=True)
    damaged.assert_outcomes(failed=1)
    damaged.stdout.fnmatch_lines(["*GoldenError*float32.json has a bad value at 'metric.per_sample'*"])
