"""The quantization modes: a name, what it needs, and how it sets up the converter.

A mode is data plus one small function that configures a ``tf.lite.TFLiteConverter``,
or, for the modes ai-edge-quantizer applies to the float32 flatbuffer, one that builds
its recipe. The registry is open: other modules (and users, from a conftest) add modes
with :func:`register_mode`. Nothing here imports TensorFlow or ai-edge-quantizer;
``configure`` receives the ``tensorflow`` module when a conversion actually runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
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

Rule = dict[str, Any]
"""One rule of an ai-edge-quantizer recipe, in its own JSON format: ``regex`` (matched
against an operator's output tensor names), ``operation``, ``algorithm_key``, ``op_config``."""

Recipe = Callable[[Mapping[str, Any]], list[Rule]]
"""``recipe(options)``: the ai-edge-quantizer recipe a mode applies to the float32 model."""


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
    dynamic-range, ``int4``, ``float16``. Such hybrid models need kernels some runtimes lack."""
    recipe: Recipe | None = dataclasses.field(default=None, repr=False, compare=False)
    """Set for a mode ai-edge-quantizer applies: the source is converted under float32
    (a .tflite source is taken as it is), then quantized with ``recipe(options)``. The
    recipe decides whether the mode needs representative data and what it computes in."""

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
        if self.recipe is not None:
            rules = self.rules()
            object.__setattr__(self, "needs_representative_data", needs_calibration(rules))
            activations, weights = arithmetic(rules)
            object.__setattr__(self, "activations", activations)
            object.__setattr__(self, "weights", weights)
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

    def rules(self) -> list[Rule]:
        """The ai-edge-quantizer recipe of this mode, its options applied (empty for a
        mode the TensorFlow Lite converter applies alone)."""
        if self.recipe is None:
            return []
        try:
            return self.recipe(self.options)
        except ModeError as exc:
            if exc.mode is not None:
                raise
            raise ModeError(exc.problem, mode=self.name, hint=exc.hint, detail=exc.detail) from None

    def _follow(self, then: Any) -> None:
        """A mode with a ``then`` option converts like that post-training mode, so it
        computes in the same type and needs the same calibration data."""
        follows = _REGISTRY.get(then) if isinstance(then, str) else None
        if follows is None or follows.fine_tune is not None or follows.recipe is not None:
            post_training = [m.name for m in _REGISTRY.values() if m.fine_tune is None and m.recipe is None]
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
        if self.recipe is not None:
            key["recipe"] = _code_digest(self.recipe)
            key["rules"] = json.loads(json.dumps(self.rules(), sort_keys=True, default=str))
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


# --- modes ai-edge-quantizer applies to the float32 flatbuffer ------------------------------

ALGORITHMS = (
    "min_max_uniform_quantize",
    "OCTAV",
    "MSE",
    "GPTQ",
    "OSCAR",
    "HADAMARD_ROTATION",
    "DECOMPOSED_HADAMARD_ROTATION",
    "dequantized_weight_recovery",
)
"""ai-edge-quantizer's algorithms (``AlgorithmName`` values) that quantize to integers.
``float_casting`` (float16 weights: the ``float16`` mode) and ``no_quantize`` (``keep_float``)
are left out. Some apply to a few operators only (GPTQ and OSCAR to FULLY_CONNECTED); under
a rule for every operator, ai-edge-quantizer leaves the others float."""
BLOCK_SIZES = (32, 64, 128, 256)
NO_QUANTIZE = "no_quantize"
AEQ_DEFAULTS: dict[str, Any] = {"algorithm": ALGORITHMS[0], "keep_float": ()}
"""Options every ai-edge-quantizer mode with fixed arithmetic takes."""


def _rule(
    operation: str,
    algorithm: str,
    *,
    weight_bits: int,
    granularity: str = "CHANNELWISE",
    compute: str = "INTEGER",
    activation_bits: int | None = None,
) -> Rule:
    """A rule for every operator of a kind, as ai-edge-quantizer's own recipes write it."""
    op_config: dict[str, Any] = {}
    if activation_bits is not None:
        op_config["activation_tensor_config"] = _tensor_config(activation_bits, "TENSORWISE")
    op_config.update(
        weight_tensor_config=_tensor_config(weight_bits, granularity),
        compute_precision=compute,
        explicit_dequantize=compute == "FLOAT",
        skip_checks=False,
        min_weight_elements=0,
    )
    return {"regex": ".*", "operation": operation, "algorithm_key": algorithm, "op_config": op_config}


def _tensor_config(bits: int, granularity: str) -> dict[str, Any]:
    return {"num_bits": bits, "symmetric": True, "granularity": granularity, "dtype": "INT"}


def _kept_float(pattern: str, operation: str = "*") -> Rule:
    return {"regex": pattern, "operation": operation, "algorithm_key": NO_QUANTIZE}


def _algorithm(options: Mapping[str, Any], excluded: Sequence[str] = ()) -> str:
    algorithm = options["algorithm"]
    allowed = [a for a in ALGORITHMS if a not in excluded]
    if algorithm not in allowed:
        raise ModeError(
            f"algorithm {algorithm!r} is not one this mode quantizes with",
            hint=f"Use one of ai-edge-quantizer's algorithms: {', '.join(allowed)}",
        )
    return str(algorithm)


def _keep_float(options: Mapping[str, Any]) -> list[Rule]:
    """``keep_float``: regular expressions of operators left in float, matched (as
    ai-edge-quantizer matches every rule) against each operator's output tensor names.
    They come last, so they win over the mode's own rules."""
    patterns = options["keep_float"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise ModeError(
            f"keep_float must be a list of regular expressions, not {patterns!r}",
            hint="Write keep_float=['dense_2', 'conv_1'] (matched against operators' output tensor names)",
        )
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ModeError(
                f"keep_float pattern {pattern!r} is not a regular expression: {exc}",
                hint="Escape special characters (re.escape) to match a tensor name literally",
            ) from None
    # Each in a group of its own: ai-edge-quantizer groups rules by their regex text, and a
    # group first seen earlier in the recipe would otherwise keep its earlier place.
    return [_kept_float(f"(?:{p})") for p in patterns]


def _int4_weights(options: Mapping[str, Any]) -> list[Rule]:
    """ai-edge-quantizer's ``weight_only_wi4_afp32``: int4 weights, DEQUANTIZE to float."""
    return [_rule("*", _algorithm(options), weight_bits=4, compute="FLOAT"), *_keep_float(options)]


def _dynamic_int4(options: Mapping[str, Any]) -> list[Rule]:
    """ai-edge-quantizer's ``dynamic_wi4_afp32``: int4 weights, activations quantized at run time."""
    return [_rule("*", _algorithm(options), weight_bits=4), *_keep_float(options)]


def _dynamic_int4_blockwise(options: Mapping[str, Any]) -> list[Rule]:
    """int4 weights in blocks along the input dimension: only FULLY_CONNECTED and
    EMBEDDING_LOOKUP take them in ai-edge-quantizer, so other layers stay float. A layer
    whose input the block does not divide gets one scale per channel instead."""
    size = options["block_size"]
    if size not in BLOCK_SIZES or isinstance(size, bool):
        raise ModeError(
            f"block_size must be one of {', '.join(map(str, BLOCK_SIZES))}, not {size!r}",
            hint="ai-edge-quantizer has blocks of 32, 64, 128 or 256 weights; pick one that divides "
            "the input dimension of the Dense layers",
        )
    algorithm = _algorithm(options, excluded=("MSE",))  # ai-edge-quantizer has no blockwise MSE
    readers = ("FULLY_CONNECTED", "EMBEDDING_LOOKUP")
    # "^" matches every layer as ".*" does, under a text of its own: ai-edge-quantizer
    # groups rules by their regex text, and the blockwise rules would replace these.
    per_channel = [{**_rule(operation, algorithm, weight_bits=4), "regex": "^"} for operation in readers]
    blocks = [_rule(operation, algorithm, weight_bits=4, granularity=f"BLOCKWISE_{size}") for operation in readers]
    return [*per_channel, *blocks, *_keep_float(options)]


def _int16_activations(options: Mapping[str, Any]) -> list[Rule]:
    """ai-edge-quantizer's ``static_wi8_ai16``, with the model's input and output kept float
    (quantized inside the model) so it is fed like every other mode."""
    return [
        _rule("*", _algorithm(options), weight_bits=8, activation_bits=16),
        _kept_float(".*", "INPUT"),
        _kept_float(".*", "OUTPUT"),
        *_keep_float(options),
    ]


DEFAULT_RECIPE: tuple[Rule, ...] = (_rule("*", ALGORITHMS[0], weight_bits=8),)
"""ai-edge-quantizer's own default, ``dynamic_wi8_afp32``: what the ``recipe`` mode applies
until it is given one."""


def _own_recipe(options: Mapping[str, Any]) -> list[Rule]:
    """The ``recipe`` option: rules, a JSON file of them, or a recipe ai-edge-quantizer names."""
    recipe = options["recipe"]
    if isinstance(recipe, Path) or (isinstance(recipe, str) and recipe.lower().endswith(".json")):
        rules = _recipe_file(Path(recipe))
    elif isinstance(recipe, str):
        rules = _named_recipe(recipe)
    else:
        rules = recipe
    if not isinstance(rules, (list, tuple)) or not all(
        isinstance(r, Mapping) and isinstance(r.get("regex"), str) and isinstance(r.get("operation"), str)
        for r in rules
    ):
        raise ModeError(
            "the recipe is not a list of ai-edge-quantizer rules",
            hint="Give a list of dicts with 'regex', 'operation', 'algorithm_key' and 'op_config' "
            "(ai-edge-quantizer's JSON recipe format), a path to such a JSON file, or a recipe name",
        )
    return [*(json.loads(json.dumps(r, default=str)) for r in rules), *_keep_float(options)]


def _recipe_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise ModeError(
            f"cannot read the recipe file {path}: {exc.strerror or exc}",
            hint="Check the path (relative paths are from the directory pytest runs in)",
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModeError(
            f"the recipe file {path} is not JSON: {exc}",
            hint="Write the recipe as ai-edge-quantizer saves it (QuantizationResult.save writes one)",
        ) from None


def _named_recipe(name: str) -> Any:
    """One of ai-edge-quantizer's named recipes (imported only for a name)."""
    from ai_edge_quantizer.utils import recipe_utils

    try:
        return recipe_utils.resolve_recipe(name)
    except (ValueError, OSError):
        raise ModeError(
            f"ai-edge-quantizer has no recipe called {name!r}",
            hint="Name a function of ai_edge_quantizer.recipe (dynamic_wi4b32_afp32, static_wi8_ai8, ...) "
            "or give a path to a .json recipe file",
        ) from None


def needs_calibration(rules: Sequence[Rule]) -> bool:
    """Whether ai-edge-quantizer calibrates a recipe first (as its ``need_calibration``
    decides): some rule quantizes activations, or uses GPTQ."""
    for rule in rules:
        op_config = rule.get("op_config") or {}
        static = op_config.get("compute_precision") == "INTEGER" and "activation_tensor_config" in op_config
        if static or rule.get("algorithm_key") == "GPTQ":
            return True
    return False


def arithmetic(rules: Sequence[Rule]) -> tuple[str, str | None]:
    """What a recipe's model computes in, and how its weights are stored when that
    differs (``Mode.activations`` and ``Mode.weights``): read from its quantizing rules."""
    quantizing = [
        rule.get("op_config") or {}
        for rule in rules
        if rule.get("algorithm_key") != NO_QUANTIZE and rule.get("operation") not in ("INPUT", "OUTPUT")
    ]
    activation_bits = [c["activation_tensor_config"].get("num_bits", 8) for c in quantizing
                       if c.get("compute_precision") == "INTEGER" and c.get("activation_tensor_config")]
    weight_bits = [(c.get("weight_tensor_config") or {}).get("num_bits", 8) for c in quantizing]
    if activation_bits:
        activations = "int16" if max(activation_bits) > 8 else "int8"
        narrow = [b for b in weight_bits if b < 8]
        return activations, f"int{min(narrow)}" if narrow else None
    if not weight_bits:
        return "float32", None
    bits = min(weight_bits)
    return "float32", "float16" if bits == 16 else f"int{bits}"


def _register_quantizer_modes() -> None:
    for name, description, recipe, options in [
        ("int4_weights", "int4 weights dequantized to float, float computation (ai-edge-quantizer)",
         _int4_weights, AEQ_DEFAULTS),
        ("dynamic_int4", "int4 weights, activations quantized to int8 at run time (ai-edge-quantizer)",
         _dynamic_int4, AEQ_DEFAULTS),
        ("dynamic_int4_blockwise", "int4 weights in blocks of block_size for Dense and embedding "
         "layers (per channel where the block does not divide their input), dynamic activations; "
         "other layers float (ai-edge-quantizer)",
         _dynamic_int4_blockwise, {"block_size": BLOCK_SIZES[0], **AEQ_DEFAULTS}),
        ("int16_activations", "int16 activations with int8 weights, float input/output (ai-edge-quantizer)",
         _int16_activations, AEQ_DEFAULTS),
        ("recipe", "an ai-edge-quantizer recipe of one's own: option recipe (rules, a JSON file or a "
         "recipe name; default its dynamic_wi8_afp32)",
         _own_recipe, {"recipe": DEFAULT_RECIPE, "keep_float": ()}),
    ]:
        register_mode(Mode(name, description, _float32, options=options, recipe=recipe))


_register_quantizer_modes()
