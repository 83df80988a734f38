"""Running a converted model in the LiteRT interpreter, in batches, in float.

Integer inputs and outputs are scaled with their quantization parameters, so a caller
feeds and reads float arrays whatever the mode. Batches are run by resizing the input
tensors rather than invoking once per sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import RuntimeFailure

if TYPE_CHECKING:
    from .model import TFLiteModel


class Runner:
    """One LiteRT interpreter for one model, resized as batch sizes change."""

    def __init__(self, model: TFLiteModel, *, num_threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.model = model
        try:
            self.interpreter = Interpreter(model_content=model.content, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise self._failure("the LiteRT interpreter cannot load the model", exc) from exc
        self._batch = int(self.interpreter.get_input_details()[0]["shape"][0]) if self._inputs() else 1
        self._resizable = True

    def predict(self, x: Any, *, batch_size: int = 256) -> np.ndarray | list[np.ndarray]:
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

    def set_inputs(self, x: Any) -> None:
        """Load ``x`` into the input tensors (what a latency measurement does once, untimed)."""
        arrays = self._input_arrays(x)
        if not self._fit_batch(len(arrays[0])):
            raise self._failure(
                f"the model has a fixed batch size of {self._batch} and cannot take "
                f"{len(arrays[0])} samples at once",
                hint=f"Pass {self._batch} sample(s) at a time",
            )
        self._load(arrays)

    def invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except RuntimeError as exc:
            raise self._failure("the LiteRT interpreter failed while running the model", exc) from exc

    def outputs(self) -> list[np.ndarray]:
        return [dequantize(self.interpreter.get_tensor(d["index"]), d) for d in self._outputs()]

    def _run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        rows = len(arrays[0])
        if not self._fit_batch(rows):
            if self._batch != 1:
                raise self._failure(
                    f"the model has a fixed batch size of {self._batch}",
                    hint=f"Pass a multiple of {self._batch} samples with batch_size={self._batch}",
                )
            parts = [self._run([a[i : i + 1] for a in arrays]) for i in range(rows)]
            return [np.concatenate(p, axis=0) for p in zip(*parts)]
        self._load(arrays)
        self.invoke()
        return self.outputs()

    def _load(self, arrays: list[np.ndarray]) -> None:
        for detail, array in zip(self._inputs(), arrays):
            self.interpreter.set_tensor(detail["index"], quantize(array, detail))

    def _fit_batch(self, batch: int) -> bool:
        """Resize the inputs to ``batch`` rows; False when the model does not allow it."""
        if batch == self._batch:
            return True
        if not self._resizable:
            return False
        try:
            for detail in self._inputs():
                shape = [batch, *detail["shape_signature"][1:]]
                shape = [d if d >= 0 else s for d, s in zip(shape, detail["shape"])]
                self.interpreter.resize_tensor_input(detail["index"], shape, strict=False)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError):
            self._resizable = False
            self._restore()
            return False
        self._batch = batch
        return True

    def _restore(self) -> None:
        for detail in self._inputs():
            shape = [self._batch, *detail["shape"][1:]]
            self.interpreter.resize_tensor_input(detail["index"], shape, strict=False)
        self.interpreter.allocate_tensors()

    def _inputs(self) -> list[dict[str, Any]]:
        return self.interpreter.get_input_details()

    def _outputs(self) -> list[dict[str, Any]]:
        return self.interpreter.get_output_details()

    def _input_arrays(self, x: Any) -> list[np.ndarray]:
        details = self._inputs()
        if isinstance(x, Mapping):
            by_name = {_plain_name(d["name"]): d for d in details}
            arrays = [x[k] for k in (_plain_name(d["name"]) for d in details) if k in x]
            if len(arrays) != len(details):
                raise self._failure(
                    f"predict() got inputs {sorted(x)} but the model's inputs are {sorted(by_name)}"
                )
        elif isinstance(x, Sequence) and not isinstance(x, np.ndarray) and len(details) > 1:
            arrays = list(x)
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

    def _batched(self, array: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
        expected = tuple(int(d) for d in detail["shape_signature"][1:])
        given = tuple(array.shape)
        if array.ndim == len(expected):
            array = array[np.newaxis, ...]
        actual = tuple(array.shape[1:])
        if len(actual) != len(expected) or any(e >= 0 and e != a for e, a in zip(expected, actual)):
            shown = tuple("?" if e < 0 else e for e in expected)
            raise self._failure(
                f"input {_plain_name(detail['name'])!r} takes samples of shape {shown}, "
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
        return np.clip(q, info.min, info.max).astype(dtype)
    return np.asarray(array).astype(dtype, copy=False)


def dequantize(array: np.ndarray, detail: Mapping[str, Any]) -> np.ndarray:
    """A tensor's values in float, undoing integer quantization."""
    scale, zero_point = detail["quantization"]
    if np.issubdtype(array.dtype, np.integer) and scale:
        return (array.astype(np.float32) - zero_point) * np.float32(scale)
    return np.array(array, copy=True)


def _plain_name(name: str) -> str:
    """'serving_default_x:0' -> 'x', the name a user gave the input."""
    name = name.split(":")[0]
    return name.removeprefix("serving_default_")
