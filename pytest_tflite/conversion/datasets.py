"""Turning the many shapes of user data into samples a model can take.

Accepted: a numpy array (samples along the first axis), a list of samples, a tuple
``(x, y)`` (features first, labels ignored), a dict of input name to array, a
generator or generator function (TensorFlow's ``representative_dataset`` idiom,
``yield [x]``), or a ``tf.data.Dataset``. Samples are checked against the model's
declared inputs here, so a mismatch is reported in words rather than as a converter
crash.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import DatasetError
from .sources import InputSpec

Sample = list[np.ndarray]
"""One sample: an array per model input, each with a leading batch dimension of 1."""

DATA_FORMS = (
    "a numpy array of samples, a list of samples, a tuple (x, y), a dict of input name "
    "to array, a generator (or a function returning one) or a tf.data.Dataset"
)


def take_samples(
    data: Any,
    specs: Sequence[InputSpec],
    count: int,
    *,
    source: str | None = None,
    mode: str | None = None,
    purpose: str = "representative dataset",
) -> list[Sample]:
    """Up to ``count`` single samples from ``data``, checked against ``specs``."""
    where = _Where(source, mode, purpose)
    if count < 1:
        raise where.error(f"asked for {count} samples from the {purpose}", "Use a sample count of at least 1")
    samples: list[Sample] = []
    for element in _elements(data, specs, where):
        for sample in _split(_as_inputs(element, specs, where)):
            _check(sample, specs, len(samples), where)
            samples.append(sample)
            if len(samples) == count:
                return samples
    if not samples:
        hint = f"Give at least one sample ({DATA_FORMS})"
        if isinstance(data, Iterator):
            hint = "This generator is exhausted (a generator can be read only once); pass a "
            hint += "function that returns a new generator each time"
        raise where.error(f"the {purpose} is empty", hint)
    return samples


def digest(samples: Iterable[Sample]) -> str:
    """A content digest of samples, so calibration data is part of a cache key."""
    h = hashlib.sha256()
    for sample in samples:
        for array in sample:
            h.update(f"{array.dtype}{array.shape}".encode())
            h.update(np.ascontiguousarray(array).tobytes())
    return h.hexdigest()


def raw_digest(data: Any) -> str | None:
    """A content digest of data as the user gave it (arrays, numbers, and lists, tuples
    and dicts of them), or None for what cannot be read twice or hashed without
    TensorFlow (generators, functions, datasets, tensors)."""
    h = hashlib.sha256()
    return h.hexdigest() if _hash_raw(h, data) else None


def _hash_raw(h: Any, data: Any) -> bool:
    if isinstance(data, np.ndarray):
        if data.dtype == object:
            return False
        h.update(f"array{data.dtype}{data.shape}".encode())
        h.update(np.ascontiguousarray(data).tobytes())
        return True
    if data is None or isinstance(data, (bool, int, float, str, np.generic)):
        h.update(f"{type(data).__name__}:{data!r}".encode())
        return True
    if isinstance(data, (list, tuple)):
        h.update(f"{type(data).__name__}{len(data)}".encode())
        return all(_hash_raw(h, item) for item in data)
    if isinstance(data, dict) and all(isinstance(k, str) for k in data):
        h.update(f"dict{sorted(data)}".encode())
        return all(_hash_raw(h, data[k]) for k in sorted(data))
    return False


@dataclasses.dataclass(frozen=True)
class _Where:
    """Which model, mode and dataset an error is about."""

    source: str | None
    mode: str | None
    purpose: str

    def error(self, problem: str, hint: str | None = None) -> DatasetError:
        return DatasetError(problem, source=self.source, mode=self.mode, hint=hint)


def _one_array_per_input(data: Any, specs: Sequence[InputSpec]) -> bool:
    """``[xa, xb]`` for a two-input model: whole arrays, one per input, as ``predict`` takes."""
    return (
        len(specs) > 1
        and isinstance(data, list)
        and len(data) == len(specs)
        and all(isinstance(a, np.ndarray) and a.ndim == len(s.shape) for a, s in zip(data, specs))
    )


def _elements(data: Any, specs: Sequence[InputSpec], where: _Where) -> Iterator[Any]:
    if data is None:
        raise where.error(f"no {where.purpose} was given", f"Pass {DATA_FORMS}")
    if isinstance(data, (np.ndarray, dict)) or _one_array_per_input(data, specs):
        yield data
        return
    if isinstance(data, tuple):
        if data:  # (x, y): features first; an empty tuple holds no samples
            yield data
        return
    if hasattr(data, "as_numpy_iterator"):
        yield from data.as_numpy_iterator()
        return
    if callable(data) and not hasattr(data, "__iter__"):
        data = data()
    if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
        raise where.error(
            f"the {where.purpose} is a {type(data).__name__}, which holds no samples",
            f"Pass {DATA_FORMS}",
        )
    yield from data


def _as_inputs(element: Any, specs: Sequence[InputSpec], where: _Where) -> list[np.ndarray]:
    """One element as an array per input, each with a batch dimension."""
    if isinstance(element, dict):
        missing = [s.name for s in specs if s.name not in element]
        if len(specs) == 1 and missing and len(element) == 1:
            arrays = list(element.values())
        elif missing:
            raise where.error(
                f"the {where.purpose} has no entry for input(s) {', '.join(missing)}",
                f"Name the entries after the model's inputs: {', '.join(s.name for s in specs)}",
            )
        else:
            arrays = [element[s.name] for s in specs]
    elif isinstance(element, (list, tuple)) and len(element) and not _is_number_row(element):
        arrays = list(element[: len(specs)])
    else:
        arrays = [element]
    if len(arrays) != len(specs):
        raise where.error(
            f"a sample of the {where.purpose} has {len(arrays)} input(s) but the model "
            f"takes {len(specs)}",
            "Give one array per model input, in the model's input order",
        )
    return [_with_batch(np.asarray(a), spec, where) for a, spec in zip(arrays, specs)]


def _is_number_row(element: Sequence[Any]) -> bool:
    return isinstance(element[0], (int, float, np.number))


def _with_batch(array: np.ndarray, spec: InputSpec, where: _Where) -> np.ndarray:
    rank = len(spec.shape)
    if array.ndim == rank - 1:
        array = array[np.newaxis, ...]
    if array.ndim != rank:
        raise where.error(
            f"a sample of the {where.purpose} has shape {tuple(array.shape)} but input "
            f"{spec.name!r} expects {_shape_text(spec.shape)}",
            "Reshape the data to the model's input shape (with or without the batch axis)",
        )
    return array.astype(_numpy_dtype(spec.dtype), copy=False)


def _split(arrays: list[np.ndarray]) -> Iterator[Sample]:
    batch = min(a.shape[0] for a in arrays)
    for i in range(batch):
        yield [a[i : i + 1] for a in arrays]


def _check(sample: Sample, specs: Sequence[InputSpec], index: int, where: _Where) -> None:
    for array, spec in zip(sample, specs):
        _check_array(array, spec, where, f"sample {index} of the {where.purpose}")


def _check_array(array: np.ndarray, spec: InputSpec, where: _Where, subject: str) -> None:
    """The non-batch dimensions fit the input and the values are finite."""
    if any(e is not None and e != a for e, a in zip(spec.shape[1:], array.shape[1:])):
        raise where.error(
            f"{subject} has shape {tuple(array.shape[1:])} but input {spec.name!r} expects "
            f"{_shape_text(spec.shape)}",
            "Reshape the data to the model's input shape, or check that it is the "
            "dataset meant for this model",
        )
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        raise where.error(
            f"{subject} holds NaN or infinite values", "Clean or normalise the data before using it"
        )


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "(" + ", ".join("batch" if i == 0 else str(d) for i, d in enumerate(shape)) + ")"


def _numpy_dtype(name: str) -> np.dtype:
    try:
        return np.dtype(name)
    except TypeError:
        return np.dtype(np.float32)


TRAINING_FORMS = (
    "a tuple (x, y) of features and labels (x an array, a list of arrays in the model's "
    "input order or a dict of input name to array) or a tf.data.Dataset of (x, y) pairs, "
    "batched or not"
)


@dataclasses.dataclass(frozen=True)
class TrainingSet:
    """Features (an array per model input, samples first) and their labels."""

    x: list[np.ndarray]
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def digest(self) -> str:
        return digest([[*self.x, self.y]])


def take_training_set(
    data: Any, specs: Sequence[InputSpec], *, source: str | None = None, mode: str | None = None
) -> TrainingSet:
    """All of ``data`` as arrays, checked against ``specs``, with one label per sample."""
    where = _Where(source, mode, "training data")
    pairs = list(_training_pairs(data, where))
    batches = [_training_batch(x, y, specs, where) for x, y in pairs]
    if not batches or not sum(len(y) for _, y in batches):
        raise where.error("the training data is empty", f"Give at least one sample ({TRAINING_FORMS})")
    x = [np.concatenate([b[0][i] for b in batches]) for i in range(len(specs))]
    y = np.concatenate([b[1] for b in batches])
    for array, spec in zip(x, specs):
        _check_array(array, spec, where, "a sample of the training data")
    if np.issubdtype(y.dtype, np.floating) and not np.all(np.isfinite(y)):
        raise where.error("the training labels hold NaN or infinite values", "Clean the labels")
    return TrainingSet(x=x, y=y)


def _training_pairs(data: Any, where: _Where) -> Iterator[tuple[Any, Any]]:
    if data is None:
        raise where.error("no training data was given", f"Pass {TRAINING_FORMS}")
    if hasattr(data, "as_numpy_iterator"):
        elements: Iterable[Any] = data.as_numpy_iterator()
    elif isinstance(data, tuple):
        elements = [data]
    else:
        raise where.error(
            f"the training data is a {type(data).__name__}, not features with labels",
            f"Pass {TRAINING_FORMS}",
        )
    for element in elements:
        if not (isinstance(element, tuple) and len(element) == 2):
            raise where.error(
                "the training data has no labels: each element must be a pair (x, y)",
                f"Pass {TRAINING_FORMS}",
            )
        yield element


def _training_batch(
    x: Any, y: Any, specs: Sequence[InputSpec], where: _Where
) -> tuple[list[np.ndarray], np.ndarray]:
    """One (x, y) pair as arrays with a batch axis; an unbatched pair becomes a batch of 1."""
    first = x[specs[0].name] if isinstance(x, dict) and specs[0].name in x else x
    if isinstance(first, (list, tuple)) and len(specs) > 1:
        first = first[0]
    unbatched = np.asarray(first).ndim == len(specs[0].shape) - 1
    arrays = _as_inputs(x, specs, where)
    labels = np.asarray(y)
    if unbatched:
        labels = labels[np.newaxis, ...]
    counts = {len(a) for a in arrays}
    if labels.ndim == 0 or counts != {len(labels)}:
        shown = "no" if labels.ndim == 0 else len(labels)
        raise where.error(
            f"the training data has {', '.join(map(str, sorted(counts)))} sample(s) but "
            f"{shown} label(s)",
            "Give one label per sample: x and y must have the same length",
        )
    return arrays, labels
