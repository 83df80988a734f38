"""Where a quantized model loses its accuracy: the quantization error of every layer.

A failed accuracy or fidelity check says that a quantized model strays from its float32
conversion, not where. Here both run on a few evaluation samples with every intermediate
tensor kept; tensors are matched by name (the TensorFlow Lite converter and
ai-edge-quantizer keep the float32 conversion's names), quantized ones are read back in
float, and each is measured against its float32 counterpart: SQNR, RMSE, cosine
similarity, and the share of float values outside the range calibration gave the tensor.

Error builds up through a network, so the tensors after a bad layer are all bad; what a
layer adds is what its noise-to-signal ratio gained over its worst input's, and layers are
ranked by that (``added_sqnr_db``: the SQNR the layer would have alone). A rule table
(:data:`FIXES`) turns what the errors show into the fix to try: calibrate on data that
covers the inputs, keep one layer in float, compute activations in int16, or look at the
weights.

The comparison is written here rather than taken from ai-edge-quantizer's
``model_validator.compare_model``, which computes the same figures: that one raises
KeyError when an output name is missing from the quantized model and ValueError when a
name holds another tensor there (a float16 model renumbers its activations), where a
partial match must still be reported, with what did not match; it needs a SignatureDef,
builds two interpreters per sample and four more to list names, and averages a linear SNR
over samples, where signal and noise pooled over samples give the SQNR the fidelity check
reports (:func:`pytest_tflite.evaluate.compare`). On one sample both agree, to float
rounding (``tests/test_drilldown.py``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import textwrap
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, overload

from .errors import DatasetError, RuntimeFailure, TFLiteError
from .report import keys

if TYPE_CHECKING:
    import numpy as np

    from .conversion.modes import Mode
    from .model.flatbuffer import Operator, Tensor, TFLiteModel
    from .session import TFLiteSession

MAX_SAMPLES = 16
"""Samples compared: enough for stable figures, few enough to cost well under a second."""

INPUT, ACTIVATION, OUTPUT, WEIGHT = "input", "activation", "output", "weight"
"""What a compared tensor is: a model input (as quantized), computed inside, a model output, a constant."""

CLIPPED_SHARE = 0.02
"""Share of float values outside a tensor's quantized range above which calibration did
not see the values the evaluation data reach."""
DOMINANT_DB = 10.0
"""How much more error (in dB) one layer must add than any other to be the one to keep float."""
QUIET_DB = 40.0
"""SQNR at or above which a layer's quantization noise explains no accuracy loss (1% noise amplitude)."""

_PASSTHROUGH = ("DEQUANTIZE",)
"""Operators that only change a tensor's type: a tensor they produce is the layer before's."""
_REQUANTIZE = ("QUANTIZE",)
"""Operators whose quantized output has no float32 twin of its own name: compared with their input's."""


@dataclasses.dataclass(frozen=True)
class LayerError:
    """The quantization error of one tensor of the quantized model against float32.

    ``sqnr_db`` is 10*log10(sum(ref^2) / sum((ref - out)^2)) over the samples, clamped to
    +-``evaluate.SQNR_IDENTICAL_DB``; ``added_sqnr_db`` the same for the noise this layer
    added over its inputs' (what ranks layers); ``clipped`` the share of float values
    outside the range the quantized tensor can hold. ``op_index`` and ``op_name`` are the
    quantized model's operator that computes the tensor (None for weights and inputs), and
    ``dtype`` the type it computes it in: for an int8 model's float output, the int8 tensor
    its DEQUANTIZE reads.
    """

    tensor: str
    kind: str
    op_index: int | None
    op_name: str | None
    dtype: str
    sqnr_db: float
    added_sqnr_db: float
    rmse: float
    cosine: float
    clipped: float = 0.0

    @property
    def layer(self) -> str:
        """The tensor's first name: the converter joins the names of fused layers with ';'."""
        return self.tensor.split(";")[0]

    @property
    def pattern(self) -> str:
        """A regular expression matching this tensor's name alone, for ``keep_float``."""
        return "^" + re.escape(self.layer) + ("(;|$)" if ";" in self.tensor else "$")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "layer": self.layer}


@dataclasses.dataclass(frozen=True)
class LayerErrors(Sequence[LayerError]):
    """The layers of a quantized model, the one that adds the most error first.

    A sequence of :class:`LayerError` (inputs as quantized, activations, outputs); the
    weights are apart (``weights``, worst SQNR first), and ``unmatched`` names the float32
    tensors that had no counterpart to compare with, and why.
    """

    layers: tuple[LayerError, ...]
    weights: tuple[LayerError, ...] = ()
    unmatched: tuple[tuple[str, str], ...] = ()
    samples: int = 0
    model: str | None = None
    mode: str | None = None
    reference_mode: str | None = None

    @overload
    def __getitem__(self, index: int) -> LayerError: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[LayerError, ...]: ...

    def __getitem__(self, index: int | slice) -> LayerError | tuple[LayerError, ...]:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[LayerError]:
        return iter(self.layers)

    def in_order(self) -> list[LayerError]:
        """The layers in the quantized model's execution order (inputs first)."""
        return sorted(self.layers, key=lambda e: -1 if e.op_index is None else e.op_index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "mode": self.mode,
            "reference_mode": self.reference_mode,
            "samples": self.samples,
            "layers": [e.to_dict() for e in self.layers],
            "weights": [e.to_dict() for e in self.weights],
            "unmatched": [{"tensor": name, "why": why} for name, why in self.unmatched],
        }


# --- measuring ----------------------------------------------------------------------------------


def layer_errors(reference: TFLiteModel, model: TFLiteModel, samples: Any) -> LayerErrors:
    """Run ``reference`` (the float32 conversion) and ``model`` on ``samples`` and measure
    every tensor they share by name.

    ``samples`` are float inputs as ``predict`` takes them (an array for one input, arrays in
    the model's input order, or arrays by input name); at most :data:`MAX_SAMPLES` rows,
    spread over the set, are used.
    """
    feeds = _feeds(reference, samples)
    pairs, unmatched = _pairs(reference, model)
    producers = {out: op for op in model.operators for out in op.outputs}
    ref_run, run = _Preserving(reference), _Preserving(model)
    stats = {target.index: _Stats() for _, target, _ in pairs}
    rows = len(next(iter(feeds.values())))
    for row in range(rows):
        sample = {name: array[row : row + 1] for name, array in feeds.items()}
        ref_run.invoke(sample)
        run.invoke(sample)
        for ref_tensor, target, kind in pairs:
            if kind == WEIGHT and row > 0:
                continue  # the same values every run
            expected, found = ref_run.value(ref_tensor.index), run.value(target.index)
            if expected is None or found is None or expected.size != found.size:
                stats[target.index].unreadable = True
                continue
            bounds = None if kind == WEIGHT else run.range_of(_held_in(model, target.index, producers))
            stats[target.index].add(expected.ravel(), found.ravel(), bounds)
    errors, bad = _errors(model, pairs, stats, producers)
    layers = [e for e in errors if e.kind != WEIGHT]
    weights = [e for e in errors if e.kind == WEIGHT]
    return LayerErrors(
        layers=tuple(sorted(layers, key=lambda e: (e.added_sqnr_db, e.sqnr_db, e.op_index or 0))),
        weights=tuple(sorted(weights, key=lambda e: e.sqnr_db)),
        unmatched=tuple(unmatched + bad),
        samples=rows,
        model=model.name,
        mode=model.mode,
        reference_mode=reference.mode,
    )


def _feeds(reference: TFLiteModel, samples: Any) -> dict[str, np.ndarray]:
    """The samples by the reference's input names, at most MAX_SAMPLES rows spread over them."""
    import numpy as np

    from .model.runtime import plain_name

    names = [plain_name(t.name) for t in reference.inputs]
    if isinstance(samples, Mapping):
        missing = [n for n in names if n not in samples]
        if missing:
            raise DatasetError(
                f"the samples have no input named {', '.join(map(repr, missing))}",
                source=reference.name,
                hint=f"Give arrays for the model's inputs: {', '.join(names)}",
            )
        arrays = [samples[n] for n in names]
    elif isinstance(samples, (list, tuple)) and len(names) > 1:
        arrays = list(samples)
    else:
        arrays = [samples]
    arrays = [np.asarray(a, dtype=np.float32) for a in arrays]
    counts = {len(a) if a.ndim else 0 for a in arrays}
    if len(arrays) != len(names) or len(counts) != 1 or counts == {0}:
        raise DatasetError(
            f"cannot compare layers on samples given as {len(arrays)} array(s) with {sorted(counts)} rows "
            f"for a model with {len(names)} input(s)",
            source=reference.name,
            hint="Give at least one sample per input, every input with the same number of rows",
        )
    total = counts.pop()
    picked = sorted(set(np.linspace(0, total - 1, min(total, MAX_SAMPLES)).round().astype(int).tolist()))
    return {name: array[picked] for name, array in zip(names, arrays)}


Pair = tuple["Tensor", "Tensor", str]
"""(float32 tensor, quantized model's tensor, kind)."""


def _pairs(reference: TFLiteModel, model: TFLiteModel) -> tuple[list[Pair], list[tuple[str, str]]]:
    """The tensors to compare, and the reference tensors left without a counterpart.

    Tensors pair by name (see :func:`_match`). The quantized output of a QUANTIZE, which
    the float32 model lacks, is compared with its input's twin (the model input as the int8
    model sees it). Integer constants are shapes and axes, not weights: left out."""
    wanted = [
        t
        for t in reference.tensors
        if t.name and _numeric(t) and 0 not in t.shape and (not t.is_constant or t.dtype.startswith("float"))
    ]
    found = _match(reference, model, wanted)
    by_name = {t.name: t for t in model.tensors}
    inputs = {t.index for t in reference.inputs}
    outputs = {t.index for t in reference.outputs}
    pairs: list[Pair] = []
    unmatched: list[tuple[str, str]] = []
    for tensor in wanted:
        target = found.get(tensor.index)
        if target is None:
            other = by_name.get(tensor.name)
            why = f"shape {list(other.shape)}, not {list(tensor.shape)}" if other else "absent"
            unmatched.append((tensor.name, why))
        elif tensor.is_constant:
            pairs.append((tensor, target, WEIGHT))
        elif tensor.index in inputs:
            if _integer(target):  # a float input is fed as is: nothing to measure
                pairs.append((tensor, target, INPUT))
        else:
            pairs.append((tensor, target, OUTPUT if tensor.index in outputs else ACTIVATION))
    twins = {t.name: t for t in reference.tensors if t.name}
    for op in model.operators:
        if op.name not in _REQUANTIZE or not op.inputs or not op.outputs:
            continue
        source, target = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        twin = twins.get(source.name)
        if twin is not None and target.name not in twins and _elements(twin) == _elements(target):
            pairs.append((twin, target, INPUT if twin.index in inputs else ACTIVATION))
    return pairs, unmatched


def _match(reference: TFLiteModel, model: TFLiteModel, wanted: Sequence[Tensor]) -> dict[int, Tensor]:
    """The quantized model's tensor for each float32 tensor, by reference index.

    First the tensor of the same name and size; then one of the same size and role (weight
    or activation) whose name differs only by the number the converter appends to keep
    names unique (a float16 model's DEQUANTIZE copies of the weights take ``conv/Conv2D1``,
    so its activation becomes ``conv/Conv2D2``) or by the ``quant_`` quantization-aware
    training puts before layer names; last, the only tensor of the same size and role whose
    first name is the same (quantization-aware training fuses other names after it)."""
    producers = {out: op for op in model.operators for out in op.outputs}
    weights = {t.index for t in model.tensors if _is_weight(model, t, producers)}
    ref_unwrapped = {i: _unwrapped(n) for i, n in _stems(reference).items()}
    unwrapped = {i: _unwrapped(n) for i, n in _stems(model).items()}
    passes = (  # float32 tensors' keys, quantized tensors' keys, same role, one candidate only
        ({t.index: t.name for t in reference.tensors}, {t.index: t.name for t in model.tensors}, False, False),
        (ref_unwrapped, unwrapped, True, False),
        (_first_names(ref_unwrapped), _first_names(unwrapped), True, True),
    )
    found: dict[int, Tensor] = {}
    used: set[int] = set()
    for ref_keys, target_keys, same_role, unique in passes:
        by_key: dict[_Key, list[Tensor]] = {}
        for t in model.tensors:
            if t.index not in used:
                by_key.setdefault(_key(target_keys, t, t.index in weights, same_role), []).append(t)
        left = [(t, _key(ref_keys, t, t.is_constant, same_role)) for t in wanted if t.index not in found]
        wanting = Counter(key for _, key in left)
        for tensor, key in left:
            candidates = [t for t in by_key.get(key, []) if t.index not in used]
            if candidates and (not unique or (wanting[key] == 1 and len(by_key[key]) == 1)):
                found[tensor.index] = candidates[0]
                used.add(candidates[0].index)
    return found


_Key = tuple[str, int, "bool | None"]
"""What pairs two tensors: a name (or part of it), the element count, and the role if it must agree."""


def _key(names: Mapping[int, str], tensor: Tensor, weight: bool, same_role: bool) -> _Key:
    return names[tensor.index], _elements(tensor), weight if same_role else None


def _first_names(names: Mapping[int, str]) -> dict[int, str]:
    return {i: name.split(";")[0] for i, name in names.items()}


def _stems(model: TFLiteModel) -> dict[int, str]:
    """Each tensor's name without the number the converter appended to keep it unique, when
    the model has a tensor of the shorter name (``conv/Conv2D1`` -> ``conv/Conv2D``)."""
    names = {t.name for t in model.tensors}
    stems = {}
    for tensor in model.tensors:
        stripped = tensor.name.rstrip("0123456789")
        stems[tensor.index] = stripped if stripped != tensor.name and stripped in names else tensor.name
    return stems


def _unwrapped(name: str) -> str:
    """The name without tensorflow-model-optimization's ``quant_`` before each layer's name."""
    return re.sub(r"(^|[/;])quant_", r"\1", name)


def _is_weight(model: TFLiteModel, tensor: Tensor, producers: Mapping[int, Operator]) -> bool:
    """A constant, or the float copy a DEQUANTIZE makes of one (float16 and int4 weights)."""
    op = producers.get(tensor.index)
    if tensor.is_constant or op is None:
        return tensor.is_constant
    return op.name in _PASSTHROUGH and bool(op.inputs) and model.tensors[op.inputs[0]].is_constant


def _held_in(model: TFLiteModel, index: int, producers: Mapping[int, Operator]) -> int:
    """The tensor whose range bounds a tensor's values: for the float copy a DEQUANTIZE
    makes (an int8 model's float output), the integer tensor it reads."""
    op = producers.get(index)
    if op is not None and op.name in _PASSTHROUGH and op.inputs and _integer(model.tensors[op.inputs[0]]):
        return op.inputs[0]
    return index


def _numeric(tensor: Tensor) -> bool:
    return tensor.dtype not in ("string", "resource", "variant") and not tensor.dtype.startswith("type")


def _integer(tensor: Tensor) -> bool:
    return tensor.dtype.startswith(("int", "uint"))


def _elements(tensor: Tensor) -> int:
    return math.prod(tensor.shape)


class _Stats:
    """Sums over samples: what SQNR, RMSE, cosine and the clipped share are made of."""

    def __init__(self) -> None:
        self.signal = self.noise = self.found = self.dot = 0.0
        self.count = self.outside = 0
        self.unreadable = False

    def add(self, expected: np.ndarray, found: np.ndarray, bounds: tuple[float, float] | None) -> None:
        error = found - expected
        self.signal += float(expected @ expected)
        self.noise += float(error @ error)
        self.found += float(found @ found)
        self.dot += float(found @ expected)
        self.count += expected.size
        if bounds is not None:
            self.outside += int(((expected < bounds[0]) | (expected > bounds[1])).sum())

    @property
    def nsr(self) -> float:
        """Noise over signal power (infinite for a silent reference with any noise)."""
        if self.noise == 0.0:
            return 0.0
        return math.inf if self.signal == 0.0 else self.noise / self.signal

    def cosine(self) -> float:
        if self.signal == 0.0 and self.found == 0.0:
            return 1.0
        if self.signal == 0.0 or self.found == 0.0:
            return 0.0
        return self.dot / math.sqrt(self.signal * self.found)


def _errors(
    model: TFLiteModel, pairs: list[Pair], stats: Mapping[int, _Stats], producers: Mapping[int, Operator]
) -> tuple[list[LayerError], list[tuple[str, str]]]:
    """One LayerError per readable pair, with what its operator added over its inputs."""
    from .evaluate import SQNR_IDENTICAL_DB, _sqnr_db

    # What an operator's inputs bring it: the activations compared (a weight's error is its own).
    measured = {
        target.index: stats[target.index]
        for _, target, kind in pairs
        if kind != WEIGHT and not stats[target.index].unreadable
    }

    def computing(index: int) -> Operator | None:
        """The operator that computes a tensor: past a DEQUANTIZE of a tensor not compared
        (an int8 output's float copy), the one before it."""
        op = producers.get(index)
        if op is not None and op.name in _PASSTHROUGH and op.inputs and op.inputs[0] not in measured:
            op = producers.get(op.inputs[0], op)
        return op

    def source(index: int) -> int | None:
        """The compared activation an operator input stands for, through type changes."""
        seen = set()
        while index not in measured:
            op = producers.get(index)
            if op is None or op.name not in _PASSTHROUGH + _REQUANTIZE or not op.inputs or index in seen:
                return None
            seen.add(index)
            index = op.inputs[0]
        return index

    errors: list[LayerError] = []
    bad: list[tuple[str, str]] = []
    for ref_tensor, target, kind in pairs:
        stat = stats[target.index]
        if stat.unreadable:
            bad.append((ref_tensor.name, "not readable in both interpreters"))
            continue
        op = None if kind == WEIGHT else computing(target.index)
        inputs = [] if op is None else [source(i) for i in op.inputs if i >= 0]
        before = max((measured[i].nsr for i in inputs if i is not None and i != target.index), default=0.0)
        added = max(0.0, stat.nsr - before) if math.isfinite(stat.nsr) else math.inf
        errors.append(
            LayerError(
                tensor=target.name,
                kind=kind,
                op_index=None if op is None else op.index,
                op_name=None if op is None else op.name,
                dtype=model.tensors[_held_in(model, target.index, producers)].dtype,
                sqnr_db=_sqnr_db(stat.signal, stat.noise),
                added_sqnr_db=_sqnr_db(1.0, added) if math.isfinite(added) else -SQNR_IDENTICAL_DB,
                rmse=math.sqrt(stat.noise / stat.count) if stat.count else 0.0,
                cosine=stat.cosine(),
                clipped=stat.outside / stat.count if stat.count else 0.0,
            )
        )
    return errors, bad


class _Preserving:
    """A model in the LiteRT interpreter with every intermediate tensor kept, run one sample
    at a time, with the kernels the run evaluates with."""

    def __init__(self, model: TFLiteModel) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        from .model.isolation import ensure_loads_safely
        from .model.kernels import current_kernels
        from .nativelog import kept

        self.model = model
        resolver = OpResolverType.BUILTIN_REF if current_kernels() == "reference" else OpResolverType.AUTO
        ensure_loads_safely(model.content, source=model.name, mode=model.mode)
        try:
            with kept(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors", category=UserWarning)
                self.interpreter = Interpreter(
                    model_content=model.content,
                    experimental_op_resolver_type=resolver,
                    experimental_preserve_all_tensors=True,
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise self._failure("the LiteRT interpreter cannot load the model with its tensors kept", exc) from exc
        self.details = {d["index"]: d for d in self.interpreter.get_tensor_details()}

    def invoke(self, sample: Mapping[str, np.ndarray]) -> None:
        from .model.runtime import plain_name, quantize

        inputs = self.interpreter.get_input_details()
        by_name = all(plain_name(d["name"]) in sample for d in inputs)
        arrays = [sample[plain_name(d["name"])] for d in inputs] if by_name else list(sample.values())
        try:
            if any(tuple(d["shape"]) != a.shape for d, a in zip(inputs, arrays)):
                for d, a in zip(inputs, arrays):
                    self.interpreter.resize_tensor_input(d["index"], a.shape, strict=False)
                self.interpreter.allocate_tensors()
                inputs = self.interpreter.get_input_details()
            for d, a in zip(inputs, arrays):
                self.interpreter.set_tensor(d["index"], quantize(a, d))
            self.interpreter.reset_all_variables()
            self.interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise self._failure("the LiteRT interpreter failed to run a sample with its tensors kept", exc) from exc

    def value(self, index: int) -> np.ndarray | None:
        """The tensor's values in float64, dequantized; None when they cannot be read."""
        import numpy as np

        detail = self.details.get(index)
        if detail is None:
            return None
        try:
            array = self.interpreter.get_tensor(index)
        except ValueError:
            return None
        params = detail["quantization_parameters"]
        scales, zero_points = params["scales"], params["zero_points"]
        if not np.issubdtype(array.dtype, np.integer) or not len(scales):
            values: np.ndarray = array.astype(np.float64)
            return values
        if len(scales) == 1:
            scaled: np.ndarray = (array.astype(np.float64) - float(zero_points[0])) * float(scales[0])
            return scaled
        axis = int(params["quantized_dimension"])
        if array.ndim <= axis or array.shape[axis] != len(scales):
            return None  # blockwise scales live in another tensor
        shape = [1] * array.ndim
        shape[axis] = -1
        zeros = np.asarray(zero_points, dtype=np.float64).reshape(shape) if len(zero_points) == len(scales) else 0.0
        dequantized: np.ndarray = (array.astype(np.float64) - zeros) * np.asarray(scales, np.float64).reshape(shape)
        return dequantized

    def range_of(self, index: int) -> tuple[float, float] | None:
        """The float values an 8- or 16-bit tensor with one scale can hold, one step wider
        (a fixed-range output such as softmax's tops out one step below 1)."""
        import numpy as np

        detail = self.details.get(index)
        if detail is None or np.dtype(detail["dtype"]).name not in ("int8", "uint8", "int16"):
            return None
        scales, zero_points = (detail["quantization_parameters"][k] for k in ("scales", "zero_points"))
        if len(scales) != 1:
            return None
        info = np.iinfo(detail["dtype"])
        scale, zero = float(scales[0]), float(zero_points[0])
        return (info.min - zero - 1) * scale, (info.max - zero + 1) * scale

    def _failure(self, problem: str, exc: BaseException) -> RuntimeFailure:
        return RuntimeFailure(
            problem,
            source=self.model.name,
            mode=self.model.mode,
            hint="Check that the model runs in LiteRT (python -m pytest_tflite check MODEL)",
            detail=str(exc),
        )


# --- the fix to try -----------------------------------------------------------------------------


Found = tuple["LayerError | None", dict[str, Any]]
"""What a rule saw: the layer it is about, and the figures its sentence quotes."""


def _clipped(errors: LayerErrors) -> Found | None:
    """The first layer, or the worst one, holds values calibration never saw."""
    from .conversion.modes import CALIBRATION_SAMPLES

    for candidate in errors.in_order()[:1] + list(errors[:1]):
        if candidate.clipped >= CLIPPED_SHARE:
            return candidate, {"clipped": candidate.clipped, "samples": CALIBRATION_SAMPLES}
    return None


def _dominant(errors: LayerErrors) -> Found | None:
    """One layer adds at least DOMINANT_DB more error than any other."""
    if not errors or errors[0].added_sqnr_db >= QUIET_DB:
        return None
    worst = errors[0]
    following = errors[1].added_sqnr_db if len(errors) > 1 else QUIET_DB
    if following - worst.added_sqnr_db < DOMINANT_DB:
        return None
    return worst, {"added": worst.added_sqnr_db, "next": following, "keep_float": _keep_float_call(errors, worst)}


def _built_up_in_int8(errors: LayerErrors) -> Found | None:
    """No layer stands out, the error reaches an audible level, and activations are 8-bit."""
    found = _built_up(errors)
    if found is None or not any(e.dtype in EIGHT_BIT for e in errors):
        return None
    return found[0], {**found[1], "int16": " or ".join(_registered(INT16_MODES))}


def _built_up(errors: LayerErrors) -> Found | None:
    """No layer stands out, and the error reaches an audible level somewhere."""
    worst = min(errors, key=lambda e: e.sqnr_db, default=None)
    if worst is None or worst.sqnr_db >= QUIET_DB:
        return None
    return worst, {"worst": worst.sqnr_db, "dtype": worst.dtype}


def _quiet(errors: LayerErrors) -> Found | None:
    from .evaluate import SQNR_IDENTICAL_DB

    worst = min(errors, key=lambda e: e.sqnr_db, default=None)
    return worst, {"worst": worst.sqnr_db if worst else SQNR_IDENTICAL_DB}


@dataclasses.dataclass(frozen=True)
class Fix:
    """One thing to try: when the errors call for it, what they show, and the advice."""

    name: str
    applies: Callable[[LayerErrors], Found | None] = dataclasses.field(repr=False)
    shows: str
    advice: str


FIXES = (
    Fix(
        "calibration",
        _clipped,
        "{where} reaches values outside the range calibration gave it ({clipped:.0%} of them)",
        "calibrate on data that covers the evaluation inputs: more samples drawn like the evaluation "
        "data (--tflite-calibration-samples N or ini tflite_calibration_samples; default {samples})",
    ),
    Fix(
        "keep_float",
        _dominant,
        "{where} adds far more error than any other layer ({added:.1f} dB, the next {next:.1f} dB)",
        "keep it in float: {keep_float}",
    ),
    Fix(
        "int16_activations",
        _built_up_in_int8,
        "the error builds up layer after layer, to {worst:.1f} dB at {where}",
        "compute the activations in int16: mode {int16}",
    ),
    Fix(
        "weights",
        _built_up,
        "the error builds up layer after layer, to {worst:.1f} dB at {where}, with activations in {dtype}",
        "it comes from the weights: adapt them by quantization-aware training (mode qat_int8), or keep "
        "them in float16 (mode float16) where the target allows",
    ),
    Fix(
        "none",
        _quiet,
        "no layer loses much: every one keeps {worst:.1f} dB or more",
        "quantization noise does not explain the loss; a larger evaluation set tells the metric's own noise",
    ),
)
"""What the errors can show and the fix each calls for, tried in order: the first that
applies names the fix (the last always does)."""

EIGHT_BIT = ("int8", "uint8")
KEEP_FLOAT_MODES: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "int8": ("recipe", {"recipe": "static_wi8_ai8"}),
    "int16": ("int16_activations", {}),
    "float32": ("recipe", {}),
}
"""The ai-edge-quantizer mode (and options) that quantizes like a mode of the TensorFlow
Lite converter computing in these activations, and can keep a layer float."""
INT16_MODES = ("int16x8", "int16_activations")
"""The modes with int16 activations: the converter's and ai-edge-quantizer's."""


@dataclasses.dataclass(frozen=True)
class Suggestion:
    """The fix to try (a :data:`FIXES` name), the layer it is about, and the sentence."""

    fix: str
    layer: LayerError | None
    text: str


def suggest_fix(errors: LayerErrors) -> Suggestion:
    """The fix to try, from what the errors show (see :data:`FIXES`)."""
    for fix in FIXES:
        found = fix.applies(errors)
        if found is not None:
            layer, values = found
            values = {**values, "where": _where(layer)}
            return Suggestion(fix.name, layer, f"{fix.shows.format(**values)}; {fix.advice.format(**values)}")
    raise AssertionError("the last fix always applies")  # pragma: no cover


def _where(layer: LayerError | None) -> str:
    if layer is None:
        return "the model"
    return f"layer {layer.layer!r}" + (f" ({layer.op_name} {layer.op_index})" if layer.op_name else "")


def _keep_float_call(errors: LayerErrors, layer: LayerError) -> str:
    """How to convert with ``layer`` kept float: the failing mode itself when it takes
    ``keep_float`` (its patterns kept), else ai-edge-quantizer's mode that quantizes alike."""
    mode = _mode(errors.mode)
    options: dict[str, Any] = {}
    if mode is not None and mode.weights == "float16" and "keep_float" not in mode.options:
        # every ai-edge-quantizer mode that keeps a layer float quantizes the others to integers
        return "TensorFlow's float16 mode cannot keep one layer in float32: convert under float32"
    if mode is not None and "keep_float" in mode.options:
        kept = mode.options["keep_float"]
        patterns = [kept] if isinstance(kept, str) else list(kept or ())
    else:
        name, alike = KEEP_FLOAT_MODES.get(mode.activations if mode else "int8", KEEP_FLOAT_MODES["int8"])
        mode, options, patterns = _mode(name), dict(alike), []
    if mode is None:
        return f"ai-edge-quantizer's no_quantize rule on regex {layer.pattern!r}"
    options["keep_float"] = [*dict.fromkeys([*patterns, layer.pattern])]
    arguments = ", ".join(f"{k}={v!r}" for k, v in options.items())
    return (
        f"convert under mode {mode.name!r}, registered in conftest.py as "
        f"register_mode(get_mode({mode.name!r}).with_options({arguments}), replace=True)"
    )


def _mode(name: str | None) -> Mode | None:
    from .conversion.modes import get_mode

    if name is None:
        return None
    try:
        return get_mode(name)
    except TFLiteError:
        return None


def _registered(names: Sequence[str]) -> list[str]:
    return [name for name in names if _mode(name) is not None] or list(names[:1])


# --- the failure message ------------------------------------------------------------------------

WIDTH = 96
"""Columns the text's lines fit in: with the four spaces an error's detail is indented by,
a failure message stays within 100."""
UNMATCHED_SHOWN = 6
"""Tensors without a counterpart named in the text (a retrained model can have hundreds)."""
_COLUMNS = (
    ("#", 3, "right"),
    ("operator", 17, "left"),
    ("layer", 0, "tail"),
    ("type", 7, "left"),
    ("SQNR", 6, "right"),
    ("added", 6, "right"),
    ("cosine", 6, "right"),
    ("clip", 6, "right"),
)
"""Header, width (0: what the line leaves) and alignment of the table's columns (``tail``:
left-aligned, cut at the start, so that a long name keeps the part that tells layers apart)."""


def drill_down_text(errors: LayerErrors, limit: int = 5) -> str:
    """The ``limit`` layers that add the most error, as a table for a failure message, then
    the fix to try and what could not be compared; every line fits :data:`WIDTH` columns."""
    against = errors.reference_mode or "the reference"
    head = (
        f"quantization error per layer against {against} on {errors.samples} evaluation sample(s), the "
        "layers that add the most first (SQNR at the layer and of what it adds, in dB; clip: values "
        "outside the quantized range):"
    )
    lines = textwrap.wrap(head, WIDTH)
    if errors.layers:
        lines += _table(list(errors[:limit]))
        lines += textwrap.wrap("fix to try: " + suggest_fix(errors).text, WIDTH, subsequent_indent="    ")
        mode = _mode(errors.mode)
        if mode is not None and mode.fine_tune is not None:
            note = f"mode {mode.name!r} fine-tunes the weights: part of each difference is the fine-tune's"
            lines += textwrap.wrap(note, WIDTH, subsequent_indent="    ")
    else:
        lines.append("no tensor of the two models could be compared")
    if errors.unmatched:
        shown = [f"{name} ({why})" for name, why in errors.unmatched[:UNMATCHED_SHOWN]]
        more = len(errors.unmatched) - len(shown)
        note = f"not compared: {len(errors.unmatched)} tensor(s) of {against} have no counterpart here: "
        note += ", ".join(shown) + (f", and {more} more" if more else "")
        lines += textwrap.wrap(note, WIDTH, subsequent_indent="    ", break_long_words=True)
    return "\n".join(lines)


def _table(rows: list[LayerError]) -> list[str]:
    fixed = sum(width for _, width, _ in _COLUMNS) + 2 * (len(_COLUMNS) - 1)
    widths = [width or WIDTH - fixed for _, width, _ in _COLUMNS]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for (_, _, align), width, cell in zip(_COLUMNS, widths, cells):
            if len(cell) > width:
                cell = "..." + cell[len(cell) - width + 3 :] if align == "tail" else cell[: width - 3] + "..."
            parts.append(cell.rjust(width) if align == "right" else cell.ljust(width))
        return "  ".join(parts).rstrip()

    out = [line([c[0] for c in _COLUMNS]), line(["-" * w for w in widths])]
    for e in rows:
        out.append(
            line([
                "-" if e.op_index is None else str(e.op_index),
                e.op_name or e.kind,
                e.layer,
                e.dtype,
                f"{e.sqnr_db:.1f}",
                f"{e.added_sqnr_db:.1f}",
                f"{e.cosine:.4f}",
                f"{e.clipped:.1%}",
            ])
        )
    return out


# --- for the declared checks --------------------------------------------------------------------


class Declaration(Protocol):
    """What the drill-down reads of a declared model (a ``DeclaredModel`` has it)."""

    @property
    def name(self) -> str: ...

    def resolved(self, field: str) -> Any: ...


def drill_down_for_check(
    session: TFLiteSession,
    declared: Declaration,
    model: TFLiteModel,
    reference: TFLiteModel,
    *,
    failed: bool,
) -> tuple[str, list[tuple[str, Any]]]:
    """For a declared model's accuracy check: the text to add to its failure message and
    the properties to record on its report (``user_properties``).

    Computed when the check ``failed``, or for every quantized model under
    ``--tflite-drill-down``; once per model bytes in a run. ``("", [])`` for the float32
    conversion itself and for a model without evaluation data. A drill-down that cannot run
    says why in the text and records nothing: it never hides the failure it explains.
    """
    if not (failed or session.settings.drill_down) or model.digest == reference.digest:
        return "", []

    def compute() -> LayerErrors | str | None:
        from .evaluate import evaluation_inputs
        from .model.runtime import plain_name

        try:
            data = declared.resolved("evaluation_data")
            if data is None:
                return None
            arrays = evaluation_inputs(model, data)
            samples = dict(zip((plain_name(t.name) for t in model.inputs), arrays))
            return layer_errors(reference, model, samples)
        except TFLiteError as exc:
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - a drill-down must never hide the failure it explains
            return f"{type(exc).__name__}: {exc}"

    found = session.memo(("drill_down", model.digest, reference.digest), compute)
    if found is None:
        return "", []
    if isinstance(found, str):
        return f"quantization error per layer not measured: {found}", []
    return drill_down_text(found), records(found)


def records(errors: LayerErrors) -> list[tuple[str, Any]]:
    """The properties a check records: the worst layer and the fix flat (for JUnit XML and the
    table), and every figure under ``tflite_drill_down`` (for the JSON report)."""
    values: list[tuple[str, Any]] = [(keys.key("drill_down"), errors.to_dict())]
    if errors.layers:
        suggestion = suggest_fix(errors)
        worst = errors[0]
        values += [
            (keys.key("drill_down_fix"), suggestion.fix),
            (keys.key("drill_down_fix_text"), suggestion.text),
            (keys.key("drill_down_worst_layer"), worst.layer),
            (keys.key("drill_down_worst_sqnr_db"), round(worst.sqnr_db, 3)),
            (keys.key("drill_down_worst_added_sqnr_db"), round(worst.added_sqnr_db, 3)),
        ]
    return values
