"""Training-time modes: a short fine-tune with tensorflow-model-optimization before conversion.

Quantization-aware training, pruning and clustering change the weights, so they need
training data and a few epochs. The user's model is never touched: the fine-tune works on
a clone (a tf-keras rebuild of a Keras 3 model), with fixed seeds so that the same inputs
give the same bytes. Each epoch is logged to the ``pytest_tflite.training`` logger at INFO
level. TensorFlow is imported only when a fine-tune runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ModeError, TFLiteError, TrainingUnavailable
from ..gate.versions import package_version
from .cache import ConversionCache, cache_key
from .progress import EPOCH_LOGGER
from .sources import Source
from .tf_loader import keras_flavor, tensorflow

if TYPE_CHECKING:
    from .datasets import TrainingSet

COMPILE_KEYS = ("loss", "metrics", "optimizer")
PRUNING_UPDATES = 10
"""How many times the pruning mask is tightened on its way to the target sparsity."""

logger = logging.getLogger(EPOCH_LOGGER)


def tfmot() -> Any:
    """Import tensorflow-model-optimization without leaving TF_USE_LEGACY_KERAS set behind
    (it sets it on import, which would change what tf.keras means for child processes)."""
    tensorflow()
    before = os.environ.get("TF_USE_LEGACY_KERAS")
    import tensorflow_model_optimization

    if before is None:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
    else:
        os.environ["TF_USE_LEGACY_KERAS"] = before
    return tensorflow_model_optimization


@dataclasses.dataclass(frozen=True)
class Training:
    """What a fine-tune learns from: the data and how the loss is computed."""

    data: TrainingSet
    loss: Any
    metrics: Sequence[Any]
    optimizer: str

    def cache_key(self) -> dict[str, Any]:
        """Everything outside the mode's options that shapes the fine-tuned weights."""
        return {
            "data": self.data.digest(),
            "loss": _describe(self.loss),
            "optimizer": self.optimizer.lower(),
            "code": _code_digest(),
            "tensorflow-model-optimization": package_version("tensorflow-model-optimization"),
        }


def request_key(compile_config: Mapping[str, Any] | None) -> dict[str, Any]:
    """What shapes a fine-tune besides the source and the data as given: the compile
    configuration asked for, this code and tensorflow-model-optimization's version."""
    return {
        "compile": {k: _describe(v) for k, v in sorted((compile_config or {}).items())},
        "code": _code_digest(),
        "tensorflow-model-optimization": package_version("tensorflow-model-optimization"),
    }


def prepare(src: Source, mode_name: str, data: Any, compile_config: Mapping[str, Any] | None) -> Training:
    """Check the training data and settle the compile configuration before any cache lookup."""
    if src.kind not in ("tf_keras", "keras3", "keras_file"):
        raise TrainingUnavailable(
            f"training-time modes fine-tune a Keras model, and this source is a {src.kind}",
            source=src.name,
            mode=mode_name,
            hint="Pass the Keras model (tf-keras, or Keras 3 of built-in layers) instead",
        )
    if data is None:
        raise TrainingUnavailable(
            "this mode fine-tunes the model before converting and needs training data, but "
            "none was given",
            source=src.name,
            mode=mode_name,
            hint="Pass training_data=(x, y) or a tf.data.Dataset of (x, y) (in pytest, define "
            "the tflite_training_data fixture), or pick a post-training mode",
        )
    from .datasets import take_training_set

    training_set = take_training_set(data, src.input_specs(), source=src.name, mode=mode_name)
    settings = _compile_settings(src.keras_model(), compile_config, src.name, mode_name)
    return Training(data=training_set, **settings)


def _compile_settings(
    model: Any, given: Mapping[str, Any] | None, source: str, mode: str
) -> dict[str, Any]:
    """The user's compile configuration, else the source model's own (its loss, metrics and
    kind of optimizer; the learning rate is always the mode's)."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(COMPILE_KEYS))
    if unknown:
        raise ModeError(
            f"the compile configuration has unknown key(s) {', '.join(unknown)}",
            source=source,
            mode=mode,
            hint="It takes loss, metrics and optimizer (an optimizer name such as 'adam'; "
            "the learning rate is the mode's learning_rate option)",
        )
    own = _own_compile_config(model)
    loss = given.get("loss", own.get("loss"))
    if loss is None:
        raise ModeError(
            "the model is not compiled and no loss was given, so the fine-tune has nothing "
            "to minimise",
            source=source,
            mode=mode,
            hint="Compile the model before passing it, or pass compile_config={'loss': ...} "
            "(in pytest, tflite_convert(..., compile_config=...))",
        )
    optimizer = given.get("optimizer", own.get("optimizer")) or "adam"
    if not isinstance(optimizer, str):
        raise ModeError(
            f"the optimizer must be given by name, not as a {type(optimizer).__name__}",
            source=source,
            mode=mode,
            hint="Write optimizer='adam' (or 'sgd', 'rmsprop', ...): the mode sets its learning rate",
        )
    metrics = given.get("metrics", own.get("metrics")) or []
    return {"loss": loss, "metrics": list(metrics), "optimizer": optimizer}


def _own_compile_config(model: Any) -> dict[str, Any]:
    get = getattr(model, "get_compile_config", None)
    config = (get() if callable(get) else None) or {}
    optimizer = config.get("optimizer")
    if isinstance(optimizer, dict):  # a saved model's: {"class_name": "Adam", ...}
        optimizer = str(optimizer.get("class_name", "")).lower() or None
    return {"loss": config.get("loss"), "metrics": _metric_names(config.get("metrics")), "optimizer": optimizer}


def _metric_names(metrics: Any) -> list[Any]:
    """A compile configuration's metrics as compile() takes them again.

    A tf-keras model loaded from ``.h5`` gives them as a list per output of serialized
    ``MeanMetricWrapper`` objects, which ``compile`` cannot read back ("Could not
    interpret metric identifier"); their names ("accuracy") can, and compile resolves
    them for the loss again. Other forms (names, functions) pass as they are.
    """
    found: list[Any] = []
    for metric in metrics or []:
        if isinstance(metric, (list, tuple)):
            found += _metric_names(metric)
        elif isinstance(metric, dict) and metric.get("class_name") == "MeanMetricWrapper":
            found.append((metric.get("config") or {}).get("name") or metric)
        else:
            found.append(metric)
    return found


class Stages:
    """The weights after each shared stage of a fine-tune, by the state they lead to: in the
    cache folder (guarded by its locks, so pytest-xdist workers train a stage once), or for
    this process when there is no cache folder."""

    def __init__(self, cache: ConversionCache | None, stats: Counter[str] | None = None) -> None:
        self.cache = cache if cache is not None and cache.enabled else None
        self.memory: dict[str, list[Any]] = {}
        self.stats = stats if stats is not None else Counter()

    @contextlib.contextmanager
    def claimed(self, state: str) -> Iterator[list[Any] | None]:
        """The kept weights of ``state``, or None while this process holds it to train."""
        kept = self._kept(state)
        if kept is not None:
            self.stats["stages_reused"] += 1
            yield kept
            return
        with self.cache.locked(state) if self.cache is not None else contextlib.nullcontext():
            kept = self._kept(state)
            self.stats["stages_reused" if kept is not None else "stages_trained"] += 1
            yield kept

    def _kept(self, state: str) -> list[Any] | None:
        return self.memory.get(state) if self.cache is None else self.cache.load_weights(state)

    def keep(self, state: str, weights: list[Any]) -> None:
        if self.cache is None:
            self.memory[state] = weights
        else:
            self.cache.store_weights(state, weights)


def fine_tuned_source(src: Source, mode: Any, training: Training, stages: Stages | None = None) -> Source:
    """``src`` fine-tuned under ``mode`` (on a clone), as a tf-keras source to convert.

    Stages another mode has run on the same source and data (the pruning that ``pruned``,
    ``pruned_clustered`` and ``pruned_qat_int8`` begin with) come from ``stages``."""
    tfmot()
    model = _trainable_clone(src, mode.name)
    start = cache_key({"source": src.fingerprint(), "training": training.cache_key()})
    fit = Fit(training, mode.options, source=src.name, mode=mode.name, stages=stages or Stages(None), start=start)
    with _seeded(int(mode.options["seed"])):
        try:
            tuned = mode.fine_tune(model, fit, mode.options)
        except TFLiteError:
            raise
        except ValueError as exc:  # what tfmot raises for a layer or model it cannot wrap
            raise TrainingUnavailable(
                "tensorflow-model-optimization cannot wrap this model",
                source=src.name,
                mode=mode.name,
                hint="It supports Sequential and functional models of built-in layers; "
                "subclassed models and custom layers need tfmot's own annotations",
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
    return Source(kind="tf_keras", name=src.name, obj=tuned)


def _trainable_clone(src: Source, mode: str) -> Any:
    """A tf-keras copy of the source model with the same weights."""
    import tf_keras

    from .rebuild import LEGACY_ADVICE, as_tf_keras

    model = src.keras_model()
    if keras_flavor(model) == "keras3":
        return as_tf_keras(model, source=src.name, mode=mode)
    try:
        clone = tf_keras.models.clone_model(model)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise TrainingUnavailable(
            "this tf-keras model cannot be cloned, so it cannot be fine-tuned without "
            "changing it",
            source=src.name,
            mode=mode,
            hint="Training-time modes take Sequential and functional models; " + LEGACY_ADVICE,
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    clone.set_weights(model.get_weights())
    return clone


class _seeded:
    """Fixed seeds for the fine-tune; Python's and NumPy's random states are restored after."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> None:
        import numpy as np
        import tf_keras

        self._states = (random.getstate(), np.random.get_state())
        tf_keras.utils.set_random_seed(self.seed)
        tensorflow().config.experimental.enable_op_determinism()

    def __exit__(self, *exc: Any) -> None:
        import numpy as np

        random.setstate(self._states[0])
        np.random.set_state(self._states[1])


class Fit:
    """Compile and train a wrapped model the way every stage of a fine-tune does."""

    def __init__(
        self,
        training: Training,
        options: Mapping[str, Any],
        *,
        source: str,
        mode: str,
        stages: Stages | None = None,
        start: str = "",
    ) -> None:
        self.training = training
        self.epochs = int(options["epochs"])
        self.batch_size = int(options["batch_size"])
        self.learning_rate = float(options["learning_rate"])
        self.seed = int(options["seed"])
        self.source = source
        self.mode = mode
        self.stages = stages or Stages(None)
        self.state = start
        """A digest of the stages the model has been through, from the source and data."""

    def shared(self, stage: str, model: Any, settings: Mapping[str, Any], run: Callable[[Any], Any]) -> Any:
        """``run(model)`` as a stage other modes share: its result (a plain model of the
        same layers) is kept by the stage and the state before it, so a mode that begins
        the same way sets the kept weights instead of training again. Each stage starts
        from the mode's seed, wherever the model before it came from."""
        fit_settings = {"epochs": self.epochs, "batch": self.batch_size, "lr": self.learning_rate, "seed": self.seed}
        self.state = cache_key({"after": self.state, "stage": stage, **settings, **fit_settings})
        with self.stages.claimed(self.state) as kept:
            if kept is not None:
                model.set_weights(kept)
                return model
            with _seeded(self.seed):
                result = run(model)
            self.stages.keep(self.state, result.get_weights())
            return result

    def fresh(self, run: Callable[[Any], Any], model: Any) -> Any:
        """``run(model)`` as a last stage, from the mode's seed like every stage."""
        with _seeded(self.seed):
            return run(model)

    @property
    def steps(self) -> int:
        """Training steps of one stage (what pruning schedules count in)."""
        return self.epochs * math.ceil(len(self.training.data) / self.batch_size)

    def __call__(self, model: Any, stage: str, callbacks: Sequence[Any] = ()) -> Any:
        import tf_keras

        model.compile(
            optimizer=tf_keras.optimizers.get(
                {"class_name": self.training.optimizer, "config": {"learning_rate": self.learning_rate}}
            ),
            loss=_for_tf_keras(self.training.loss, tf_keras.losses),
            metrics=[_for_tf_keras(m, tf_keras.metrics) for m in self.training.metrics],
        )
        x = self.training.data.x
        label = f"model {self.source!r}, mode {self.mode!r}, {stage}"
        try:
            model.fit(
                x[0] if len(x) == 1 else x,
                self.training.data.y,
                epochs=self.epochs,
                batch_size=self.batch_size,
                shuffle=True,
                verbose=0,
                callbacks=[*callbacks, _progress(tf_keras, label, self.epochs)],
            )
        except Exception as exc:  # noqa: BLE001 - Keras raises many types; all are reported
            raise TFLiteError(
                f"the fine-tune ({stage}) stopped with an error",
                source=self.source,
                mode=self.mode,
                hint=_fit_hint(str(exc)),
                detail=f"{type(exc).__name__}: {exc}",
            ) from exc
        return model


_FIT_HINTS = (
    (
        "identifier",
        "Keras could not read the compile configuration's loss or metrics back: pass "
        "compile_config={'loss': ..., 'metrics': ['accuracy']} with the model",
    ),
)
_LABELS_HINT = (
    "Check that the labels fit the loss (integer classes for a sparse loss, one-hot rows "
    "otherwise) and the model's outputs"
)


def _fit_hint(message: str) -> str:
    """What to try for an error out of compile() or fit(): the labels, unless Keras says otherwise."""
    return next((hint for word, hint in _FIT_HINTS if word in message), _LABELS_HINT)


def _progress(tf_keras: Any, label: str, epochs: int) -> Any:
    started = [time.perf_counter()]

    def on_epoch_begin(epoch: int, logs: Any = None) -> None:
        started[0] = time.perf_counter()

    def on_epoch_end(epoch: int, logs: Mapping[str, float] | None = None) -> None:
        figures = ", ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items())
        seconds = time.perf_counter() - started[0]
        logger.info("%s: epoch %d/%d: %s (%.1f s)", label, epoch + 1, epochs, figures, seconds)

    return tf_keras.callbacks.LambdaCallback(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end)


def _for_tf_keras(obj: Any, module: Any) -> Any:
    """A loss or metric usable by tf-keras: names and functions as they are, serialized
    configs and Keras 3 objects through their config."""
    if isinstance(obj, dict):
        return module.deserialize(obj)
    if type(obj).__module__.startswith("keras.") and hasattr(obj, "get_config"):
        import keras

        return module.deserialize(keras.saving.serialize_keras_object(obj))
    return obj


def _describe(obj: Any) -> Any:
    """A stable description of a loss for cache keys."""
    if isinstance(obj, (str, dict)):
        return json.loads(json.dumps(obj, sort_keys=True, default=repr))
    if hasattr(obj, "get_config"):
        return {"class": type(obj).__name__, "config": _describe(obj.get_config())}
    code = getattr(obj, "__code__", None)
    digest = hashlib.sha256(code.co_code).hexdigest() if code else repr(obj)
    return {"function": getattr(obj, "__qualname__", repr(obj)), "code": digest}


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """The source of this module and of the rebuild, found through the modules themselves
    (wherever they live): how a fine-tune runs shapes its result."""
    from . import rebuild

    sources = (inspect.getsource(module) for module in (sys.modules[__name__], rebuild))
    return hashlib.sha256("".join(sources).encode()).hexdigest()


# --- the techniques: each wraps, trains and strips -----------------------------------


def quantize_aware(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """Quantization-aware training: fake-quantized weights and activations learn their ranges."""
    return fit.fresh(lambda m: fit(tfmot().quantization.keras.quantize_model(m), "quantize-aware"), model)


def prune(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """Magnitude pruning to ``sparsity``, then the pruning wrappers stripped."""
    target = float(options["sparsity"])
    if not 0.0 < target < 1.0:
        raise ModeError(f"sparsity must be between 0 and 1, not {target}", hint="Try 0.5 to 0.8")
    return fit.shared("prune", model, {"sparsity": target}, lambda m: _pruned(m, fit, target))


def _pruned(model: Any, fit: Fit, target: float) -> Any:
    sparsity = tfmot().sparsity.keras
    wrapped = sparsity.prune_low_magnitude(model, pruning_schedule=_pruning_schedule(target, fit.steps))
    fit(wrapped, "prune", callbacks=[sparsity.UpdatePruningStep()])
    return sparsity.strip_pruning(wrapped)


def _pruning_schedule(target: float, steps: int) -> Any:
    """Sparsity grows from 0 to the target over the first two thirds of the fine-tune, so
    the last third trains the pruned weights; a fine-tune too short for that prunes at once."""
    sparsity = tfmot().sparsity.keras
    frequency = max(1, steps // PRUNING_UPDATES)
    end = frequency * ((2 * steps // 3) // frequency)
    if end < frequency:
        return sparsity.ConstantSparsity(target, begin_step=0, frequency=1)
    return sparsity.PolynomialDecay(0.0, target, begin_step=0, end_step=end, frequency=frequency)


def cluster(model: Any, fit: Fit, options: Mapping[str, Any], *, preserve_sparsity: bool = False) -> Any:
    """Weight clustering to ``clusters`` centroids per kernel, then the wrappers stripped."""
    clustering = tfmot().clustering.keras
    clusters = int(options["clusters"])
    if clusters < 2:
        raise ModeError(f"clusters must be at least 2, not {clusters}", hint="Try 8 to 32")
    try:
        init = clustering.CentroidInitialization[str(options["centroids"]).upper()]
    except KeyError:
        names = ", ".join(m.name.lower() for m in clustering.CentroidInitialization)
        raise ModeError(f"unknown centroids {options['centroids']!r}", hint=f"Use one of: {names}") from None
    stage = "cluster keeping zeros" if preserve_sparsity else "cluster"
    settings = {"clusters": clusters, "centroids": init.name}
    return fit.shared(stage, model, settings, lambda m: _clustered(m, fit, clusters, init, preserve_sparsity))


def _clustered(model: Any, fit: Fit, clusters: int, init: Any, preserve_sparsity: bool) -> Any:
    clustering = tfmot().clustering.keras
    if preserve_sparsity:
        # tfmot's own PCQAT guide imports sparsity-preserving clustering from here.
        from tensorflow_model_optimization.python.core.clustering.keras.experimental import (
            cluster as experimental,
        )

        wrapped = experimental.cluster_weights(
            model, number_of_clusters=clusters, cluster_centroids_init=init, preserve_sparsity=True
        )
    else:
        wrapped = clustering.cluster_weights(model, number_of_clusters=clusters, cluster_centroids_init=init)
    fit(wrapped, "cluster")
    return clustering.strip_clustering(wrapped)


def prune_and_cluster(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """Pruning, then clustering that keeps the zeros (sparsity-preserving clustering)."""
    return cluster(prune(model, fit, options), fit, options, preserve_sparsity=True)


def _preserving_qat(model: Any, fit: Fit, scheme: Any) -> Any:
    quantization = tfmot().quantization.keras

    def run(plain: Any) -> Any:
        return fit(quantization.quantize_apply(quantization.quantize_annotate_model(plain), scheme), "quantize-aware")

    return fit.fresh(run, model)


def prune_and_quantize_aware(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """PQAT: pruning, then quantization-aware training that keeps the zeros."""
    scheme = tfmot().quantization.keras.collab_opts.Default8BitPrunePreserveQuantizeScheme()
    return _preserving_qat(prune(model, fit, options), fit, scheme)


def cluster_and_quantize_aware(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """CQAT: clustering, then quantization-aware training that keeps the clusters."""
    scheme = tfmot().experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)
    return _preserving_qat(cluster(model, fit, options), fit, scheme)


def prune_cluster_and_quantize_aware(model: Any, fit: Fit, options: Mapping[str, Any]) -> Any:
    """PCQAT: pruning, sparsity-preserving clustering, then QAT that keeps both."""
    scheme = tfmot().experimental.combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    return _preserving_qat(prune_and_cluster(model, fit, options), fit, scheme)
