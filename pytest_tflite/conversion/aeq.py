"""Quantizing a float32 flatbuffer with Google's AI Edge Quantizer (ai-edge-quantizer).

It takes recipes the TensorFlow Lite converter has no counterpart for (int4 weights,
blockwise scales, int16 activations, rules per layer) and works on the flatbuffer alone:
no TensorFlow. ``ai_edge_quantizer`` is imported only when a model is quantized.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConversionError, ModeError, ModeUnavailable, TFLiteError
from ..model.flatbuffer import TFLiteModel, tensor_type_name
from ..nativelog import kept
from .sources import InputSpec

if TYPE_CHECKING:
    from .datasets import Sample
    from .modes import Mode, Rule

BLOCKWISE_READERS = ("FULLY_CONNECTED", "EMBEDDING_LOOKUP")
"""The operators ai-edge-quantizer quantizes in blocks along their weights' last dimension."""


@dataclasses.dataclass(frozen=True)
class Quantized:
    """ai-edge-quantizer's model, and the layers not quantized in blocks because the block
    size does not divide their weights' input dimension (by their output tensor names)."""

    content: bytes
    unblocked: tuple[str, ...] = ()


def quantize(
    content: bytes,
    mode: Mode,
    samples: list[Sample] | None,
    specs: Sequence[InputSpec],
    *,
    source: str | None = None,
) -> Quantized:
    """``content`` quantized by ai-edge-quantizer with ``mode``'s recipe, calibrated on
    ``samples`` (one array per spec) when the recipe needs it."""
    model = TFLiteModel(content, name=source or "model")
    _require_float(model, mode.name)
    rules = mode.rules()
    if not rules:
        raise ModeError(
            "the recipe has no rules, so ai-edge-quantizer has nothing to apply",
            source=source,
            mode=mode.name,
            hint="Give the mode a recipe: get_mode('recipe').with_options(recipe=[...])",
        )
    try:
        with _quiet():
            from ai_edge_quantizer import quantizer

            added, unfit = _unfit_blocks(rules, model)
            rules = [*rules, *added]
            engine = quantizer.Quantizer(bytearray(content), rules)
            calibration = None
            if engine.need_calibration:
                if samples is None:
                    raise ModeError(
                        "the recipe calibrates activations (or uses GPTQ), but no representative "
                        "data was drawn for it",
                        source=source,
                        mode=mode.name,
                        hint="Pass representative_data=",
                    )
                calibration = _calibrated(engine, rules, content, calibration_data(content, samples, specs))
            result = engine.quantize(calibration, enable_progress_report=False)
    except TFLiteError:
        raise
    except Exception as exc:  # noqa: BLE001 - ai-edge-quantizer raises many types; all are reported
        message = f"{type(exc).__name__}: {exc}"
        raise ConversionError(
            "ai-edge-quantizer could not quantize the model",
            source=source,
            mode=mode.name,
            hint=quantizer_hint(message),
            detail=message,
        ) from exc
    return Quantized(bytes(result.quantized_model or b""), tuple(scope.rstrip(";") for scope in unfit))


def _require_float(model: TFLiteModel, mode: str) -> None:
    """ai-edge-quantizer quantizes float tensors; it leaves a quantized model as it is,
    without a word."""
    quantized = next((t for t in model.tensors if t.quantization), None)
    if quantized is not None:
        raise ModeUnavailable(
            f"the model is already quantized (tensor {quantized.name!r} is {quantized.dtype} with a scale), "
            "and ai-edge-quantizer quantizes float models",
            source=model.name,
            mode=mode,
            hint="Give the float32 .tflite (converted without optimizations), or check this one under "
            "float32, which takes a .tflite as it is",
        )


def _unfit_blocks(rules: list[Rule], model: TFLiteModel) -> tuple[list[Rule], list[str]]:
    """Rules for the layers whose rule quantizes their weights in blocks that do not divide
    the weights' input dimension, and the layers' scopes (output tensor names, which rules
    are matched against). ai-edge-quantizer stops at the first such layer; here each takes
    the rule that applies without those blockwise ones (float when none does), as
    ai-edge-quantizer passes over the rules an operator cannot take."""
    winner = _matcher(rules)
    added, unfit = [], []
    for op in model.operators:
        if op.name not in BLOCKWISE_READERS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        width = model.tensors[op.inputs[1]].shape[-1:] or (0,)
        names = [model.tensors[t].name for t in op.outputs if model.tensors[t].name]
        scope = ";".join(names) + ";" if names else ""
        if not _misfits(_block_size(winner(op.name, scope)[1]), width[0]):
            continue
        fitting = [r for r in rules if not _misfits(_block_size(r.get("op_config")), width[0])]
        algorithm, config = _matcher(fitting)(op.name, scope)
        rule: Rule = {"regex": f"^{re.escape(scope)}$", "operation": op.name, "algorithm_key": _value(algorithm)}
        if rule["algorithm_key"] != "no_quantize":
            rule["op_config"] = config.to_dict()
        added.append(rule)
        unfit.append(scope)
    return added, unfit


def _matcher(rules: list[Rule]) -> Any:
    """ai-edge-quantizer's own choice of rule for an operator: ``(op, scope) -> (algorithm, config)``."""
    from ai_edge_quantizer import recipe_manager

    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(rules)
    return manager.get_quantization_configs


def _block_size(config: Any) -> int | None:
    """The block size of an op config (ai-edge-quantizer's object or a rule's dict)."""
    if isinstance(config, dict):
        weights = config.get("weight_tensor_config") or {}
        granularity, legacy = weights.get("granularity"), weights.get("block_size")
    else:
        granularity, legacy = getattr(getattr(config, "weight_tensor_config", None), "granularity", None), None
    block = re.fullmatch(r"BLOCKWISE_(\d+)", _value(granularity))
    return int(block[1]) if block else int(legacy) if legacy else None


def _misfits(block: int | None, width: int) -> bool:
    return block is not None and width % block != 0


def _value(enum: Any) -> str:
    return str(getattr(enum, "value", enum))


def _calibrated(engine: Any, rules: list[Rule], content: bytes, data: dict[str, list[dict[str, Any]]]) -> Any:
    """ai-edge-quantizer's statistics, with each tensor's range the min and max over all
    samples, as the TensorFlow Lite converter calibrates. Its own calibration keeps a
    moving average of the per-sample ranges instead, which clips what few samples reach:
    the tiny classifier's int16 logits came out 0.59 off (of a range of 2.2), 0.0075 with
    the whole range."""
    from ai_edge_quantizer import calibrator, recipe_manager
    from ai_edge_quantizer.utils import qsv_utils

    threads = os.cpu_count() or 1
    statistics = engine.calibrate(data, num_threads=threads)
    manager = recipe_manager.RecipeManager()
    manager.load_quantization_recipe(rules)
    ranges = calibrator.Calibrator(bytearray(content), num_threads=threads, qsv_update_func=qsv_utils.min_max_update)
    ranges.calibrate(data, manager)
    for name, widest in ranges.get_model_qsvs().items():
        if name in statistics and {"min", "max"} <= set(widest):
            statistics[name].update(min=widest["min"], max=widest["max"])
    return statistics


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ai-edge-quantizer's prints, logging, progress bars and warnings, and LiteRT's native
    lines, kept off the terminal (its errors are reported with their message)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), kept():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*experimental_preserve_all_tensors")
            warnings.filterwarnings("ignore", module=r"ai_edge_quantizer(\.|$)")
            yield


def signature_inputs(
    content: bytes, order: Sequence[str] | None = None, *, source: str | None = None, mode: str | None = None
) -> list[InputSpec]:
    """The inputs of the model's first signature, by their signature names (the names
    ai-edge-quantizer's calibration data is keyed by), in ``order`` when it names them
    all (a source's own input order), else in the signature's."""
    root = _root(content)
    if not root.SignatureDefsLength():
        raise ModeError(
            "the model has no signature, and ai-edge-quantizer calibrates through one",
            source=source,
            mode=mode,
            hint="Convert the model with a signature (the TensorFlow Lite converter writes "
            "serving_default), or use a mode that needs no calibration such as int4_weights",
        )
    signature = root.SignatureDefs(0)
    graph = root.Subgraphs(signature.SubgraphIndex())
    specs = []
    for i in range(signature.InputsLength()):
        entry = signature.Inputs(i)
        tensor = graph.Tensors(entry.TensorIndex())
        if tensor.ShapeSignatureLength():
            shape = tensor.ShapeSignatureAsNumpy()
        else:
            shape = tensor.ShapeAsNumpy() if tensor.ShapeLength() else ()
        dims = tuple(None if int(d) < 0 else int(d) for d in shape)
        specs.append(InputSpec(name=_text(entry.Name()), shape=dims, dtype=tensor_type_name(tensor.Type())))
    if order and sorted(order) == sorted(s.name for s in specs):
        by_name = {s.name: s for s in specs}
        specs = [by_name[name] for name in order]
    return specs


def calibration_data(
    content: bytes, samples: list[Sample], specs: Sequence[InputSpec]
) -> dict[str, list[dict[str, Any]]]:
    """Samples (drawn for :func:`signature_inputs`' specs) as ai-edge-quantizer calibrates
    on them: ``{signature: [{input: array}]}``."""
    key = _text(_root(content).SignatureDefs(0).SignatureKey())
    return {key: [{spec.name: array for spec, array in zip(specs, sample)} for sample in samples]}


def quantizer_hint(message: str) -> str:
    """What to try next, read from ai-edge-quantizer's message."""
    if "QSVs" in message or "calibrat" in message.lower():
        return "The recipe quantizes activations: give representative data that fits the model's inputs"
    if "not divisible by block size" in message:
        return (
            "The block size must divide the input dimension of the layer named above: pick a block "
            "size that does, or keep that layer float with keep_float=[...]"
        )
    if "Unsupported op for" in message or "Unsupported algorithm" in message:
        return (
            "A rule asks for a quantization ai-edge-quantizer does not have for that operator; name the "
            "operator '*' (unsupported ones are then left float) or change the rule's op_config"
        )
    return "Read ai-edge-quantizer's message below; keep_float=[...] leaves the layers it names float"


def _root(content: bytes) -> Any:
    from ai_edge_litert import schema_py_generated as schema

    return schema.Model.GetRootAs(content, 0)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
