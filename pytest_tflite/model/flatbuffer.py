"""The converted model as data: bytes, sizes, operators and tensors, read from the flatbuffer.

The flatbuffer is read with the schema binding LiteRT ships
(``ai_edge_litert.schema_py_generated``), so the layout follows the runtime's own schema.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomicfile import write_atomic
from ..errors import ModelFormatError

if TYPE_CHECKING:
    from .runtime import Inputs, Runner

TFLITE_IDENTIFIER = b"TFL3"


@functools.cache
def _schema() -> ModuleType:
    from ai_edge_litert import schema_py_generated

    schema: ModuleType = schema_py_generated
    return schema


@functools.cache
def _enum_names(enum_name: str) -> dict[int, str]:
    enum = getattr(_schema(), enum_name)
    return {v: k for k, v in vars(enum).items() if not k.startswith("_") and isinstance(v, int)}


def tensor_type_name(code: int) -> str:
    """A flatbuffer tensor type code as a dtype name: ``float32``, ``int8``, ``int4``..."""
    return _enum_names("TensorType").get(code, f"type{code}").lower()


@dataclasses.dataclass(frozen=True)
class Quantization:
    """Affine quantization of a tensor: real = scale * (q - zero_point)."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    def to_dict(self) -> dict[str, Any]:
        return {"scales": list(self.scales), "zero_points": list(self.zero_points), "axis": self.axis}


@dataclasses.dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    quantization: Quantization | None
    buffer: int
    is_constant: bool
    is_variable: bool = False
    """State the interpreter keeps between runs (a stateful LSTM's cell and hidden state)."""

    @property
    def is_dynamic(self) -> bool:
        """True when some dimension (usually the batch) is only known at run time."""
        return any(d < 0 for d in self.shape_signature)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "shape_signature": list(self.shape_signature),
            "quantization": self.quantization.to_dict() if self.quantization else None,
        }


@dataclasses.dataclass(frozen=True)
class Operator:
    """One operator of a subgraph, in execution order."""

    index: int
    name: str
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    is_custom: bool = False
    subgraph: int = 0
    options: Any = dataclasses.field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "version": self.version,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "custom": self.is_custom,
        }


class TFLiteModel:
    """A TensorFlow Lite flatbuffer and what it holds; ``predict`` runs it in LiteRT."""

    def __init__(
        self,
        content: bytes,
        *,
        name: str = "model",
        mode: str | None = None,
        input_names: Sequence[str] | None = None,
    ) -> None:
        self.content = bytes(content)
        self.name = name
        self.mode = mode
        self.input_names = tuple(input_names) if input_names else None
        """The source model's input names in its own order: the order ``predict`` takes a list in."""
        self._subgraphs = _parse(self.content, name)
        self._runners: dict[str, Runner] = {}

    @classmethod
    def from_file(cls, path: str | Path, *, name: str | None = None, mode: str | None = None) -> TFLiteModel:
        """Read a .tflite file; errors name the file so the user knows which one is damaged."""
        path = Path(path)
        name = name or path.stem
        try:
            return cls(path.read_bytes(), name=name, mode=mode)
        except OSError as exc:
            raise ModelFormatError(
                f"cannot read {path}: {exc.strerror or exc}",
                source=name,
                hint="Check the path and its permissions",
            ) from exc
        except ModelFormatError as exc:
            raise ModelFormatError(
                f"{exc.problem} (file {path})", source=name, hint=exc.hint, detail=exc.detail
            ) from None

    def __repr__(self) -> str:
        return f"<TFLiteModel {self.name!r} mode={self.mode} {self.size_bytes} bytes>"

    @property
    def size_bytes(self) -> int:
        return len(self.content)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 of the flatbuffer: identifies the bytes whatever the model is called."""
        return hashlib.sha256(self.content).hexdigest()

    @functools.cached_property
    def gzip_size_bytes(self) -> int:
        """Size after gzip -9: what pruning and clustering shrink, and what a download costs."""
        return len(gzip.compress(self.content, compresslevel=9, mtime=0))

    @property
    def subgraph_count(self) -> int:
        return len(self._subgraphs)

    @property
    def operators(self) -> tuple[Operator, ...]:
        """Operators of the main subgraph, in execution order."""
        return self._subgraphs[0].operators

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        return self._subgraphs[0].tensors

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        main = self._subgraphs[0]
        return tuple(main.tensors[i] for i in main.inputs)

    @property
    def outputs(self) -> tuple[Tensor, ...]:
        main = self._subgraphs[0]
        return tuple(main.tensors[i] for i in main.outputs)

    def constant_value(self, index: int) -> np.ndarray | None:
        """The data of a constant tensor of the main subgraph (None for a runtime tensor),
        read on demand without copying the model."""
        tensor = self.tensors[index]
        if not tensor.is_constant:
            return None
        buffer = self._root.Buffers(tensor.buffer)
        if buffer is None:
            return None
        if buffer.Offset() > 1:  # stored after the flatbuffer (models over 2 GB)
            raw = self.content[buffer.Offset() : buffer.Offset() + buffer.Size()]
        else:
            data = buffer.DataAsNumpy()
            raw = data.tobytes() if hasattr(data, "tobytes") else b""
        try:
            return np.frombuffer(raw, dtype=np.dtype(tensor.dtype)).reshape(tensor.shape)
        except (TypeError, ValueError):
            return None

    @functools.cached_property
    def _root(self) -> Any:
        return _schema().Model.GetRootAs(self.content, 0)

    def subgraph_operators(self, index: int) -> tuple[Operator, ...]:
        return self._subgraphs[index].operators

    @property
    def op_histogram(self) -> dict[str, int]:
        """Operator name -> count over every subgraph, most frequent first."""
        counts = Counter(op.name for graph in self._subgraphs for op in graph.operators)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def predict(self, x: Inputs, *, batch_size: int = 256) -> np.ndarray | list[np.ndarray]:
        """Run a batch through the LiteRT interpreter, in float whatever the model's I/O types."""
        return self.runner.predict(x, batch_size=batch_size)

    @property
    def runner(self) -> Runner:
        """The model in the LiteRT interpreter, with the kernels the run chose (one per kind)."""
        from .kernels import current_kernels
        from .runtime import Runner

        kernels = current_kernels()
        if kernels not in self._runners:
            self._runners[kernels] = Runner(self, kernels=kernels)
        return self._runners[kernels]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        write_atomic(path, self.content)
        return path

    def summary(self) -> dict[str, Any]:
        """Everything ``inspect`` shows, as plain JSON-ready data."""
        return {
            "name": self.name,
            "mode": self.mode,
            "size_bytes": self.size_bytes,
            "gzip_size_bytes": self.gzip_size_bytes,
            "subgraphs": self.subgraph_count,
            "operators": len(self.operators),
            "op_histogram": self.op_histogram,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
        }


@dataclasses.dataclass(frozen=True)
class _Subgraph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _parse(content: bytes, name: str) -> tuple[_Subgraph, ...]:
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        raise ModelFormatError(
            "the data is not a TensorFlow Lite model (no 'TFL3' flatbuffer identifier)",
            source=name,
            hint="Pass a .tflite file written by the TensorFlow Lite converter",
        )
    try:
        raw = _schema().ModelT.InitFromPackedBuf(bytearray(content), 0)
        subgraphs = tuple(_subgraph(raw, g, content) for g in range(len(raw.subgraphs or ())))
    except ModelFormatError as exc:
        if exc.source is not None:
            raise
        raise ModelFormatError(exc.problem, source=name, hint=exc.hint, detail=exc.detail) from None
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a damaged file
        raise ModelFormatError(
            "the TensorFlow Lite flatbuffer is damaged or truncated and cannot be read",
            source=name,
            hint="Convert the model again, or check that the file was copied completely",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    if not subgraphs:
        raise ModelFormatError(
            "the TensorFlow Lite model has no subgraph",
            source=name,
            hint="Convert the model again",
        )
    problem = next((p for g, graph in enumerate(subgraphs) if (p := _structure_problem(g, graph))), None)
    if problem:
        raise ModelFormatError(problem, source=name, hint="The file is damaged; convert the model again")
    return subgraphs


def _structure_problem(index: int, graph: _Subgraph) -> str | None:
    """What in a parsed subgraph would send the interpreter out of bounds, if anything."""
    count = len(graph.tensors)
    for role, indices in (("input", graph.inputs), ("output", graph.outputs)):
        bad = next((i for i in indices if not 0 <= i < count), None)
        if bad is not None:
            return f"subgraph {index} names tensor {bad} as an {role}, but it has {count} tensors"
    for op in graph.operators:
        if any(i < 0 for i in op.outputs):
            return f"operator {op.index} ({op.name}) of subgraph {index} has an omitted (-1) output"
    for tensor in graph.tensors:
        if any(d < 0 for d in tensor.shape):
            return f"tensor {tensor.index} ({tensor.name!r}) has a negative dimension in its shape {list(tensor.shape)}"
    return None


def _subgraph(raw: Any, index: int, content: bytes) -> _Subgraph:
    graph = raw.subgraphs[index]
    buffers = raw.buffers or []
    tensors = tuple(_tensor(i, t, buffers, content) for i, t in enumerate(graph.tensors or ()))
    operators = tuple(
        _operator(i, op, raw.operatorCodes, index, len(tensors)) for i, op in enumerate(graph.operators or ())
    )
    return _Subgraph(
        tensors=tensors,
        operators=operators,
        inputs=tuple(int(i) for i in _ints(graph.inputs)),
        outputs=tuple(int(i) for i in _ints(graph.outputs)),
    )


def _tensor(index: int, raw: Any, buffers: list[Any], content: bytes) -> Tensor:
    shape = tuple(int(d) for d in _ints(raw.shape))
    signature = tuple(int(d) for d in _ints(raw.shapeSignature)) or shape
    if buffers and not 0 <= raw.buffer < len(buffers):
        raise ModelFormatError(
            f"tensor {index} refers to buffer {raw.buffer}, but the model has {len(buffers)} buffers",
            hint="The file is damaged; convert the model again",
        )
    buffer = buffers[raw.buffer] if 0 < raw.buffer < len(buffers) else None
    if buffer is not None and buffer.offset > 1 and buffer.offset + buffer.size > len(content):
        raise ModelFormatError(
            f"tensor {_text(raw.name)!r} points past the end of the file",
            hint="The file is truncated or damaged; convert the model again",
        )
    has_data = buffer is not None and ((buffer.data is not None and len(buffer.data) > 0) or buffer.size > 0)
    dtype = tensor_type_name(raw.type)
    if has_data and buffer is not None and raw.sparsity is None:
        _check_fits(index, dtype, shape, buffer)
    return Tensor(
        index=index,
        name=_name(index, raw.name),
        dtype=dtype,
        shape=shape,
        shape_signature=signature,
        quantization=_quantization(raw.quantization),
        buffer=int(raw.buffer),
        is_constant=has_data,
        is_variable=bool(raw.isVariable),
    )


def _quantization(raw: Any) -> Quantization | None:
    if raw is None or raw.scale is None or len(raw.scale) == 0:
        return None
    zero_points = _ints(raw.zeroPoint) if raw.zeroPoint is not None else [0] * len(raw.scale)
    return Quantization(
        scales=tuple(float(s) for s in raw.scale),
        zero_points=tuple(int(z) for z in zero_points),
        axis=int(raw.quantizedDimension),
    )


def _operator(index: int, raw: Any, codes: list[Any], subgraph: int, tensor_count: int) -> Operator:
    code = codes[raw.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    name = _enum_names("BuiltinOperator").get(builtin, f"BUILTIN_{builtin}")
    is_custom = name == "CUSTOM"
    if is_custom:
        name = _text(code.customCode) or "CUSTOM"
    inputs = tuple(int(i) for i in _ints(raw.inputs))
    outputs = tuple(int(i) for i in _ints(raw.outputs))
    if any(i >= tensor_count or i < -1 for i in inputs + outputs):  # -1: operand omitted
        raise ModelFormatError(
            f"operator {index} ({name}) refers to a tensor that does not exist",
            hint="The file is damaged; convert the model again",
        )
    return Operator(
        index=index,
        name=name,
        version=int(code.version),
        inputs=inputs,
        outputs=outputs,
        is_custom=is_custom,
        subgraph=subgraph,
        options=raw.builtinOptions,
    )


def _ints(values: Any) -> list[int]:
    if values is None:
        return []
    ints: list[int] = np.asarray(values).astype(np.int64).tolist()
    return ints


_FIXED_SIZE = {
    "float32": 4,
    "float16": 2,
    "float64": 8,
    "int32": 4,
    "int64": 8,
    "int16": 2,
    "int8": 1,
    "uint8": 1,
    "uint16": 2,
    "uint32": 4,
    "uint64": 8,
    "bool": 1,
    "bfloat16": 2,
}
"""Bytes per element of the types whose constants have exactly shape-product elements."""


def _check_fits(index: int, dtype: str, shape: tuple[int, ...], buffer: Any) -> None:
    width = _FIXED_SIZE.get(dtype)
    if width is None or any(d < 0 for d in shape):
        return
    stored = len(buffer.data) if buffer.data is not None and len(buffer.data) else int(buffer.size)
    needed = width * int(np.prod(shape, dtype=np.int64))
    if stored != needed:
        raise ModelFormatError(
            f"constant tensor {index} of shape {list(shape)} ({dtype}) needs {needed} bytes, "
            f"but its buffer holds {stored}",
            hint="The file is damaged; convert the model again",
        )


def _name(index: int, value: Any) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFormatError(
                f"the name of tensor {index} is not UTF-8 text",
                hint="The file is damaged; convert the model again",
            ) from None
    return _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
