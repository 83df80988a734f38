"""Running a converted model in the LiteRT interpreter, in batches, in float.

Integer inputs and outputs are scaled with their quantization parameters, so a caller
feeds and reads float arrays whatever the mode. Batches are run by resizing the input
tensors rather than invoking once per sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import numpy as np

from ..errors import RuntimeFailure
from ..nativelog import kept
from .isolation import ensure_loads_safely
from .kernels import current_kernels

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


Inputs: TypeAlias = "ArrayLike | Mapping[str, ArrayLike]"
"""A model's input data: one array, arrays in input order, or arrays by input name."""


class Flatbuffer(Protocol):
    """What the runner needs of a model (a :class:`~pytest_tflite.TFLiteModel` has it)."""

    content: bytes
    name: str
    mode: str | None
    input_names: tuple[str, ...] | None


class Runner:
    """One LiteRT interpreter for one model, resized as batch sizes change."""

    def __init__(self, model: Flatbuffer, *, num_threads: int | None = None, kernels: str | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        self.model = model
        self.kernels = kernels or current_kernels()
        resolver = OpResolverType.BUILTIN_REF if self.kernels == "reference" else OpResolverType.AUTO
        ensure_loads_safely(model.content, source=model.name, mode=model.mode)
        try:
            with kept():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate for CPU."
                self.interpreter = Interpreter(
                    model_content=model.content, num_threads=num_threads, experimental_op_resolver_type=resolver
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise self._failure("the LiteRT interpreter cannot load the model", exc) from exc
        inputs = self._inputs()
        first = inputs[0]["shape_signature"] if inputs else []
        self._static_batch = int(first[0]) if len(first) and first[0] >= 0 else None
        self._shapes = [tuple(int(n) for n in d["shape"]) for d in inputs]  # as last resized
        self._row_by_row: bool | None = None  # for a static batch of 1: None until tried

    def predict(self, x: Inputs, *, batch_size: int = 256) -> np.ndarray | list[np.ndarray]:
        """Outputs for every row of ``x`` (one array per output; a single array for one)."""
        arrays = self._input_arrays(x)
        total = len(arrays[0]) if arrays else 1
        if total == 0:
            raise self._failure(
                "predict() got no samples (an array with 0 rows)",
                hint="Pass at least one sample",
            )
        step = max(1, int(batch_size))
        chunks = [self._run([a[s : s + step] for a in arrays]) for s in range(0, total, step)]
        outputs = [np.concatenate(parts, axis=0) for parts in zip(*chunks)]
        return outputs[0] if len(outputs) == 1 else outputs

    def set_inputs(self, x: Inputs) -> None:
        """Load ``x`` into the input tensors (what a latency measurement does once, untimed)."""
        self._feed(self._input_arrays(x))

    def invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except RuntimeError as exc:
            raise self._failure("the LiteRT interpreter failed while running the model", exc) from exc

    def outputs(self) -> list[np.ndarray]:
        return [dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self._outputs()]

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        rows = len(arrays[0])
        if rows > 1 and self._needs_row_by_row(arrays):
            parts = [self._run([a[i : i + 1] for a in arrays]) for i in range(rows)]
            return [np.concatenate(p, axis=0) for p in zip(*parts)]
        self._feed(arrays)
        # Every batch is independent samples: a recurrent layer's state, kept in variable
        # tensors that outlive an invoke, must not leak from one sample into the next.
        self.interpreter.reset_all_variables()
        self.invoke()
        return self.outputs()

    def _needs_row_by_row(self, arrays: list[np.ndarray]) -> bool:
        """A static batch of 1 that will not resize still runs, one row at a time."""
        if self._static_batch != 1:
            return False
        if self._row_by_row is None:
            try:
                self._fit(arrays)
                self._row_by_row = False
            except RuntimeFailure:
                self._row_by_row = True
        return self._row_by_row

    def _feed(self, arrays: list[np.ndarray]) -> None:
        """Resize, then load; the interpreter's own errors become the runner's."""
        self._fit(arrays)
        for detail, array in zip(self._inputs(), arrays):
            try:
                self.interpreter.set_tensor(detail["index"], quantize(array, detail))
            except ValueError as exc:
                problem = f"the LiteRT interpreter rejected the data for input {plain_name(detail['name'])!r}"
                raise self._failure(problem, exc) from exc

    def _fit(self, arrays: list[np.ndarray]) -> None:
        """Resize the inputs to the arrays' full shapes, not only the batch: other
        dimensions may be dynamic too (a sequence length). Resizing reallocates, so
        it is done only when the shapes change."""
        shapes = [tuple(a.shape) for a in arrays]
        if shapes == self._shapes:
            return
        try:
            for detail, shape in zip(self._inputs(), shapes):
                self.interpreter.resize_tensor_input(detail["index"], shape, strict=False)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            self._shapes = []  # unknown now: the next call resizes again
            raise self._resize_failure(shapes, exc) from exc
        self._shapes = shapes

    def _resize_failure(self, shapes: list[tuple[int, ...]], exc: BaseException) -> RuntimeFailure:
        """A static batch is the usual reason, and the one a caller can fix with batch_size."""
        rows, batch = shapes[0][0], self._static_batch
        if batch is not None and rows != batch:
            return self._failure(
                f"the model has a fixed batch size of {batch} and cannot take {rows} samples at once",
                exc,
                hint=f"Pass {batch} sample(s) at a time (predict() takes batch_size={batch})",
            )
        return self._failure(f"the LiteRT interpreter cannot resize the inputs to {shapes}", exc)

    def _inputs(self) -> list[dict[str, Any]]:
        details: list[dict[str, Any]] = self.interpreter.get_input_details()
        return details

    def _outputs(self) -> list[dict[str, Any]]:
        details: list[dict[str, Any]] = self.interpreter.get_output_details()
        return details

    def _input_arrays(self, x: Inputs) -> list[np.ndarray]:
        details = self._inputs()
        if isinstance(x, Mapping):
            by_name = {plain_name(d["name"]): d for d in details}
            arrays = [x[k] for k in (plain_name(d["name"]) for d in details) if k in x]
            if len(arrays) != len(details):
                raise self._failure(
                    f"predict() got inputs {sorted(x)} but the model's inputs are {sorted(by_name)}"
                )
        elif isinstance(x, Sequence) and not isinstance(x, np.ndarray) and len(details) > 1:
            arrays = self._in_interpreter_order(list(x), details)
        else:
            arrays = [x]
        if len(arrays) != len(details):
            raise self._failure(
                f"predict() got {len(arrays)} input array(s) but the model takes {len(details)}"
            )
        batched = [self._batched(np.asarray(a), d) for a, d in zip(arrays, details)]
        rows = [len(a) for a in batched]
        if len(set(rows)) > 1:
            raise self._failure(
                f"predict() got input arrays with different numbers of rows: {rows}",
                hint="Give every input the same number of samples",
            )
        return batched

    def _in_interpreter_order(self, arrays: list[ArrayLike], details: list[dict[str, Any]]) -> list[ArrayLike]:
        """Arrays given in the source model's input order, put in the interpreter's.

        The converter may order a model's inputs differently from its definition (a Keras
        model with inputs a, b can become b, a); a list follows the definition.
        """
        order = self.model.input_names
        names = [plain_name(d["name"]) for d in details]
        if not order or len(order) != len(arrays) or sorted(order) != sorted(names):
            return arrays
        by_name = dict(zip(order, arrays))
        return [by_name[name] for name in names]

    def _batched(self, array: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
        expected = tuple(int(d) for d in detail["shape_signature"][1:])
        given = tuple(array.shape)
        if array.ndim == len(expected):
            array = array[np.newaxis, ...]
        actual = tuple(array.shape[1:])
        if len(actual) != len(expected) or any(e >= 0 and e != a for e, a in zip(expected, actual)):
            shown = tuple("?" if e < 0 else e for e in expected)
            raise self._failure(
                f"input {plain_name(detail['name'])!r} takes samples of shape {shown}, "
                f"but predict() got an array of shape {given}",
                hint="Reshape the data to (batch, *sample shape)",
            )
        return array

    def _failure(self, problem: str, exc: BaseException | None = None, hint: str | None = None) -> RuntimeFailure:
        detail = str(exc) if exc else None
        if hint is None and detail and ("Select TensorFlow op" in detail or "Flex" in detail):
            hint = "The model needs Select TF (Flex) ops, which LiteRT does not include; convert "
            hint += "it without them or link the Flex delegate"
        return RuntimeFailure(
            problem,
            source=self.model.name,
            mode=self.model.mode,
            hint=hint or "Check that the model was converted for this runtime",
            detail=detail,
        )


def quantize(array: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """Float data into the tensor's type, using its scale and zero point when quantized."""
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        q = np.round(np.asarray(array, dtype=np.float32) / scale + zero_point)
        clipped: np.ndarray = np.clip(q, info.min, info.max).astype(dtype)
        return clipped
    return np.asarray(array).astype(dtype, copy=False)


def dequantize(array: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """A tensor's values in float, undoing integer quantization."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(array.dtype, np.integer) and scale:
        floats: np.ndarray = (array.astype(np.float32) - zero_point) * np.float32(scale)
        return floats
    copied: np.ndarray = np.array(array, copy=True)
    return copied


def plain_name(name: str) -> str:
    """'serving_default_x:0' -> 'x', the name a user gave the input."""
    name = name.split(":")[0]
    return name.removeprefix("serving_default_")
