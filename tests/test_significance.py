"""Paired intervals and McNemar's test for accuracy changes, the compact form of 0/1 scores,
and latency against a saved run's spread: known cases, worked by hand."""

from __future__ import annotations

import base64
import math

import numpy as np
import pytest

from pytest_tflite.errors import EvaluationError
from pytest_tflite.gate.significance import (
    Change,
    is_binary,
    latency_change,
    mcnemar_p,
    pack,
    paired_change,
    unpack,
)


def flipped(samples: int, lost: int, gained: int = 0, right: float = 0.9, seed: int = 3):
    """Reference and current 0/1 scores: the current one loses ``lost`` right answers and
    gains ``gained`` wrong ones."""
    reference = (np.random.default_rng(seed).random(samples) < right).astype(float)
    current = reference.copy()
    current[np.flatnonzero(reference == 1)[:lost]] = 0
    current[np.flatnonzero(reference == 0)[:gained]] = 1
    return current, reference


# --- McNemar's exact test -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lost", "gained", "p"),
    [
        (2, 0, 0.5),  # 2 * (1/2)**2
        (5, 1, 0.21875),  # 2 * (C(6,0) + C(6,1)) / 2**6 = 2 * 7 / 64
        (1, 5, 0.21875),
        (20, 0, 2 / 2**20),
        (3, 3, 1.0),  # the two tails overlap: capped at 1
        (0, 0, 1.0),
        (10, 2, 2 * (1 + 12 + 66) / 2**12),
    ],
)
def test_mcnemar_exact_p_values_worked_by_hand(lost, gained, p):
    assert mcnemar_p(lost, gained) == pytest.approx(p, rel=1e-12)


def test_mcnemar_on_many_discordant_pairs_stays_a_probability():
    assert 0 < mcnemar_p(2600, 2400) < 0.01
    assert mcnemar_p(5000, 0) == 0.0  # below the smallest float, not an overflow
    assert mcnemar_p(2500, 2500) == 1.0


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="not negative"):
        mcnemar_p(-1, 2)


# --- the paired interval -------------------------------------------------------------------


def test_two_discordant_pairs_out_of_100_are_not_significant():
    current, reference = flipped(100, lost=2)
    found = paired_change(current, reference)
    assert (found.lost, found.gained, found.samples) == (2, 0, 100)
    assert found.change == pytest.approx(-0.02)
    assert found.p_value == 0.5
    assert found.low < found.change <= found.high == 0.0  # no resample can gain: the interval reaches 0


def test_twenty_against_none_are_significant():
    current, reference = flipped(100, lost=20)
    found = paired_change(current, reference)
    assert (found.lost, found.gained) == (20, 0)
    assert found.p_value < 0.05
    assert found.change == pytest.approx(-0.2)
    assert found.low < found.change < found.high < 0


def test_identical_scores_have_an_interval_of_zero_to_zero():
    scores = flipped(50, lost=0)[1]
    found = paired_change(scores, scores)
    assert (found.change, found.low, found.high) == (0.0, 0.0, 0.0)
    assert (found.p_value, found.lost, found.gained) == (1.0, 0, 0)


@pytest.mark.parametrize("binary", [True, False])
def test_the_same_seed_repeats_bit_for_bit_and_another_seed_differs(binary):
    if binary:
        current, reference = flipped(450, lost=9, gained=4)
    else:
        reference = np.random.default_rng(0).random(450)
        current = reference + np.random.default_rng(1).normal(0, 0.05, 450)
    first, again = paired_change(current, reference), paired_change(current, reference)
    assert first == again and first.to_dict() == again.to_dict()
    other = paired_change(current, reference, seed=1)
    assert other.change == first.change
    if not binary:  # 0/1 scores put the bounds on a grid of 1/450: seeds often land on the same points
        assert (other.low, other.high) != (first.low, first.high)


def test_the_interval_is_the_one_resampling_the_pairs_gives():
    """Drawing how often each difference occurs is resampling the pairs: a plain bootstrap
    of 20,000 index resamples lands on the same percentiles, to its own noise."""
    current, reference = flipped(450, lost=12, gained=5)
    found = paired_change(current, reference, resamples=20_000)
    rng = np.random.default_rng(7)
    indices = rng.integers(0, 450, size=(20_000, 450))
    plain = (current[indices] - reference[indices]).mean(axis=1)
    low, high = np.percentile(plain, [2.5, 97.5])
    assert found.low == pytest.approx(low, abs=0.003)  # one sample is 0.0022
    assert found.high == pytest.approx(high, abs=0.003)
    assert found.change == pytest.approx(current.mean() - reference.mean())


def test_a_higher_confidence_gives_a_wider_interval():
    current, reference = flipped(300, lost=10, gained=3)
    narrow = paired_change(current, reference, confidence=0.8)
    wide = paired_change(current, reference, confidence=0.99)
    assert wide.low < narrow.low < narrow.change < narrow.high < wide.high
    assert (narrow.confidence, wide.confidence) == (0.8, 0.99)


def test_scores_that_are_not_0_1_get_an_interval_but_no_mcnemar():
    rng = np.random.default_rng(0)
    reference = rng.random(200)
    current = reference - 0.1 + rng.normal(0, 0.01, 200)
    found = paired_change(current, reference)
    assert found.p_value is None and found.lost is None and not found.binary
    assert found.high < 0 and found.change == pytest.approx(-0.1, abs=0.005)
    assert "pt" not in found.text()


def test_the_gain_follows_the_metric_direction():
    found = Change(change=-0.02, low=-0.05, high=0.01, confidence=0.95, samples=100)
    assert found.gain(higher_is_better=True) == (-0.05, 0.01)
    assert found.gain(higher_is_better=False) == (-0.01, 0.05)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        (
            Change(-0.004, -0.009, 0.001, 0.95, 450, 0.39, 5, 2),
            "-0.4 pt, 95 % CI -0.9 to +0.1",
        ),
        (Change(0.0, 0.0, 0.0, 0.99, 60, 1.0, 0, 0), "±0.0 pt, 99 % CI ±0.0 to ±0.0"),
        (Change(-0.0123, -0.02, -0.004, 0.9, 60), "-0.0123, 90 % CI -0.02 to -0.004"),
    ],
)
def test_the_text_form(change, text):
    assert change.text() == text


def test_the_text_can_name_the_test_and_the_discordant_counts():
    found = Change(-0.004, -0.009, 0.001, 0.95, 450, 0.39, 5, 2)
    assert found.text(p_value=True) == "-0.4 pt, 95 % CI -0.9 to +0.1 (McNemar p 0.39, 5 lost, 2 gained)"


def test_a_change_survives_its_dict():
    found = paired_change(*flipped(120, lost=4, gained=1))
    assert Change.from_dict(found.to_dict()) == found
    assert set(found.to_dict()) == {"change", "low", "high", "confidence", "p_value", "lost", "gained", "samples"}


@pytest.mark.parametrize(
    ("current", "reference", "kwargs", "message"),
    [
        ([1, 0, 1], [1, 0], {}, "the same samples scored twice, not 3 and 2 scores"),
        ([], [], {}, "not 0 and 0 scores"),
        ([1.0, math.nan], [1.0, 1.0], {}, "NaN or infinite"),
        ([1, 0], [1, 1], {"confidence": 95}, "between 0 and 1, not 95"),
    ],
    ids=["lengths", "empty", "nan", "confidence"],
)
def test_bad_input_is_a_clear_error(current, reference, kwargs, message):
    with pytest.raises(EvaluationError, match=message) as info:
        paired_change(current, reference, **kwargs)
    assert info.value.hint


# --- 0/1 scores as bits ------------------------------------------------------------------------


@pytest.mark.parametrize("samples", [1, 7, 8, 9, 60, 450])
def test_packed_scores_are_numpys_bits_in_base64_and_unpack_to_the_scores(samples):
    scores = (np.random.default_rng(samples).random(samples) < 0.7).astype(float)
    text = pack(scores)
    assert base64.b64decode(text) == np.packbits(scores.astype(np.uint8)).tobytes()
    assert unpack(text, samples) == tuple(scores.tolist())
    assert len(text) == 4 * math.ceil(math.ceil(samples / 8) / 3)


@pytest.mark.parametrize(
    ("text", "samples", "message"),
    [
        ("not base64!", 8, "not base64"),
        (pack([1] * 16), 20, "16 bits where 20 samples take 24"),
        (pack([1] * 9), 8, "16 bits where 8 samples take 8"),
        (base64.b64encode(b"\xff").decode(), 5, "padding bits after the last sample are not zero"),
        (pack([1]), 0, "a positive sample count"),
        (3, 1, "base64 text"),
    ],
)
def test_text_that_is_not_packed_scores_is_refused(text, samples, message):
    with pytest.raises(ValueError, match=message):
        unpack(text, samples)


def test_only_0_1_scores_pack():
    assert is_binary(np.array([0.0, 1.0, 1.0])) and is_binary([True, False])
    assert not is_binary([0.5, 1.0])
    with pytest.raises(ValueError, match="only 0/1 scores"):
        pack([0.5])


# --- latency against a saved run --------------------------------------------------------------


def stats_of(*seconds):
    from pytest_benchmark.stats import Stats

    stats = Stats()
    for value in seconds:
        stats.update(value)
    return stats


def test_a_median_that_moved_by_more_than_the_larger_iqr_is_beyond_the_spread():
    saved = {"median": 2.0, "iqr": 0.1, "mean": 2.1, "stddev": 0.3, "rounds": 50}
    slower = latency_change(saved, {"median": 2.3, "iqr": 0.2})
    assert slower.beyond_spread and slower.spread == 0.2
    assert slower.relative == pytest.approx(0.15)
    assert slower.text() == "+15.0 %, beyond the runs' spread (IQR 10.0 %)"
    noisy = latency_change(saved, {"median": 2.3, "iqr": 0.5})
    assert not noisy.beyond_spread
    assert noisy.text() == "+15.0 %, within the runs' spread (IQR 25.0 %)"
    faster = latency_change(saved, {"median": 1.5, "iqr": 0.1})
    assert faster.beyond_spread and faster.relative == pytest.approx(-0.25)


def test_latency_change_reads_pytest_benchmarks_statistics():
    saved = stats_of(0.0010, 0.0011, 0.0012, 0.0013, 0.0014)
    now = stats_of(0.0020, 0.0021, 0.0022, 0.0023, 0.0024)
    found = latency_change(saved.as_dict(), now)
    assert (found.old_median, found.new_median) == (saved.median, now.median)
    assert found.spread == max(saved.iqr, now.iqr) and found.beyond_spread
    assert found.to_dict()["beyond_spread"] is True


@pytest.mark.parametrize("bad", [{"median": 2.0}, {"median": "fast", "iqr": 0.1}, {"median": math.nan, "iqr": 0.1}])
def test_latency_statistics_without_a_number_are_refused(bad):
    with pytest.raises(ValueError, match="a number"):
        latency_change(bad, {"median": 1.0, "iqr": 0.1})
