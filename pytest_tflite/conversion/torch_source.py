"""PyTorch modules as sources, converted to a float32 flatbuffer by litert-torch.

litert-torch (Google's PyTorch-to-LiteRT converter, formerly ai-edge-torch) needs no
TensorFlow, and is imported only when a PyTorch source is converted. What it writes is a
float32 .tflite, which the ai-edge-quantizer modes quantize like any other flatbuffer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import io
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import ConversionError, SourceError
from ..nativelog import kept

INSTALL_HINT = (
    "Install the PyTorch extra: pip install 'pytest-tflite[torch]' (with torch's CPU wheel "
    "installed first, e.g. pip install torch --index-url https://download.pytorch.org/whl/cpu)"
)


@dataclasses.dataclass(eq=False)
class TorchModule:
    """A ``torch.nn.Module`` and the sample inputs that trace it (forward's arguments, in
    order). The module is converted in eval mode; its code, weights and the inputs' shapes
    and dtypes identify the conversion."""

    module: Any
    sample_inputs: Sequence[Any]
    _tflite: bytes | None = dataclasses.field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if not is_torch_module(self.module):
            raise SourceError(
                f"TorchModule takes a torch.nn.Module, not {type(self.module).__name__}",
                hint="Write TorchModule(net, (torch.randn(1, 3, 224, 224),))",
            )
        if not isinstance(self.sample_inputs, (tuple, list)) or not self.sample_inputs:
            raise SourceError(
                "TorchModule needs its sample inputs as a tuple of tensors",
                source=type(self.module).__name__,
                hint="Pass the arguments forward() takes, e.g. (torch.randn(1, 3, 224, 224),)",
            )
        self.sample_inputs = tuple(self.sample_inputs)

    @property
    def name(self) -> str:
        return type(self.module).__name__

    def fingerprint(self) -> str:
        """The module's structure, the code of its own classes (``forward`` shapes the
        graph as much as the weights do), its weights, and the inputs' shapes and dtypes."""
        import torch

        digest = hashlib.sha256(f"{type(self.module).__module__}.{self.name}\n{self.module!r}".encode())
        for cls in sorted({type(m) for m in self.module.modules()}, key=lambda c: f"{c.__module__}.{c.__qualname__}"):
            if not (cls.__module__ or "").startswith("torch."):
                digest.update(f"{cls.__module__}.{cls.__qualname__}\n{_class_source(cls)}".encode())
        for key, tensor in self.module.state_dict().items():
            digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        for sample in self.sample_inputs:
            digest.update(f"{getattr(sample, 'dtype', type(sample))}:{tuple(getattr(sample, 'shape', ()))}".encode())
        return digest.hexdigest()

    def tflite_bytes(self) -> bytes:
        """The float32 flatbuffer, converted once per object."""
        if self._tflite is None:
            self._tflite = _converted(self)
        return self._tflite


def _class_source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):  # defined in an interactive session: its name must do
        return ""


def is_torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module``, read from its classes without importing torch."""
    return any(
        cls.__name__ == "Module" and (cls.__module__ or "").startswith("torch.nn")
        for cls in type(obj).__mro__
    )


def _converted(source: TorchModule) -> bytes:
    # Importing litert-torch prints torchao's and the converter's native start-up lines.
    with contextlib.redirect_stdout(io.StringIO()), kept(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _convert_quietly(source)


def _convert_quietly(source: TorchModule) -> bytes:
    try:
        import litert_torch
    except ImportError as exc:
        raise SourceError(
            "converting a PyTorch module needs litert-torch, which is not installed",
            source=source.name,
            hint=INSTALL_HINT,
        ) from exc
    training = source.module.training
    try:
        edge_model = litert_torch.convert(source.module.eval(), source.sample_inputs)
        return bytes(edge_model.model_content())
    except Exception as exc:  # noqa: BLE001 - litert-torch raises many types; all are reported
        message = f"{type(exc).__name__}: {exc}"
        raise ConversionError(
            "litert-torch could not convert the module",
            source=source.name,
            mode="float32",
            hint="litert-torch traces forward() with torch.export: the detail names the "
            "operation it stopped at; check that forward() runs on the sample inputs",
            detail=message,
        ) from exc
    finally:
        source.module.train(training)
