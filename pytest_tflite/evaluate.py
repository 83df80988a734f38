"""Measuring a converted model on labelled data, and how far it strays from float32.

A quantized model is judged twice: by a task metric against the labels (does it still
do its job?) and by fidelity against the float32 conversion on the same inputs (how
much did quantization move the outputs?). The second needs no labels to be right, so
it catches damage a coarse metric on a small set would hide.

Outputs are read as class scores along the last axis; a single-unit output is read as
a probability with threshold 0.5, as Keras' ``binary_accuracy`` does.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .conversion.datasets import take_training_set
from .conversion.sources import InputSpec
from .errors import DatasetError, EvaluationError
from .model.runtime import plain_name

if TYPE_CHECKING:
    from .conversion.cache import ConversionCache
    from .conversion.datasets import TrainingSet
    from .model.flatbuffer import TFLiteModel

Outputs = np.ndarray | list[np.ndarray]
"""One array for a single-output model, a list of arrays (model order) otherwise."""

SQNR_IDENTICAL_DB = 300.0
"""The SQNR reported for outputs equal bit for bit, in place of infinity, so the value
stays a finite float (JSON-safe, comparable). No real difference reaches it: float32
noise of one unit in the last place is about 144 dB, plus 10*log10 of the element count."""


@dataclasses.dataclass(frozen=True)
class Metric:
    """A task metric: ``fn(outputs, labels) -> float``, and which way is better.

    ``per_sample(outputs, labels)``, when given, scores each sample on its own (one value
    per sample, their mean being the metric, such as 1/0 for a right or wrong top-1 class):
    comparing two models sample by sample then gives the change a confidence interval.
    """

    name: str
    fn: Callable[[Outputs, np.ndarray], float]
    higher_is_better: bool = True
    per_sample: Callable[[Outputs, np.ndarray], np.ndarray] | None = None


def top1_accuracy(outputs: Outputs, labels: np.ndarray) -> float:
    """Share of samples whose top-scoring class is the label.

    Labels are class indices (shape ``outputs.shape[:-1]``, a trailing axis of 1
    allowed) or one-hot / probability rows (shape ``outputs.shape``).
    """
    return float(np.mean(_top1_right(outputs, labels)))


def top1_correct(outputs: Outputs, labels: np.ndarray) -> np.ndarray:
    """Per sample, 1 when its top-scoring class is the label and 0 when not (for outputs
    with positions, such as a segmentation map, the share of its positions that are right)."""
    right = _top1_right(outputs, labels)
    scores: np.ndarray = right.reshape(len(right), -1).mean(axis=1)
    return scores


def _top1_right(outputs: Outputs, labels: np.ndarray) -> np.ndarray:
    """Whether each position's top-scoring class is its label."""
    if isinstance(outputs, (list, tuple)):
        raise EvaluationError(
            f"top-1 accuracy takes one output, but the model has {len(outputs)}",
            hint="Pass metric=Metric(name, fn) with a function that takes the list of outputs",
        )
    outputs = np.asarray(outputs)
    labels = np.asarray(labels)
    _check_rows(outputs, labels)
    right: np.ndarray = _classes(outputs) == _label_classes(outputs, labels)
    return right


ACCURACY = Metric("accuracy", top1_accuracy, per_sample=top1_correct)


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """How closely a model's outputs follow the reference's (normally the float32 conversion).

    ``agreement``: share of samples whose top-1 class matches on every output.
    ``sqnr_db``: 10*log10(sum(ref^2) / sum((ref - out)^2)) over all outputs, clamped to
    +-``SQNR_IDENTICAL_DB`` (the top value means identical outputs).
    """

    agreement: float
    mean_abs_error: float
    max_abs_error: float
    sqnr_db: float

    @property
    def identical(self) -> bool:
        return self.sqnr_db >= SQNR_IDENTICAL_DB

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """A metric's value for one model on one dataset, with its fidelity if measured."""

    metric: str
    value: float
    higher_is_better: bool
    samples: int
    fidelity: Fidelity | None = None
    kernels: str | None = None
    """The LiteRT kernels that computed it (``xnnpack`` or ``reference``)."""
    per_sample: tuple[float, ...] | None = None
    """Each sample's score, in the data's order, when the metric has a per-sample function."""
    labels_digest: str | None = None
    """A digest of the labels in the order scored: two runs' per-sample scores pair only
    when it is the same (a shuffled dataset or an unsorted file listing changes it)."""

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Evaluation:
        fidelity = record.get("fidelity")
        return cls(
            metric=str(record["metric"]),
            value=float(record["value"]),
            higher_is_better=bool(record["higher_is_better"]),
            samples=int(record["samples"]),
            fidelity=Fidelity(**fidelity) if fidelity is not None else None,
            kernels=record.get("kernels"),
            per_sample=_scores_from_record(record.get("per_sample"), int(record["samples"])),
            labels_digest=record.get("labels_digest"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON types only; 0/1 per-sample scores packed into base64 text of their bits
        (:func:`~pytest_tflite.gate.significance.pack`), as golden baselines keep them."""
        return {
            "metric": self.metric,
            "value": self.value,
            "higher_is_better": self.higher_is_better,
            "samples": self.samples,
            "fidelity": self.fidelity.to_dict() if self.fidelity else None,
            "kernels": self.kernels,
            "per_sample": _scores_record(self.per_sample),
            "labels_digest": self.labels_digest,
        }


def _scores_record(scores: tuple[float, ...] | None) -> str | list[float] | None:
    from .gate.significance import is_binary, pack

    if scores is None:
        return None
    return pack(scores) if is_binary(scores) else list(scores)


def _scores_from_record(found: Any, samples: int) -> tuple[float, ...] | None:
    """The scores :func:`_scores_record` wrote; ValueError for anything else."""
    from .gate.significance import unpack

    if found is None:
        return None
    if isinstance(found, str):
        return unpack(found, samples)
    if not isinstance(found, list) or len(found) != samples:
        raise ValueError("per-sample scores are base64 text or a list of one score per sample")
    return tuple(float(score) for score in found)


def evaluate(
    model: TFLiteModel,
    data: Any,
    *,
    metric: Metric | Callable[[Outputs, np.ndarray], float] = ACCURACY,
    reference: TFLiteModel | None = None,
    batch_size: int = 256,
    specs: Sequence[InputSpec] | None = None,
) -> Evaluation:
    """Run ``model`` over labelled ``data`` and score it; compare with ``reference`` if given.

    ``data`` takes the forms training data takes: ``(x, y)`` (x an array, a list of
    arrays or a dict by input name) or a ``tf.data.Dataset`` of pairs.
    """
    if not isinstance(metric, Metric):
        metric = Metric(getattr(metric, "__name__", "metric"), metric)
    specs = list(specs) if specs is not None else input_specs(model)
    dataset = _evaluation_set(data, specs, model)
    outputs = _predict(model, dataset, specs, batch_size)
    value = _score(metric, outputs, dataset.y, model)
    per_sample = _per_sample(metric, outputs, dataset.y, model, len(dataset))
    _require_mean(metric, value, per_sample, model)
    fidelity = None
    if reference is not None:
        fidelity = compare(_predict(reference, dataset, specs, batch_size), outputs, model)
    return Evaluation(
        metric.name,
        value,
        metric.higher_is_better,
        len(dataset),
        fidelity,
        kernels=model.runner.kernels,
        per_sample=per_sample,
        labels_digest=labels_digest(dataset.y) if per_sample is not None else None,
    )


EVALUATIONS = "evaluations"
"""The conversion cache's folder of evaluation results."""


def remembered(
    cache: ConversionCache, model: TFLiteModel, data: Any, metric: Metric, reference: TFLiteModel | None
) -> Evaluation:
    """:func:`evaluate`, answered from the cache folder when the same model bytes were
    scored on the same data by the same metric, kernels and runtime before."""
    key = _evaluation_key(model, data, metric, reference)
    record = cache.load_record(EVALUATIONS, key) if key is not None else None
    if record is not None:
        try:
            return Evaluation.from_dict(record)
        except (KeyError, TypeError, ValueError):
            pass  # written by another version: evaluate again
    evaluated = evaluate(model, data, metric=metric, reference=reference)
    if key is not None:
        cache.store_record(EVALUATIONS, key, evaluated.to_dict())
    return evaluated


def _evaluation_key(model: TFLiteModel, data: Any, metric: Metric, reference: TFLiteModel | None) -> str | None:
    """None when the data cannot be hashed as given (a dataset, a generator) or the metric
    is not a plain function whose code says all it computes (a closure, a partial)."""
    import inspect

    from .conversion.cache import cache_key
    from .conversion.datasets import raw_digest
    from .gate.versions import package_version
    from .model.kernels import current_kernels

    data_digest = raw_digest(data)
    functions = [metric.fn] if metric.per_sample is None else [metric.fn, metric.per_sample]
    if data_digest is None or not all(inspect.isfunction(fn) and not fn.__closure__ for fn in functions):
        return None
    try:
        metric_code = "\n".join(inspect.getsource(fn) for fn in functions)
    except (OSError, TypeError):
        return None
    return cache_key({
        "evaluation": inspect.getsource(sys.modules[__name__]),
        "model": [model.digest, list(model.input_names or ())],
        "reference": [reference.digest, list(reference.input_names or ())] if reference is not None else None,
        "data": data_digest,
        "metric": [metric.name, metric.higher_is_better, metric_code],
        "kernels": current_kernels(),
        "ai-edge-litert": package_version("ai-edge-litert"),
    })


def evaluation_inputs(model: TFLiteModel, data: Any) -> list[np.ndarray]:
    """The evaluation data's inputs as float arrays in the model's input order (labels
    dropped), for running them somewhere else than the LiteRT interpreter."""
    specs = input_specs(model)
    dataset = _evaluation_set(data, specs, model)
    by_name = dict(zip((s.name for s in specs), dataset.x))
    names = [plain_name(t.name) for t in model.inputs]
    if sorted(names) == sorted(by_name):
        return [np.asarray(by_name[name], dtype=np.float32) for name in names]
    return [np.asarray(x, dtype=np.float32) for x in dataset.x]


def input_specs(model: TFLiteModel) -> list[InputSpec]:
    """The model's inputs as specs a dataset is checked against: float (``predict`` takes
    float whatever the model's input type), any batch size, in the source's input order."""
    specs = [
        InputSpec(
            plain_name(t.name),
            (None, *(d if d >= 0 else None for d in t.shape_signature[1:])),
            "float32",
        )
        for t in model.inputs
    ]
    order = model.input_names
    if order and sorted(order) == sorted(s.name for s in specs):
        by_name = {s.name: s for s in specs}
        specs = [by_name[name] for name in order]
    return specs


def compare(reference: Outputs, outputs: Outputs, model: TFLiteModel | None = None) -> Fidelity:
    """Fidelity of ``outputs`` to ``reference`` (same inputs, same output structure)."""
    refs, outs = _as_list(reference), _as_list(outputs)
    if len(refs) != len(outs) or any(r.shape != o.shape for r, o in zip(refs, outs)):
        raise EvaluationError(
            f"the outputs have shapes {[o.shape for o in outs]} but the reference's have "
            f"{[r.shape for r in refs]}",
            source=getattr(model, "name", None),
            mode=getattr(model, "mode", None),
            hint="Compare a model with a conversion of the same source model",
        )
    agree = np.ones(len(refs[0]), dtype=bool)
    for ref, out in zip(refs, outs):
        agree &= (_classes(ref) == _classes(out)).reshape(len(ref), -1).all(axis=1)
    ref_flat = np.concatenate([r.astype(np.float64).ravel() for r in refs])
    out_flat = np.concatenate([o.astype(np.float64).ravel() for o in outs])
    error = np.abs(ref_flat - out_flat)
    return Fidelity(
        agreement=float(np.mean(agree)),
        mean_abs_error=float(np.mean(error)),
        max_abs_error=float(np.max(error)),
        sqnr_db=_sqnr_db(float(np.sum(ref_flat**2)), float(np.sum(error**2))),
    )


def _sqnr_db(signal: float, noise: float) -> float:
    if noise == 0.0:
        return SQNR_IDENTICAL_DB
    if signal == 0.0:
        return -SQNR_IDENTICAL_DB
    return max(-SQNR_IDENTICAL_DB, min(SQNR_IDENTICAL_DB, 10.0 * math.log10(signal / noise)))


def _evaluation_set(data: Any, specs: Sequence[InputSpec], model: TFLiteModel) -> TrainingSet:
    """The training-data reader, with its messages speaking of evaluation data."""
    try:
        return take_training_set(data, specs, source=model.name, mode=model.mode)
    except DatasetError as exc:
        raise DatasetError(
            exc.problem.replace("training data", "evaluation data").replace(
                "training labels", "evaluation labels"
            ),
            source=exc.source,
            mode=exc.mode,
            hint=exc.hint,
            detail=exc.detail,
        ) from None


def _predict(
    model: TFLiteModel, dataset: TrainingSet, specs: Sequence[InputSpec], batch_size: int
) -> Outputs:
    names = [s.name for s in specs]
    model_names = sorted(plain_name(t.name) for t in model.inputs)
    x: Any
    if sorted(names) == model_names:
        x = dict(zip(names, dataset.x))  # by name: the interpreter's input order cannot matter
    else:
        x = dataset.x[0] if len(dataset.x) == 1 else list(dataset.x)
    outputs = model.predict(x, batch_size=batch_size)
    for index, out in enumerate(_as_list(outputs)):
        if not np.all(np.isfinite(out)):
            bad = int(np.sum(~np.isfinite(out)))
            which = f"output {index}" if isinstance(outputs, list) else "the output"
            raise EvaluationError(
                f"{which} holds {bad} NaN or infinite value(s) on the evaluation data",
                source=model.name,
                mode=model.mode,
                hint="Look for operations undefined on some inputs (log or sqrt of a negative, "
                "division by zero) or an overflow in the converted model",
            )
    return outputs


def _attributed(function: Callable[[Outputs, np.ndarray], Any], outputs: Outputs, labels: np.ndarray,
                model: TFLiteModel) -> Any:
    """``function(outputs, labels)``; an EvaluationError it raises names the model it measured."""
    try:
        return function(outputs, labels)
    except EvaluationError as exc:
        if exc.source:
            raise
        raise EvaluationError(
            exc.problem, source=model.name, mode=model.mode, hint=exc.hint, detail=exc.detail
        ) from None


def _score(metric: Metric, outputs: Outputs, labels: np.ndarray, model: TFLiteModel) -> float:
    value = float(_attributed(metric.fn, outputs, labels, model))
    if not math.isfinite(value):
        raise EvaluationError(
            f"the metric {metric.name!r} is {value}",
            source=model.name,
            mode=model.mode,
            hint="Check the metric function and the labels",
        )
    return value


def _per_sample(
    metric: Metric, outputs: Outputs, labels: np.ndarray, model: TFLiteModel, samples: int
) -> tuple[float, ...] | None:
    """The metric's per-sample scores, checked: one finite number per sample."""
    if metric.per_sample is None:
        return None
    scores = np.asarray(_attributed(metric.per_sample, outputs, labels, model), dtype=np.float64)
    if scores.shape != (samples,) or not np.all(np.isfinite(scores)):
        found = f"shape {scores.shape}" if scores.shape != (samples,) else "NaN or infinite values"
        raise EvaluationError(
            f"the per-sample scores of the metric {metric.name!r} have {found}, not one finite number "
            f"for each of the {samples} samples",
            source=model.name,
            mode=model.mode,
            hint="Return one score per sample from the metric's per_sample function",
        )
    return tuple(scores.tolist())


def labels_digest(labels: Any) -> str:
    """A short digest of the labels, their order, shape and type."""
    import hashlib

    array = np.ascontiguousarray(labels)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def _require_mean(metric: Metric, value: float, per_sample: tuple[float, ...] | None, model: TFLiteModel) -> None:
    """The intervals judge the mean of the per-sample scores: it must be the metric's value."""
    if per_sample is None:
        return
    mean = math.fsum(per_sample) / len(per_sample) if per_sample else value
    if abs(mean - value) > 1e-6 * max(1.0, abs(value)):
        raise EvaluationError(
            f"the per-sample scores of the metric {metric.name!r} average {mean:.6g}, but the metric is {value:.6g}",
            source=model.name,
            mode=model.mode,
            hint="per_sample must return the scores whose mean is the metric (1/0 for right/wrong); "
            "for a metric that is not a mean of per-sample scores, leave per_sample out",
        )


def _check_rows(outputs: np.ndarray, labels: np.ndarray) -> None:
    if labels.ndim == 0 or len(labels) != len(outputs):
        shown = "a single value" if labels.ndim == 0 else f"{len(labels)} labels"
        raise EvaluationError(
            f"the evaluation data has {shown} but the model gave {len(outputs)} outputs",
            hint="Give one label per sample",
        )


def _classes(outputs: np.ndarray) -> np.ndarray:
    """Top-1 class per position: argmax over the last axis, or threshold 0.5 for one unit."""
    if outputs.ndim >= 2 and outputs.shape[-1] > 1:
        top: np.ndarray = np.argmax(outputs, axis=-1)
        return top
    scores = outputs[..., 0] if outputs.ndim >= 2 else outputs
    return (scores > 0.5).astype(np.int64)


def _label_classes(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    classes = outputs.shape[-1] if outputs.ndim >= 2 else 1
    positions = outputs.shape[:-1] if outputs.ndim >= 2 else outputs.shape
    if outputs.ndim >= 2 and labels.shape == outputs.shape and (classes > 1 or _is_float(labels)):
        return _classes(labels)  # one-hot (or class probabilities)
    if labels.shape == (*positions, 1):
        labels = labels[..., 0]
    if labels.shape != positions:
        expected = f"{positions} (class indices) or {outputs.shape} (one-hot)"
        if labels.shape[:-1] == positions and labels.ndim == outputs.ndim:
            problem = (
                f"the labels have {labels.shape[-1]} classes per sample but the model "
                f"outputs {classes}"
            )
        else:
            problem = f"the labels have shape {labels.shape} but the outputs need {expected}"
        raise EvaluationError(problem, hint="Check that the labels belong to this model's task")
    return _indices(labels, max(classes, 2))


def _indices(labels: np.ndarray, classes: int) -> np.ndarray:
    if _is_float(labels):
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise EvaluationError(
                "the labels are not whole class indices",
                hint="Give integer class indices or one-hot rows",
            )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise EvaluationError(
            f"the labels run from {labels.min():g} to {labels.max():g} but the model has "
            f"{classes} classes (0 to {classes - 1})",
            hint="Check that the labels belong to this model's task",
        )
    return labels.astype(np.int64)


def _is_float(array: np.ndarray) -> bool:
    return np.issubdtype(array.dtype, np.floating)


def _as_list(outputs: Outputs) -> list[np.ndarray]:
    if isinstance(outputs, (list, tuple)):
        return [np.asarray(o) for o in outputs]
    return [np.asarray(outputs)]
