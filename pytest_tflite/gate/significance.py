"""Whether a change is more than noise: a paired interval for accuracy, the spread for latency.

On 450 evaluation images one changed prediction moves accuracy by 0.22 points, so a fixed
tolerance cannot tell a real loss from a handful of flipped predictions. Both models are
scored on the same samples, so the change is paired: resampling the samples (a paired
bootstrap) gives an interval of the change, and McNemar's exact test a p-value from the
predictions that differ. Seeded, so a run repeats bit for bit.

numpy is imported inside the functions that compute: the plugin's start-up and the session
report read these results without loading it.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import EvaluationError

if TYPE_CHECKING:
    import numpy as np

CONFIDENCE = 0.95
"""The confidence of an interval no budget asks another one of."""
RESAMPLES = 2000
SEED = 0
_BLOCK = 1 << 20
"""Elements of one block of resamples: memory stays bounded on large sets."""
_FEW_VALUES = 64
"""Up to this many distinct differences, a resample is drawn as their counts; beyond, as
indices of the samples (the same bootstrap, faster when nearly every difference differs)."""


@dataclasses.dataclass(frozen=True)
class Change:
    """The change of a per-sample score's mean between two models on the same samples
    (current minus reference), with its percentile interval at ``confidence``.

    For 0/1 scores (correct or not) ``lost`` counts the samples the reference had right and
    the current model wrong, ``gained`` the other way round, and ``p_value`` is McNemar's
    exact test on them; all three are None for other scores.
    """

    change: float
    low: float
    high: float
    confidence: float
    samples: int
    p_value: float | None = None
    lost: int | None = None
    gained: int | None = None

    @property
    def binary(self) -> bool:
        """Whether the scores were 0/1: the change is then a fraction, shown in points."""
        return self.p_value is not None

    def gain(self, higher_is_better: bool) -> tuple[float, float]:
        """The interval of how much better the current model is, whatever the metric's direction."""
        return (self.low, self.high) if higher_is_better else (-self.high, -self.low)

    def text(self, p_value: bool = False) -> str:
        """``-0.4 pt, 95 % CI -0.9 to +0.1``: points (100 x fraction) for 0/1 scores."""
        if self.binary:
            low, high, change = (signed(v * 100, ".1f") for v in (self.low, self.high, self.change))
            text = f"{change} pt, {self.confidence * 100:g} % CI {low} to {high}"
        else:
            low, high, change = (signed(v, ".4g") for v in (self.low, self.high, self.change))
            text = f"{change}, {self.confidence * 100:g} % CI {low} to {high}"
        if p_value and self.p_value is not None:
            text += f" (McNemar p {self.p_value:.2g}, {self.lost} lost, {self.gained} gained)"
        return text

    def to_dict(self) -> dict[str, float | int | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Change:
        def count(name: str) -> int | None:
            found = record.get(name)
            return None if found is None else int(found)

        p_value = record.get("p_value")
        return cls(
            float(record["change"]),
            float(record["low"]),
            float(record["high"]),
            float(record["confidence"]),
            int(record["samples"]),
            None if p_value is None else float(p_value),
            count("lost"),
            count("gained"),
        )


def signed(value: float, spec: str) -> str:
    """``value`` with its sign; ``±`` when it rounds to zero."""
    text = format(abs(value), spec)
    if not any(ch in "123456789" for ch in text):
        return "±" + text
    return ("+" if value > 0 else "-") + text


def paired_change(
    current: Sequence[float] | np.ndarray,
    reference: Sequence[float] | np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    higher_is_better: bool = True,
) -> Change:
    """The paired bootstrap interval of ``mean(current) - mean(reference)``, the two being
    one score per sample of the same samples in the same order. For 0/1 scores, ``lost``
    counts the samples that got worse (by ``higher_is_better``) and ``gained`` the better.

    Resampling the pairs only ever draws the per-sample differences, so a resample is a
    multinomial draw of how often each distinct difference occurs: the same bootstrap, and
    for 0/1 scores (three distinct differences) cheap on any number of samples.
    """
    import numpy as np

    if not 0 < confidence < 1:
        raise EvaluationError(
            f"a confidence interval needs a confidence between 0 and 1, not {confidence}",
            hint="Give a budget's significance as a probability such as 0.05",
        )
    now, then = (np.asarray(scores, dtype=np.float64).ravel() for scores in (current, reference))
    if len(now) != len(then) or not len(now):
        raise EvaluationError(
            f"a paired interval needs the same samples scored twice, not {len(now)} and {len(then)} scores",
            hint="Score both models on the same evaluation data",
        )
    if not (np.all(np.isfinite(now)) and np.all(np.isfinite(then))):
        raise EvaluationError(
            "a per-sample score is NaN or infinite", hint="Check the metric's per-sample function"
        )
    samples, differences = len(now), now - then
    values, counts = np.unique(differences, return_counts=True)
    rng = np.random.default_rng(seed)

    def resampled(size: int) -> np.ndarray:
        if len(values) <= _FEW_VALUES:
            means: np.ndarray = rng.multinomial(samples, counts / samples, size=size) @ values / samples
        else:
            means = differences[rng.integers(0, samples, size=(size, samples))].mean(axis=1)
        return means

    block = max(1, _BLOCK // (len(values) if len(values) <= _FEW_VALUES else samples))
    means = np.concatenate([resampled(min(block, resamples - start)) for start in range(0, resamples, block)])
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    change = float(np.dot(values, counts) / samples)
    lost = gained = p_value = None
    if is_binary(now) and is_binary(then):
        lost, gained = int(np.sum((then == 1) & (now == 0))), int(np.sum((then == 0) & (now == 1)))
        if not higher_is_better:  # a 1 is an error: losing it is a gain
            lost, gained = gained, lost
        p_value = mcnemar_p(lost, gained)
    return Change(change, float(low), float(high), confidence, samples, p_value, lost, gained)


def mcnemar_p(lost: int, gained: int) -> float:
    """McNemar's exact test: the two-sided binomial p-value of ``lost`` against ``gained``
    discordant pairs, each equally likely under "no change"."""
    if lost < 0 or gained < 0:
        raise ValueError(f"discordant counts are not negative, not {lost} and {gained}")
    pairs = lost + gained
    if pairs == 0:
        return 1.0
    term = tail = 1  # math.comb(pairs, k) from k = 0, each term exactly from the one before
    for k in range(min(lost, gained)):
        term = term * (pairs - k) // (k + 1)
        tail += term
    return min(1.0, float(2 * tail / (1 << pairs)))  # integer division rounds once, also past 2**1024


def is_binary(scores: Sequence[float] | np.ndarray) -> bool:
    """Whether every score is 0 or 1 (a prediction right or wrong)."""
    return all(score in (0, 1) for score in _plain(scores))


# --- the compact form of 0/1 scores ------------------------------------------------------


def pack(scores: Sequence[float] | np.ndarray) -> str:
    """0/1 scores as base64 text of their bits, eight samples a byte, the first sample in
    the high bit (``numpy.packbits``' order), the last byte padded with zeros."""
    bits = _plain(scores)
    if not is_binary(bits):
        raise ValueError("only 0/1 scores pack into bits")
    raw = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            raw[index // 8] |= 0x80 >> (index % 8)
    return base64.b64encode(bytes(raw)).decode("ascii")


def unpack(text: str, samples: int) -> tuple[float, ...]:
    """The 0/1 scores of ``samples`` samples :func:`pack` wrote; ValueError (saying what is
    wrong) when ``text`` cannot be that."""
    if not isinstance(text, str) or isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError("expected base64 text and a positive sample count")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError("not base64 text") from None
    if len(raw) != (samples + 7) // 8:
        raise ValueError(f"{len(raw) * 8} bits where {samples} samples take {(samples + 7) // 8 * 8}")
    if samples % 8 and raw[-1] & (0xFF >> (samples % 8)):
        raise ValueError("the padding bits after the last sample are not zero")
    return tuple(float((raw[i // 8] >> (7 - i % 8)) & 1) for i in range(samples))


def _plain(scores: Sequence[float] | np.ndarray) -> list[float]:
    tolist = getattr(scores, "tolist", None)
    found = tolist() if tolist is not None else list(scores)
    return list(found) if isinstance(found, list) else [found]


# --- latency -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class LatencyChange:
    """A median latency against a saved run's, and the runs' own spread: the larger of the
    two interquartile ranges. A median that moved by less is within the noise of timing."""

    old_median: float
    new_median: float
    spread: float

    @property
    def relative(self) -> float:
        return self.new_median / self.old_median - 1 if self.old_median else 0.0

    @property
    def beyond_spread(self) -> bool:
        return abs(self.new_median - self.old_median) > self.spread

    def text(self) -> str:
        """``+12.0 %, beyond the runs' spread (IQR 3.1 %)``; the IQR is relative to the saved median."""
        where = "beyond" if self.beyond_spread else "within"
        spread = self.spread / self.old_median * 100 if self.old_median else 0.0
        return f"{signed(self.relative * 100, '.1f')} %, {where} the runs' spread (IQR {spread:.1f} %)"

    def to_dict(self) -> dict[str, float | bool]:
        return {**dataclasses.asdict(self), "relative": self.relative, "beyond_spread": self.beyond_spread}


def latency_change(old_stats: Any, new_stats: Any) -> LatencyChange:
    """Two runs' statistics (pytest-benchmark's ``stats``, as a mapping or an object with
    ``median`` and ``iqr``, both in one unit) as a :class:`LatencyChange`."""

    def read(stats: Any, name: str) -> float:
        value = stats.get(name) if isinstance(stats, Mapping) else getattr(stats, name, None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"latency statistics need a {name} that is a number, not {value!r}")
        return float(value)

    return LatencyChange(
        read(old_stats, "median"), read(new_stats, "median"), max(read(old_stats, "iqr"), read(new_stats, "iqr"))
    )
