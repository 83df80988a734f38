"""The quantization modes: a name, what it needs, and how it sets up the converter.

A mode is data plus one small function that configures a ``tf.lite.TFLiteConverter``.
The registry is open: other modules (and users, from a conftest) add modes with
:func:`register_mode`. Nothing here imports TensorFlow; ``configure`` receives the
``tensorflow`` module when a conversion actually runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import ModeError
from ..registry import Registry

CALIBRATION_SAMPLES = 100
"""Representative samples the integer modes calibrate with unless told otherwise
(TensorFlow suggests 100 to 500)."""

ACTIVATIONS = ("float32", "int8", "int16")

Configure = Callable[[Any, Any, Mapping[str, Any]], None]
"""``configure(converter, tf, options)``: set the converter's fields for this mode."""

FineTune = Callable[[Any, Any, Mapping[str, Any]], Any]
"""``fine_tune(model, fit, options)``: wrap a tf-keras model, train it with ``fit`` (a
:class:`pytest_tflite.conversion.training.Fit`) and return the model to convert."""


@dataclasses.dataclass(frozen=True)
class Mode:
    """One way of turning a model into a TensorFlow Lite flatbuffer."""

    name: str
    description: str
    configure: Configure = dataclasses.field(repr=False, compare=False)
    needs_representative_data: bool = False
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    activations: str = "float32"
    """What the model computes in: ``float32``, ``int8`` or ``int16``. Targets use it to
    skip combinations that can never hold (a float model on the Edge TPU)."""
    fine_tune: FineTune | None = dataclasses.field(default=None, repr=False, compare=False)
    """Set for a training-time mode: the model is fine-tuned on a clone before conversion."""
    weights: str | None = None
    """How the weights are stored when not as the activations are: ``int8`` for
    dynamic-range, ``float16``. Such hybrid models need kernels some runtimes lack."""

    @property
    def hybrid(self) -> bool:
        """Weights stored in another type than the arithmetic (dynamic-range, float16)."""
        return self.weights is not None and self.weights != self.activations

    @property
    def needs_training_data(self) -> bool:
        return self.fine_tune is not None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))
        if "then" in self.options:
            self._follow(self.options["then"])
        if self.activations not in ACTIVATIONS:
            raise ModeError(
                f"activations must be one of {', '.join(ACTIVATIONS)}, not {self.activations!r}",
                mode=self.name,
            )

    def with_options(self, **options: Any) -> Mode:
        """A copy of this mode with some options changed (unknown options are an error)."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            known = ", ".join(sorted(self.options)) or "none"
            raise ModeError(
                f"unknown option(s) {', '.join(unknown)}",
                mode=self.name,
                hint=f"This mode takes these options: {known}",
            )
        return dataclasses.replace(self, options={**self.options, **options})

    def _follow(self, then: Any) -> None:
        """A mode with a ``then`` option converts like that post-training mode, so it
        computes in the same type and needs the same calibration data."""
        follows = _REGISTRY.get(then) if isinstance(then, str) else None
        if follows is None or follows.fine_tune is not None:
            post_training = [m.name for m in _REGISTRY.values() if m.fine_tune is None]
            raise ModeError(
                f"then={then!r} is not a post-training mode",
                mode=self.name,
                hint=f"Use one of: {', '.join(post_training)}",
            )
        object.__setattr__(self, "activations", follows.activations)
        object.__setattr__(self, "weights", follows.weights)
        object.__setattr__(self, "needs_representative_data", follows.needs_representative_data)

    def cache_key(self) -> dict[str, Any]:
        """What about this mode shapes the converted bytes (used in cache keys): its name,
        options, and the code of ``configure`` (and ``fine_tune``), so redefining a mode
        converts again."""
        key = {
            "name": self.name,
            "options": {k: repr(v) for k, v in sorted(self.options.items())},
            "configure": _code_digest(self.configure),
        }
        if self.fine_tune is not None:
            key["fine_tune"] = _code_digest(self.fine_tune)
        if "then" in self.options:
            key["then"] = get_mode(self.options["then"]).cache_key()
        return key

    def __str__(self) -> str:
        return self.name


def _code_digest(function: Callable[..., Any]) -> str:
    if isinstance(function, TrainingStep):
        function = function.resolve()
    try:
        code = inspect.getsource(function).encode()
    except (OSError, TypeError):
        code = getattr(getattr(function, "__code__", None), "co_code", repr(function).encode())
    return hashlib.sha256(code).hexdigest()


def _optimize(converter: Any, tf: Any) -> None:
    converter.optimizations = [tf.lite.Optimize.DEFAULT]


def _float32(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    """No optimization: the float reference every other mode is compared with."""


def _dynamic_int8(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    _optimize(converter, tf)


def _float16(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    _optimize(converter, tf)
    converter.target_spec.supported_types = [tf.float16]


def _int8(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    _optimize(converter, tf)


def _full_int8(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    io_types = {"int8": tf.int8, "uint8": tf.uint8}
    io_dtype = options["io_dtype"]
    if io_dtype not in io_types:
        raise ModeError(
            f"io_dtype must be 'int8' or 'uint8', not {io_dtype!r}",
            mode="full_int8",
            hint="Use Mode.with_options(io_dtype='uint8') for models fed raw image bytes",
        )
    _optimize(converter, tf)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = io_types[io_dtype]
    converter.inference_output_type = io_types[io_dtype]


def _int16x8(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    _optimize(converter, tf)
    ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    if options["allow_float_fallback"]:
        ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
    converter.target_spec.supported_ops = ops


_MODES: Registry[Mode] = Registry("quantization mode", "modes", Mode, ModeError)
_REGISTRY = _MODES.items


def register_mode(mode: Mode, *, replace: bool = False) -> Mode:
    """Add a mode to the registry, so ``--tflite-mode`` and markers can name it."""
    return _MODES.register(mode, replace=replace)


def get_mode(mode: str | Mode) -> Mode:
    """The registered mode of that name (a :class:`Mode` is returned as is)."""
    return _MODES.get(mode)


def mode_names() -> list[str]:
    """Registered mode names, in registration order."""
    return _MODES.names()


def iter_modes() -> Iterator[Mode]:
    return iter(_MODES)


FLOAT32 = register_mode(Mode("float32", "no quantization; the float reference", _float32))
DYNAMIC_INT8 = register_mode(
    Mode("dynamic_int8", "int8 weights, float activations (dynamic-range)", _dynamic_int8, weights="int8")
)
FLOAT16 = register_mode(Mode("float16", "float16 weights, float computation", _float16, weights="float16"))
INT8 = register_mode(
    Mode(
        "int8",
        "int8 weights and activations, float input/output and float fallback allowed",
        _int8,
        needs_representative_data=True,
        activations="int8",
    )
)
FULL_INT8 = register_mode(
    Mode(
        "full_int8",
        "integer-only operators with int8 (or uint8) input/output: the Edge TPU-ready form",
        _full_int8,
        needs_representative_data=True,
        options={"io_dtype": "int8"},
        activations="int8",
    )
)
INT16X8 = register_mode(
    Mode(
        "int16x8",
        "int16 activations with int8 weights, float input/output",
        _int16x8,
        needs_representative_data=True,
        options={"allow_float_fallback": False},
        activations="int16",
    )
)


def _then(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    """Convert a fine-tuned model like the post-training mode named by ``then``."""
    follows = get_mode(options["then"])
    follows.configure(converter, tf, follows.options)


def _qat_int8(converter: Any, tf: Any, options: Mapping[str, Any]) -> None:
    """The quantize-aware model carries its own ranges; the converter still asks for
    representative data (the training inputs serve unless other data is given)."""
    _full_int8(converter, tf, options)


FIT_DEFAULTS = {"epochs": 2, "learning_rate": 1e-4, "batch_size": 32, "seed": 0}
"""Options every training-time mode takes: a short, gentle fine-tune of a trained model."""
SPARSITY = 0.5
CLUSTERS = 16
CENTROIDS = "linear"
"""Evenly spaced initial centroids: on the digits model they compress better and keep
more accuracy than k-means++ (gzip 63 KB against 73 KB, 98.9% against 98.4%)."""


class TrainingStep:
    """A fine-tune of :mod:`pytest_tflite.conversion.training`, named here and imported
    when it runs: registering the modes costs no tensorflow-model-optimization import."""

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self) -> FineTune:
        from . import training

        step: FineTune = getattr(training, self.name)
        return step

    def __call__(self, model: Any, fit: Any, options: Mapping[str, Any]) -> Any:
        return self.resolve()(model, fit, options)

    def __repr__(self) -> str:
        return f"TrainingStep({self.name!r})"


def _register_training_modes() -> None:
    qat = {"io_dtype": "int8", **FIT_DEFAULTS}
    prune = {"sparsity": SPARSITY, **FIT_DEFAULTS}
    cluster = {"clusters": CLUSTERS, "centroids": CENTROIDS, **FIT_DEFAULTS}
    for name, description, step, options in [
        ("qat_int8", "quantization-aware fine-tune, then integer-only int8",
         "quantize_aware", qat),
        ("pruned", "magnitude pruning to a sparsity, then a post-training mode",
         "prune", {**prune, "then": "float32"}),
        ("clustered", "weight clustering to N centroids, then a post-training mode",
         "cluster", {**cluster, "then": "float32"}),
        ("pruned_clustered", "pruning, then sparsity-preserving clustering",
         "prune_and_cluster", {**prune, **cluster, "then": "float32"}),
        ("pruned_qat_int8", "pruning, then sparsity-preserving QAT (PQAT), integer-only int8",
         "prune_and_quantize_aware", {**prune, **qat}),
        ("clustered_qat_int8", "clustering, then cluster-preserving QAT (CQAT), integer-only int8",
         "cluster_and_quantize_aware", {**cluster, **qat}),
        ("pruned_clustered_qat_int8", "pruning, sparsity-preserving clustering, then "
         "sparsity- and cluster-preserving QAT (PCQAT), integer-only int8",
         "prune_cluster_and_quantize_aware", {**prune, **cluster, **qat}),
    ]:
        fine_tune = TrainingStep(step)
        integer = "then" not in options
        register_mode(
            Mode(
                name,
                description,
                _qat_int8 if integer else _then,
                needs_representative_data=integer,
                options=options,
                activations="int8" if integer else "float32",
                fine_tune=fine_tune,
            )
        )


_register_training_modes()
