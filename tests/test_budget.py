"""Budgets: the ini form, which scope wins, and the verdict of every check in both directions."""

from __future__ import annotations

import dataclasses
import math
from types import SimpleNamespace

import pytest

from pytest_tflite.errors import BudgetError
from pytest_tflite.gate.budget import DEFAULT_BUDGET, Budget, budget_for, parse_budget_lines
from pytest_tflite.gate.judging import failures, format_comparisons, judge
from pytest_tflite.gate.measurement import Measurement, measure

NO_GOLDEN_CHECKS = Budget()


def golden(size=10_000, gzip=8_000, value=0.9, float32=0.92, name="accuracy", targets=None):
    return {
        "schema_version": 1,
        "size_bytes": size,
        "gzip_size_bytes": gzip,
        "metric": {"name": name, "value": value, "higher_is_better": True},
        "float32_value": float32,
        "targets": targets or {},
    }


def measured(size=10_000, gzip=8_000, value=0.9, float32=0.92, higher=True, metric="accuracy", on_target=None):
    return Measurement(
        size_bytes=size,
        gzip_size_bytes=gzip,
        metric=metric,
        value=value,
        higher_is_better=higher,
        float32_value=float32,
        on_target=on_target or {},
    )


def row(rows, name):
    [found] = [r for r in rows if r.metric == name]
    return found


# --- the ini form ---------------------------------------------------------------------


def test_scopes_and_values():
    scopes = parse_budget_lines(
        [
            "# comment",
            "",
            "min_accuracy=0.9, max_size_bytes=2MiB",
            "int8: max_accuracy_drop=0.02",
            "mobilenet: golden_size_tolerance=2%, max_gzip_size_bytes=300KB",
            "mobilenet/int8: min_on_target=0.95, golden_on_target_tolerance=1",
        ]
    )
    assert scopes == {
        "*": Budget(min_accuracy=0.9, max_size_bytes=2 * 1024 * 1024),
        "int8": Budget(max_accuracy_drop=0.02),
        "mobilenet": Budget(golden_size_tolerance=0.02, max_gzip_size_bytes=300_000),
        "mobilenet/int8": Budget(min_on_target=0.95, golden_on_target_tolerance=1),
    }


def test_an_explicit_default_scope_and_repeated_lines_merge():
    scopes = parse_budget_lines(["*: min_accuracy=0.5", "*: max_size_bytes=100, min_accuracy=0.6"])
    assert scopes == {"*": Budget(min_accuracy=0.6, max_size_bytes=100)}


def test_off_disables_a_default():
    scopes = parse_budget_lines(["golden_size_tolerance=off, min_on_target=off"])
    assert scopes["*"].golden_size_tolerance == math.inf
    assert scopes["*"].min_on_target == -math.inf


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("max_size=100", "unknown budget key 'max_size'.*max_size_bytes"),
        ("int8: min_accuracy", "'min_accuracy' is not key=value"),
        ("max_size_bytes=12parsecs", "is not a byte count"),
        ("max_size_bytes=1.5", "is not a byte count"),
        ("golden_size_tolerance=a lot", "is not a fraction"),
        ("golden_on_target_tolerance=1.5", "is not a whole number"),
        ("min_on_target=1.5", "out of range"),
        ("max_accuracy_drop=-0.1", "out of range"),
        ("int8:", "sets no budget"),
        ("my model: min_accuracy=0.5", "scope 'my model' is not a name"),
    ],
)
def test_mistakes_name_the_line(line, message):
    with pytest.raises(BudgetError, match=message) as info:
        parse_budget_lines([line])
    assert repr(line) in str(info.value)


def test_a_negative_floor_is_allowed_for_a_metric():
    assert parse_budget_lines(["min_accuracy=-2.5"])["*"].min_accuracy == -2.5


def test_most_specific_scope_wins():
    scopes = parse_budget_lines(
        [
            "min_accuracy=0.1, max_size_bytes=1",
            "int8: min_accuracy=0.2",
            "net: min_accuracy=0.3, max_size_bytes=3",
            "net/int8: min_accuracy=0.4",
        ]
    )
    assert budget_for(scopes, "net", "int8").min_accuracy == 0.4
    assert budget_for(scopes, "net", "int8").max_size_bytes == 3
    assert budget_for(scopes, "net", "float16").min_accuracy == 0.3
    assert budget_for(scopes, "other", "int8").min_accuracy == 0.2
    expected = DEFAULT_BUDGET.merged(Budget(min_accuracy=0.1, max_size_bytes=1))
    assert budget_for(scopes, "other", "float16") == expected


def test_defaults_apply_without_configuration():
    assert budget_for({}, "net", "int8") == DEFAULT_BUDGET
    assert DEFAULT_BUDGET.golden_accuracy_tolerance == 0.005
    assert DEFAULT_BUDGET.golden_size_tolerance == DEFAULT_BUDGET.golden_gzip_size_tolerance == 0.01
    assert DEFAULT_BUDGET.golden_on_target_tolerance == 0
    assert DEFAULT_BUDGET.min_accuracy is None and DEFAULT_BUDGET.max_size_bytes is None


def test_merged_keeps_what_the_other_leaves_unset():
    base = Budget(min_accuracy=0.5, max_size_bytes=10)
    assert base.merged(Budget(max_size_bytes=20)) == Budget(min_accuracy=0.5, max_size_bytes=20)
    assert base.merged(Budget()) == base


# --- judging: sizes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "verdict"),
    [(10_000, "pass"), (10_100, "pass"), (10_101, "fail"), (9_000, "improved")],
)
def test_size_against_golden(size, verdict):
    rows = judge(measured(size=size), DEFAULT_BUDGET, golden())
    assert row(rows, "size_bytes").verdict == verdict
    assert row(rows, "size_bytes").delta == size - 10_000


def test_gzip_size_has_its_own_tolerance():
    budget = DEFAULT_BUDGET.merged(Budget(golden_gzip_size_tolerance=0.1))
    rows = judge(measured(size=10_000, gzip=8_700), budget, golden())
    assert row(rows, "gzip_size_bytes").verdict == "pass"
    rows = judge(measured(size=10_000, gzip=8_900), budget, golden())
    assert row(rows, "gzip_size_bytes").verdict == "fail"


def test_absolute_size_limit_without_golden():
    budget = Budget(max_size_bytes=5_000)
    assert row(judge(measured(size=5_001), budget, None), "size_bytes").verdict == "fail"
    assert row(judge(measured(size=5_000), budget, None), "size_bytes").verdict == "new"


def test_absolute_limit_fails_even_when_smaller_than_golden():
    rows = judge(measured(size=9_000), Budget(max_size_bytes=8_000), golden())
    assert row(rows, "size_bytes").verdict == "fail"


def test_off_lets_any_growth_pass():
    budget = budget_for(parse_budget_lines(["golden_size_tolerance=off"]), "m", "int8")
    r = row(judge(measured(size=50_000), budget, golden()), "size_bytes")
    assert (r.verdict, r.budget_text) == ("pass", "")


# --- judging: the metric --------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.9, "pass"), (0.895, "pass"), (0.8951, "pass"), (0.8949, "fail"), (0.95, "improved")],
)
def test_accuracy_against_golden(value, verdict):
    assert row(judge(measured(value=value), DEFAULT_BUDGET, golden()), "accuracy").verdict == verdict


def test_rounding_noise_is_no_improvement():
    rows = judge(measured(value=0.90000000001), DEFAULT_BUDGET, golden(value=0.9))
    assert row(rows, "accuracy").verdict == "pass"


@pytest.mark.parametrize(
    ("value", "verdict"),
    [(0.9, "pass"), (0.9049, "pass"), (0.9051, "fail"), (0.5, "improved")],
)
def test_a_lower_is_better_metric_flips_the_rules(value, verdict):
    rows = judge(measured(value=value, higher=False, metric="loss"), DEFAULT_BUDGET, golden(name="loss"))
    assert row(rows, "loss").verdict == verdict


def test_min_accuracy_is_a_ceiling_when_lower_is_better():
    budget = Budget(min_accuracy=0.3)
    assert row(judge(measured(value=0.31, higher=False, metric="loss"), budget, None), "loss").verdict == "fail"
    assert row(judge(measured(value=0.29, higher=False, metric="loss"), budget, None), "loss").verdict == "new"
    assert row(judge(measured(value=0.29), budget, None), "accuracy").verdict == "fail"


def test_a_golden_of_another_metric_is_not_compared():
    r = row(judge(measured(value=0.1), DEFAULT_BUDGET, golden(name="auc")), "accuracy")
    assert (r.golden, r.verdict) == (None, "new")


@pytest.mark.parametrize(
    ("value", "float32", "verdict"),
    [(0.90, 0.92, "pass"), (0.89, 0.92, "fail"), (0.91, 0.92, "improved"), (0.95, 0.92, "improved")],
)
def test_drop_against_float32(value, float32, verdict):
    budget = Budget(max_accuracy_drop=0.02)
    r = row(judge(measured(value=value, float32=float32), budget, golden()), "accuracy drop vs float32")
    assert r.verdict == verdict
    assert r.measured == pytest.approx(float32 - value)


def test_drop_without_float32_value_is_not_checked():
    rows = judge(measured(float32=None), Budget(max_accuracy_drop=0.0), golden())
    assert "accuracy drop vs float32" not in [r.metric for r in rows]


def test_no_metric_no_metric_rows():
    m = Measurement(size_bytes=1, gzip_size_bytes=1)
    assert [r.metric for r in judge(m, DEFAULT_BUDGET, None)] == ["size_bytes", "gzip_size_bytes"]


# --- judging: the metric's change with its confidence interval -------------------------


def scores(samples=450, right=0.9, lost=0, gained=0):
    """0/1 scores of ``samples`` samples, then the same with ``lost`` right answers turned
    wrong and ``gained`` wrong ones turned right."""
    import numpy as np

    reference = (np.random.default_rng(5).random(samples) < right).astype(float)
    current = reference.copy()
    current[np.flatnonzero(reference == 1)[:lost]] = 0
    current[np.flatnonzero(reference == 0)[:gained]] = 1
    return tuple(current.tolist()), tuple(reference.tolist())


def paired_golden(reference, **extra):
    from pytest_tflite.gate.golden import per_sample_entry

    data = golden(value=sum(reference) / len(reference), **extra)
    data["metric"].update(per_sample_entry(reference))
    return data


def with_scores(current, float32_scores=None, **kwargs):
    float32 = sum(float32_scores) / len(float32_scores) if float32_scores else None
    m = measured(value=sum(current) / len(current), float32=float32, **kwargs)
    return dataclasses.replace(m, per_sample=current, float32_per_sample=float32_scores)


SIGNIFICANT = DEFAULT_BUDGET.merged(Budget(significance=0.05))


@pytest.mark.parametrize(("lost", "plain", "gated"), [(0, "pass", "pass"), (3, "fail", "pass"), (30, "fail", "fail")])
def test_significance_fails_only_a_loss_against_the_baseline_beyond_noise(lost, plain, gated):
    current, reference = scores(lost=lost)
    m, baseline = with_scores(current), paired_golden(reference)
    assert row(judge(m, DEFAULT_BUDGET, baseline), "accuracy").verdict == plain
    judged = row(judge(m, SIGNIFICANT, baseline), "accuracy")
    assert judged.verdict == gated
    assert judged.interval.lost == lost and judged.interval.confidence == 0.95
    assert judged.budget_text == ">= golden - 0.005 at 95 % confidence"


def test_the_interval_is_shown_also_without_significance():
    current, reference = scores(lost=2)
    judged = row(judge(with_scores(current), DEFAULT_BUDGET, paired_golden(reference)), "accuracy")
    assert judged.interval.change == pytest.approx(-2 / 450) and judged.interval.high == 0.0
    assert judged.budget_text == ">= golden - 0.005"
    text = format_comparisons([judged])
    assert text.splitlines()[0].split()[-2:] == ["paired", "change"]
    assert "-0.4 pt, 95 % CI -1.1 to ±0.0 (McNemar p 0.5, 2 lost, 0 gained)" in text


def test_a_stricter_significance_widens_the_interval_it_judges():
    current, reference = scores(lost=8)
    baseline = paired_golden(reference)
    loose = row(judge(with_scores(current), DEFAULT_BUDGET.merged(Budget(significance=0.2)), baseline), "accuracy")
    strict = row(judge(with_scores(current), DEFAULT_BUDGET.merged(Budget(significance=0.01)), baseline), "accuracy")
    assert strict.interval.confidence == 0.99 and loose.interval.confidence == pytest.approx(0.8)
    assert strict.interval.low < loose.interval.low and strict.interval.high >= loose.interval.high
    assert (loose.verdict, strict.verdict) == ("fail", "pass")


@pytest.mark.parametrize(("lost", "plain", "gated"), [(3, "fail", "new"), (40, "fail", "fail")])  # new: no baseline
def test_significance_judges_the_drop_against_float32_by_its_interval(lost, plain, gated):
    current, float32_scores = scores(lost=lost)
    m = with_scores(current, float32_scores)
    budget = Budget(max_accuracy_drop=0.005)
    assert row(judge(m, budget, None), "accuracy drop vs float32").verdict == plain
    judged = row(judge(m, budget.merged(Budget(significance=0.05)), None), "accuracy drop vs float32")
    assert judged.verdict == gated and judged.interval.lost == lost
    assert judged.budget_text == "<= 0.005 at 95 % confidence"


def test_a_lower_is_better_per_sample_score_flips_the_interval():
    current, reference = scores(lost=0, gained=30)  # 30 more "errors": worse for an error rate
    m = dataclasses.replace(with_scores(current, higher=False, metric="error"), per_sample=current)
    baseline = paired_golden(reference, name="error")
    baseline["metric"]["higher_is_better"] = False
    judged = row(judge(m, SIGNIFICANT, baseline), "error")
    assert judged.interval.low > 0 and judged.verdict == "fail"
    assert (judged.interval.lost, judged.interval.gained) == (30, 0), "30 more errors: 30 samples got worse"
    better = dataclasses.replace(m, value=sum(reference) / 450 - 30 / 450, per_sample=scores(lost=30)[0])
    assert row(judge(better, SIGNIFICANT, paired_golden(reference, name="error")), "error").verdict == "improved"


def test_a_baseline_recorded_without_per_sample_scores_still_judges_and_says_how_to_pair():
    current, reference = scores(lost=3)
    old = golden(value=sum(reference) / 450)
    for budget, verdict in ((DEFAULT_BUDGET, "fail"), (SIGNIFICANT, "fail")):  # the change alone, as before
        judged = row(judge(with_scores(current), budget, old), "accuracy")
        assert judged.verdict == verdict and judged.interval is None
        assert judged.note == (
            "no paired interval: the baseline has no per-sample scores (--tflite-update-golden records them)"
        )
        assert judged.budget_text == ">= golden - 0.005"
    assert "records them" in format_comparisons(judge(with_scores(current), DEFAULT_BUDGET, old))


def test_scores_of_the_samples_in_another_order_are_not_paired():
    current, reference = scores(lost=3)
    baseline = paired_golden(reference)
    baseline["metric"]["labels_digest"] = "0123456789abcdef"
    m = dataclasses.replace(with_scores(current), labels_digest="fedcba9876543210")
    judged = row(judge(m, SIGNIFICANT, baseline), "accuracy")
    assert judged.interval is None
    assert "another order (the labels differ)" in judged.note
    same = dataclasses.replace(m, labels_digest="0123456789abcdef")
    assert row(judge(same, SIGNIFICANT, baseline), "accuracy").interval is not None


def test_a_changed_evaluation_set_is_not_paired():
    current = scores(samples=460, lost=2)[0]
    judged = row(judge(with_scores(current), SIGNIFICANT, paired_golden(scores(samples=450)[1])), "accuracy")
    assert judged.interval is None
    assert judged.note.startswith("no paired interval: the baseline scored 450 samples, this run 460")


def test_a_metric_without_per_sample_scores_says_so_only_when_significance_asks():
    plain = row(judge(measured(value=0.89), DEFAULT_BUDGET, golden()), "accuracy")
    assert (plain.interval, plain.note, plain.verdict) == (None, None, "fail")
    gated = row(judge(measured(value=0.89), SIGNIFICANT, golden()), "accuracy")
    assert gated.verdict == "fail" and "gives no per-sample scores" in gated.note
    assert "paired change" not in format_comparisons([plain])


def test_a_drop_without_the_float32_scores_says_so_under_significance():
    current, float32_scores = scores(lost=3)
    m = dataclasses.replace(with_scores(current, float32_scores), float32_per_sample=None)
    judged = row(judge(m, Budget(max_accuracy_drop=0.005, significance=0.05), None), "accuracy drop vs float32")
    assert judged.verdict == "fail" and judged.interval is None
    assert judged.note == "no paired interval: the float32 conversion's per-sample scores are not known"


def test_significance_in_the_ini_form():
    scopes = parse_budget_lines(["significance=0.05", "int8: significance=1%", "float16: significance=off"])
    assert scopes["*"].significance == 0.05 and scopes["int8"].significance == 0.01
    assert budget_for(scopes, "m", "float16").significance == math.inf
    current, reference = scores(lost=3)
    off = row(judge(with_scores(current), budget_for(scopes, "m", "float16"), paired_golden(reference)), "accuracy")
    assert off.verdict == "fail" and off.budget_text == ">= golden - 0.005"


@pytest.mark.parametrize("line", ["significance=0", "significance=1", "significance=150%", "significance=-0.1"])
def test_a_significance_outside_0_to_1_is_refused(line):
    with pytest.raises(BudgetError, match="significance.*is out of range.*a probability between 0 and 1"):
        parse_budget_lines([line])


@pytest.mark.parametrize("bad", [0.0, 1.0, 5, "0.05", True])
def test_a_budget_object_with_a_bad_significance_is_refused(bad):
    with pytest.raises(BudgetError, match="significance is a probability between 0 and 1") as info:
        Budget(significance=bad)
    assert "Budget(significance=0.05)" in info.value.hint


# --- judging: operators on targets ----------------------------------------------------


def placed(on, total=10):
    return golden(targets={"edgetpu": {"verdict": "partial", "ops_on_target": on, "ops_total": total}})


@pytest.mark.parametrize(
    ("on", "tolerance", "verdict"),
    [(8, 0, "pass"), (7, 0, "fail"), (7, 1, "pass"), (6, 1, "fail"), (9, 0, "improved")],
)
def test_operators_on_target_against_golden(on, tolerance, verdict):
    budget = DEFAULT_BUDGET.merged(Budget(golden_on_target_tolerance=tolerance))
    r = row(judge(measured(on_target={"edgetpu": (on, 10)}), budget, placed(8)), "ops on edgetpu")
    assert r.verdict == verdict
    assert (r.golden, r.measured, r.delta) == ("8/10", f"{on}/10", on - 8)


def test_min_on_target_is_a_fraction():
    budget = Budget(min_on_target=0.9)
    assert row(judge(measured(on_target={"gpu": (9, 10)}), budget, None), "ops on gpu").verdict == "new"
    assert row(judge(measured(on_target={"gpu": (8, 10)}), budget, None), "ops on gpu").verdict == "fail"


def test_a_target_missing_from_golden_is_new():
    rows = judge(measured(on_target={"gpu": (1, 10)}), DEFAULT_BUDGET, placed(8))
    assert row(rows, "ops on gpu").verdict == "new"


# --- judging: the figures a target's tool measures ----------------------------------


def on_npu(**figures):
    entry = {"verdict": "compatible", "ops_on_target": 10, "ops_total": 10, **figures}
    return golden(targets={"ethos-u55": entry})


def npu_measured(**figures):
    return dataclasses.replace(
        measured(on_target={"ethos-u55": (10, 10)}), target_figures={"ethos-u55": figures}
    )


@pytest.mark.parametrize(
    ("figure", "value", "verdict"),
    [
        ("sram_bytes", 10_100, "pass"),
        ("sram_bytes", 10_101, "fail"),
        ("sram_bytes", 9_000, "improved"),
        ("cycles", 10_200, "fail"),
        ("inference_us", 10_000.0, "pass"),
        ("inference_us", 10_150.5, "fail"),
        ("arena_bytes", 9_999, "improved"),
    ],
)
def test_target_figures_are_judged_like_sizes(figure, value, verdict):
    rows = judge(npu_measured(**{figure: value}), DEFAULT_BUDGET, on_npu(**{figure: 10_000}))
    r = row(rows, f"{figure} on ethos-u55")
    assert (r.verdict, r.golden, r.measured, r.target) == (verdict, 10_000, value, "ethos-u55")
    assert "<= golden + 1%" in r.budget_text


def test_a_figure_has_an_absolute_bound_and_a_tolerance_of_its_own():
    budget = DEFAULT_BUDGET.merged(Budget(max_flash_bytes=20_000, golden_flash_tolerance=0.5))
    rows = judge(npu_measured(flash_bytes=14_000), budget, on_npu(flash_bytes=10_000))
    assert row(rows, "flash_bytes on ethos-u55").verdict == "pass"
    rows = judge(npu_measured(flash_bytes=20_001), budget, on_npu(flash_bytes=20_000))
    assert row(rows, "flash_bytes on ethos-u55").verdict == "fail"


def test_a_figure_without_a_baseline_is_new_and_one_not_measured_has_no_row():
    rows = judge(npu_measured(dram_bytes=5), DEFAULT_BUDGET, on_npu())
    assert row(rows, "dram_bytes on ethos-u55").verdict == "new"
    assert not [r for r in rows if r.metric.startswith("sram_bytes")]


def test_figure_budgets_read_from_the_ini_form():
    scopes = parse_budget_lines(
        ["max_arena_bytes=40KiB, max_sram_bytes=12 KB, max_cycles=50000, max_inference_us=81.5",
         "full_int8: golden_cycles_tolerance=5%, golden_inference_tolerance=off"]
    )
    budget = budget_for(scopes, "m", "full_int8")
    assert (budget.max_arena_bytes, budget.max_sram_bytes) == (40 * 1024, 12_000)
    assert (budget.max_cycles, budget.max_inference_us) == (50_000, 81.5)
    assert budget.golden_cycles_tolerance == 0.05 and budget.golden_inference_tolerance == math.inf
    with pytest.raises(BudgetError, match="max_cycles"):
        parse_budget_lines(["max_cycles=1.5"])


# --- the table ------------------------------------------------------------------------


def test_table_and_failures():
    budget = DEFAULT_BUDGET.merged(Budget(max_accuracy_drop=0.02))
    rows = judge(measured(size=11_000, value=0.95, on_target={"edgetpu": (8, 10)}), budget, placed(8))
    text = format_comparisons(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["metric", "golden", "measured", "delta", "budget", "verdict"]
    size_line = next(line for line in lines if line.startswith("size_bytes"))
    assert "+1000 (+10.00%)" in size_line and size_line.rstrip().endswith("fail")
    assert "<= golden + 1%" in size_line
    assert [r.metric for r in failures(rows)] == ["size_bytes"]
    assert "improved" in next(line for line in lines if line.startswith("accuracy "))


def test_measure_reads_model_evaluation_and_reports():
    model = SimpleNamespace(size_bytes=100, gzip_size_bytes=80)
    fidelity = SimpleNamespace(to_dict=lambda: {"agreement": 1.0})
    evaluation = SimpleNamespace(
        metric="accuracy", value=0.5, higher_is_better=True, fidelity=fidelity, kernels="reference",
        per_sample=(1.0, 0.0), labels_digest="0123456789abcdef",
    )
    cpu = SimpleNamespace(target="cpu", ops_on_target=3, ops_total=4, details={"runs": True})
    micro = SimpleNamespace(target="tflm", ops_on_target=4, ops_total=4, details={"arena_bytes": 16768, "x": 1})
    m = measure(model, evaluation, float32_value=0.6, float32_per_sample=(1.0, 1.0),
                float32_labels_digest="0123456789abcdef", reports=[cpu, micro])
    assert m == Measurement(
        100, 80, "accuracy", 0.5, True, 0.6, {"agreement": 1.0}, {"cpu": (3, 4), "tflm": (4, 4)},
        target_figures={"tflm": {"arena_bytes": 16768}}, kernels="reference",
        per_sample=(1.0, 0.0), float32_per_sample=(1.0, 1.0),
        labels_digest="0123456789abcdef", float32_labels_digest="0123456789abcdef",
    )
    assert measure(model) == Measurement(100, 80)
