"""A source and a mode in, a converted :class:`TFLiteModel` out.

:class:`Converter` converts each (source, mode, calibration data) once per process and,
with a cache folder, once per content across processes and runs. A mode ai-edge-quantizer
applies quantizes the float32 conversion (or a .tflite source's own bytes), cached alike.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ModeError, ModelFormatError, ModeUnavailable
from ..model.flatbuffer import TFLiteModel
from .cache import QUANTIZER_TOOLCHAIN, TORCH_TOOLCHAIN, ConversionCache, cache_key
from .datasets import DATA_FORMS, Sample, digest, raw_digest, take_samples
from .modes import CALIBRATION_SAMPLES, FLOAT32, Mode, get_mode
from .progress import PROGRESS_LOGGER
from .sources import InputSpec, Source, as_source
from .tf_convert import release_keras_state, run_converter

if TYPE_CHECKING:
    from .trainer import Trainer
    from .training import Stages, Training


REQUESTS = "requests"
"""The cache folder's records of which conversion each request resolved to."""

progress = logging.getLogger(PROGRESS_LOGGER)
"""One line per conversion that runs (not one the cache answers), and per fine-tune as it starts."""


class Converter:
    """Converts sources under modes, remembering results in memory and on disk."""

    def __init__(self, cache: ConversionCache | str | Path | None = None) -> None:
        self.cache = cache if isinstance(cache, ConversionCache) else ConversionCache(cache)
        self.stats: Counter[str] = Counter()
        self._memo: dict[tuple[str, str], TFLiteModel] = {}
        self._drawn: dict[tuple[int, int], tuple[Iterator[Any], list[Sample]]] = {}
        self._requests: dict[str, tuple[str, str]] = {}
        self._stages: Stages | None = None
        self._trainer: Trainer | None = None
        self._files: dict[tuple[str, str], Source] = {}

    def convert(
        self,
        source: Any,
        mode: str | Mode = "float32",
        *,
        representative_data: Any = None,
        calibration_samples: int = CALIBRATION_SAMPLES,
        name: str | None = None,
        training_data: Any = None,
        compile_config: Mapping[str, Any] | None = None,
    ) -> TFLiteModel:
        """Convert ``source`` under ``mode``; a .tflite source is returned as it is, except
        under a mode ai-edge-quantizer applies, which quantizes it.

        A training-time mode first fine-tunes a clone of the model on ``training_data``
        (``(x, y)`` or a ``tf.data.Dataset``), compiled with ``compile_config`` (``loss``,
        ``metrics``, ``optimizer``; default: the model's own), and calibrates, when its
        post-training mode needs it, on the training inputs unless ``representative_data``
        is given."""
        src = self._source(source, name)
        mode = get_mode(mode)
        if mode.recipe is not None:
            return self._quantized(src, mode, _called(representative_data), calibration_samples)
        if src.kind == "tflite_file":
            return TFLiteModel.from_file(src.obj, name=src.name)
        if src.kind == "torch":
            if mode.name != FLOAT32.name:
                raise ModeUnavailable(
                    "litert-torch converts a PyTorch module to float32; this mode runs TensorFlow's converter",
                    source=src.name,
                    mode=mode.name,
                    hint="Quantize it with the ai-edge-quantizer modes: int4_weights, dynamic_int4, "
                    "int16_activations or recipe",
                )
            return self._from_torch(src)
        if src.is_tflite:
            return TFLiteModel(src.tflite_bytes(), name=src.name)
        representative_data = _called(representative_data)
        request = _request_key(src, mode, representative_data, calibration_samples, training_data, compile_config)
        answered = self._answered(src, mode, request)
        if answered is not None:
            return answered
        training = _training(src, mode, training_data, compile_config)
        if training is not None and representative_data is None:
            x = training.data.x
            representative_data = x[0] if len(x) == 1 else x
        samples = self._calibration(src, mode, representative_data, calibration_samples)
        parts = {
            "source": src.fingerprint(),
            "mode": mode.cache_key(),
            "calibration": digest(samples) if samples is not None else None,
        }
        if training is not None:
            parts["training"] = training.cache_key()
        key = cache_key(parts)
        memo_key = (key, src.name)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._cached_or_converted(src, mode, samples, key, training)
        else:
            self.stats["memory"] += 1
        model = self._memo[memo_key]
        if request is not None:
            self._requests[request] = memo_key
            self.cache.store_record(REQUESTS, request, {"key": key, "input_names": list(model.input_names or ())})
        return model

    def _source(self, source: Any, name: str | None) -> Source:
        """The source of a conversion; a Keras model file's is kept by its bytes, so the
        file is loaded once per converter, not once per mode."""
        src = as_source(source, name)
        if src.kind != "keras_file":
            return src
        return self._files.setdefault((src.name, src.fingerprint()), src)

    def _answered(self, src: Source, mode: Mode, request: str | None) -> TFLiteModel | None:
        """The conversion a request made before (in this process, or recorded in the cache
        folder with its input order), found without loading the source or TensorFlow."""
        if request is None:
            return None
        if request in self._requests:
            self.stats["memory"] += 1
            return self._memo[self._requests[request]]
        record = self.cache.load_record(REQUESTS, request) or {}
        key, input_names = record.get("key"), record.get("input_names")
        if not isinstance(key, str):
            return None
        model = self._from_cache(src, mode, key, input_names=list(input_names or ()))
        if model is None:
            return None
        memo_key = (key, src.name)
        self._memo.setdefault(memo_key, model)
        self._requests[request] = memo_key
        return self._memo[memo_key]

    def _from_torch(self, src: Source) -> TFLiteModel:
        """A PyTorch module's float32 flatbuffer, converted by litert-torch once per module
        weights and toolchain (then read from the cache folder, without importing it)."""
        key = cache_key({"torch": src.fingerprint()}, TORCH_TOOLCHAIN)
        memo_key = (key, src.name)
        if memo_key not in self._memo:
            with self.cache.locked(key):
                content = self.cache.load(key)
                if content is None:
                    started = time.perf_counter()
                    content = src.tflite_bytes()
                    self.cache.store(key, content)
                    self.stats["converted"] += 1
                    progress.info("converted %s with litert-torch in %.1f s", src.name, time.perf_counter() - started)
                else:
                    self.stats["disk"] += 1
            self._memo[memo_key] = TFLiteModel(content, name=src.name)
        return self._memo[memo_key]

    def _quantized(self, src: Source, mode: Mode, data: Any, count: int) -> TFLiteModel:
        """An ai-edge-quantizer mode: the float32 flatbuffer (the source's own, for a .tflite
        source) quantized with the mode's recipe, keyed by the float bytes, the mode, the
        calibration samples and ai-edge-quantizer's version."""
        from .aeq import quantize, signature_inputs

        float_model = self.convert(src, FLOAT32)
        input_names = list(float_model.input_names or ())
        specs: list[InputSpec] = []
        if mode.needs_representative_data:
            specs = signature_inputs(float_model.content, input_names, source=src.name, mode=mode.name)
        samples = self._calibration(src, mode, data, count, specs)
        parts = {
            "quantized": float_model.digest,
            "mode": mode.cache_key(),
            "calibration": digest(samples) if samples is not None else None,
        }
        key = cache_key(parts, QUANTIZER_TOOLCHAIN)
        memo_key = (key, src.name)
        if memo_key in self._memo:
            self.stats["memory"] += 1
            return self._memo[memo_key]
        model = self._from_cache(src, mode, key, input_names=input_names)
        if model is None:
            with self.cache.locked(key):
                model = self._from_cache(src, mode, key, input_names=input_names)
                if model is None:
                    started = time.perf_counter()
                    quantized = quantize(float_model.content, mode, samples, specs, source=src.name)
                    model = _converted_model(src, mode, quantized.content, input_names)
                    self.cache.store(key, quantized.content)
                    self.stats["converted"] += 1
                    progress.info(
                        "quantized %s under %s with ai-edge-quantizer in %.1f s%s",
                        src.name, mode.name, time.perf_counter() - started, _unblocked(quantized.unblocked),
                    )
        self._memo[memo_key] = model
        return model

    def _calibration(
        self, src: Source, mode: Mode, data: Any, count: int, specs: Sequence[InputSpec] | None = None
    ) -> list[Sample] | None:
        """The samples a mode calibrates on, checked against ``specs`` (default: the
        source's declared inputs)."""
        if not mode.needs_representative_data:
            return None
        if data is None:
            raise ModeError(
                "this mode quantizes activations and needs a representative dataset to "
                "calibrate them, but none was given",
                source=src.name,
                mode=mode.name,
                hint=f"Pass representative_data= ({DATA_FORMS}), or pick {_data_free_modes(src)}, "
                "which need no data",
            )
        def draw() -> list[Sample]:
            inputs = src.input_specs() if specs is None else specs
            return take_samples(data, inputs, count, source=src.name, mode=mode.name)

        if not isinstance(data, Iterator):
            return draw()
        # A generator can be read once: keep what was drawn for the other modes.
        key = (id(data), count)
        if key not in self._drawn:
            self._drawn[key] = (data, draw())
        return self._drawn[key][1]

    def _cached_or_converted(
        self, src: Source, mode: Mode, samples: list[Sample] | None, key: str, training: Training | None
    ) -> TFLiteModel:
        model = self._from_cache(src, mode, key)
        if model is not None:
            return model
        with self.cache.locked(key):
            model = self._from_cache(src, mode, key)
            if model is not None:
                return model
            started = time.perf_counter()
            if training is not None:
                progress.info("fine-tuning %s under %s", src.name, mode.name)
                content = self._fine_tuned_and_converted(src, mode, training, samples)
                self.stats["fine_tuned"] += 1
            else:
                content = run_converter(src, mode, samples)
            model = _converted_model(src, mode, content)
            self.cache.store(key, content)
            self.stats["converted"] += 1
            what = "fine-tuned and converted" if training is not None else "converted"
            progress.info("%s %s under %s in %.1f s", what, src.name, mode.name, time.perf_counter() - started)
            return model

    def _fine_tuned_and_converted(
        self, src: Source, mode: Mode, training: Training, samples: list[Sample] | None
    ) -> bytes:
        """In a child process where the source and mode allow it (see :mod:`.trainer`)."""
        from .trainer import Trainer, runs_apart

        if runs_apart(src, mode, training):
            self._trainer = self._trainer or Trainer()
            content, stats = self._trainer.fine_tune_and_convert(src, mode, training, samples, self.cache.directory)
            self.stats.update(stats)
            return content
        from .training import Stages, fine_tuned_source

        self._stages = self._stages or Stages(self.cache, self.stats)
        tuned = fine_tuned_source(src, mode, training, self._stages)
        content = run_converter(tuned, mode, samples)
        del tuned
        release_keras_state()
        return content

    def _from_cache(
        self, src: Source, mode: Mode, key: str, *, input_names: list[str] | None = None
    ) -> TFLiteModel | None:
        """The cached model of ``key``; its input order from ``input_names`` when a request
        record gives it, else from the source (which loads it)."""
        content = self.cache.load(key)
        if content is None:
            return None
        try:
            model = _converted_model(src, mode, content, input_names)
        except ModelFormatError:
            self.cache.discard(key)
            return None
        self.stats["disk"] += 1
        return model


def _unblocked(layers: Sequence[str]) -> str:
    if not layers:
        return ""
    return f"; not in blocks, which do not divide their inputs (the next rule applies): {', '.join(layers)}"


def _called(data: Any) -> Any:
    """Calibration data given as a function, called once: the arrays it returns key the
    request and feed the conversion. A generator (or a function returning one) is left
    to be read when the conversion runs."""
    if not callable(data) or hasattr(data, "__iter__") or inspect.isgeneratorfunction(data):
        return data
    result = data()
    return data if isinstance(result, Iterator) else result


def _data_free_modes(src: Source) -> str:
    """The modes that need no calibration data and apply to this source."""
    if src.is_tflite:
        return "'int4_weights' or 'dynamic_int4'"
    return "'dynamic_int8' or 'float16'"


def _request_key(
    src: Source,
    mode: Mode,
    representative_data: Any,
    calibration_samples: int,
    training_data: Any,
    compile_config: Mapping[str, Any] | None,
) -> str | None:
    """A key of the conversion as it was asked for: the source's bytes, the mode, the data
    as given and the compile configuration. Everything the conversion's own key is
    computed from follows from these, so a request seen before resolves to its converted
    model with no model loaded; None when the data cannot be read twice (generators,
    datasets) or the source is an object only TensorFlow can fingerprint."""
    if src.kind not in ("keras_file", "saved_model"):
        return None
    calibration = raw_digest(representative_data) if mode.needs_representative_data else ""
    training = raw_digest(training_data) if mode.needs_training_data else ""
    if calibration is None or training is None:
        return None
    parts: dict[str, Any] = {
        "request": {"source": src.fingerprint(), "mode": mode.cache_key()},
        "calibration": [calibration, calibration_samples],
        "training": [training],
    }
    if mode.needs_training_data:
        from .training import request_key

        parts["training"].append(request_key(compile_config))
    return cache_key(parts)


def _training(
    src: Source, mode: Mode, data: Any, compile_config: Mapping[str, Any] | None
) -> Training | None:
    """The checked training data and compile settings of a training-time mode."""
    if not mode.needs_training_data:
        return None
    from .training import prepare

    return prepare(src, mode.name, data, compile_config)


def _converted_model(src: Source, mode: Mode, content: bytes, input_names: list[str] | None = None) -> TFLiteModel:
    """The model object for converted bytes, in its source's input order (read from the
    source unless given)."""
    if input_names is None:
        input_names = [spec.name for spec in src.input_specs()]
    return TFLiteModel(content, name=src.name, mode=mode.name, input_names=input_names)


def convert(
    source: Any,
    mode: str | Mode = "float32",
    *,
    representative_data: Any = None,
    calibration_samples: int = CALIBRATION_SAMPLES,
    name: str | None = None,
    cache_dir: str | Path | None = None,
    training_data: Any = None,
    compile_config: Mapping[str, Any] | None = None,
) -> TFLiteModel:
    """Convert one source under one mode (see :class:`Converter` to reuse conversions)."""
    return Converter(cache_dir).convert(
        source,
        mode,
        representative_data=representative_data,
        calibration_samples=calibration_samples,
        name=name,
        training_data=training_data,
        compile_config=compile_config,
    )
