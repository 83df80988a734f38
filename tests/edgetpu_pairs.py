"""The real Edge TPU compilations in ``tests/data/edgetpu_pairs``: names, truth and model bytes.

A pair is a quantized model and what the real ``edgetpu_compiler`` made of it. Where the
model's licence allows, the real file is here (gzipped); for the others only a digest of
its architecture is here, and :func:`build_from_digest` turns that into a weightless copy
with the same operators, options, shapes and types, which is what placement depends on.
See ``tests/data/edgetpu_pairs/PROVENANCE.md``.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "edgetpu_pairs"
"""Where the pairs' truth, digests, compiler logs and real model files are."""

PLACEHOLDER_FOR_GREATER_OP_CODES = 127
"""What the schema's one-byte ``deprecated_builtin_code`` holds for builtins above 127."""

INTEGER_TYPES = {2: np.int32, 4: np.int64}
"""The TensorType codes of the small integer constants (shapes, axes) a digest keeps."""


@functools.cache
def _schema() -> ModuleType:
    from ai_edge_litert import schema_py_generated

    schema: ModuleType = schema_py_generated
    return schema


@functools.cache
def _truth_table() -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = json.loads((DATA / "truth.json").read_text())
    return table


def pairs() -> list[str]:
    """The pairs' names, sorted: the ids of the tests parametrized over them."""
    return sorted(_truth_table())


def truth(name: str) -> dict[str, Any]:
    """What the real compiler did with the pair's model, and where the model comes from."""
    return _truth_table()[name]


def digest(name: str) -> dict[str, Any]:
    """The pair's model architecture without its trained numbers."""
    loaded: dict[str, Any] = json.loads((DATA / "digests" / f"{name}.json").read_text())
    return loaded


def real_file(name: str) -> Path | None:
    """The gzipped real model, for the pairs whose licence lets the project carry it."""
    path = DATA / f"{name}.tflite.gz"
    return path if path.exists() else None


@functools.cache
def real_bytes(name: str) -> bytes | None:
    """The real model's bytes, or None where only its digest is here."""
    path = real_file(name)
    return gzip.decompress(path.read_bytes()) if path else None


@functools.cache
def built_bytes(name: str) -> bytes:
    """The weightless copy built from the pair's digest (cached: building takes milliseconds,
    but the tests and the benchmark ask for each pair more than once)."""
    return build_from_digest(digest(name))


def model_bytes(name: str) -> bytes:
    """The model to check: the real file where it is here, else the weightless copy."""
    return real_bytes(name) or built_bytes(name)


def build_from_digest(arch: dict[str, Any]) -> bytes:
    """A .tflite with the digest's architecture and no trained numbers.

    Constants hold zeros of their original length, except the small integer constants the
    digest keeps (shapes, axes, paddings); every quantized tensor has as many scales as the
    original, each 1.0 with zero point 0; custom options are zero bytes of their length.
    """
    s = _schema()
    model = s.ModelT()
    model.version = arch["version"]
    model.description = "weightless architecture copy"
    model.operatorCodes = [_operator_code(code) for code in arch["operator_codes"]]
    model.buffers = [s.BufferT()]  # buffer 0: the empty buffer of every runtime tensor
    model.subgraphs = [_subgraph(graph, model.buffers) for graph in arch["subgraphs"]]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _operator_code(code: dict[str, Any]) -> Any:
    oc = _schema().OperatorCodeT()
    oc.builtinCode = code["builtin"]
    oc.deprecatedBuiltinCode = min(code["builtin"], PLACEHOLDER_FOR_GREATER_OP_CODES)
    oc.version = code["version"]
    oc.customCode = code["custom"]
    return oc


def _subgraph(graph: dict[str, Any], buffers: list[Any]) -> Any:
    sg = _schema().SubGraphT()
    sg.inputs = _int32(graph["inputs"])
    sg.outputs = _int32(graph["outputs"])
    sg.tensors = [_tensor(tensor, buffers) for tensor in graph["tensors"]]
    sg.operators = [_operator(op) for op in graph["operators"]]
    return sg


def _tensor(tensor: dict[str, Any], buffers: list[Any]) -> Any:
    s = _schema()
    t = s.TensorT()
    t.name = tensor["name"]
    t.type = tensor["type"]
    t.shape = _int32(tensor["shape"])
    if tensor["signature"] is not None:
        t.shapeSignature = _int32(tensor["signature"])
    t.isVariable = tensor["variable"]
    if tensor["scales"]:
        t.quantization = _quantization(tensor["scales"], tensor["axis"])
    t.buffer = 0
    if tensor["const_bytes"]:
        buffer = s.BufferT()
        buffer.data = _constant_data(tensor)
        buffers.append(buffer)
        t.buffer = len(buffers) - 1
    return t


def _quantization(scales: int, axis: int) -> Any:
    q = _schema().QuantizationParametersT()
    q.scale = np.ones(scales, dtype=np.float32)
    q.zeroPoint = np.zeros(scales, dtype=np.int64)
    q.quantizedDimension = axis
    return q


def _constant_data(tensor: dict[str, Any]) -> np.ndarray:
    """The kept values of a small integer constant, else zeros of the original length."""
    if tensor.get("values") is not None:
        return np.asarray(tensor["values"], dtype=INTEGER_TYPES[tensor["type"]]).view(np.uint8)
    return np.zeros(tensor["const_bytes"], dtype=np.uint8)


def _operator(op: dict[str, Any]) -> Any:
    o = _schema().OperatorT()
    o.opcodeIndex = op["code"]
    o.inputs = _int32(op["inputs"])
    o.outputs = _int32(op["outputs"])
    if op["intermediates"]:
        o.intermediates = _int32(op["intermediates"])
    o.builtinOptionsType = op["options_type"]
    o.builtinOptions = _options(op["options_type"], op["options"])
    if op["custom_options_bytes"]:
        o.customOptions = np.zeros(op["custom_options_bytes"], dtype=np.uint8)
    return o


def _options(kind: int, fields: dict[str, Any] | None) -> Any:
    """The operator's builtin options object, its fields set from the digest."""
    if not kind or fields is None:
        return None
    options = getattr(_schema(), _option_class_names()[kind] + "T")()
    for key, value in fields.items():
        if hasattr(options, key):
            setattr(options, key, _int32(value) if isinstance(value, list) else value)
    return options


@functools.cache
def _option_class_names() -> dict[int, str]:
    enum = _schema().BuiltinOptions
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def _int32(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)
