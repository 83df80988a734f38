"""What a model can be given as, and what identifies its content.

A source is recognised without importing TensorFlow; TensorFlow is needed only to
read input shapes of graph sources and to build a converter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from .errors import SourceError
from .tf_loader import keras_flavor, tensorflow

ACCEPTED = (
    "a tf-keras or Keras 3 model with a defined input shape, a path to a .keras/.h5 file, "
    "a SavedModel directory, a tf.function with an input_signature or a concrete function, "
    "or an existing .tflite file or its bytes"
)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
TFLITE_IDENTIFIER = b"TFL3"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """One model input as the source declares it (batch dimension included, None if free)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str


@dataclasses.dataclass
class Source:
    """A model source of a known kind, with a display name."""

    kind: str
    name: str
    obj: Any
    _keras_model: Any = dataclasses.field(default=None, repr=False)

    @property
    def is_tflite(self) -> bool:
        return self.kind in ("tflite_file", "tflite_bytes")

    def tflite_bytes(self) -> bytes:
        if self.kind == "tflite_bytes":
            return bytes(self.obj)
        return Path(self.obj).read_bytes()

    def fingerprint(self) -> str:
        """A digest of everything that shapes the converted model: graph and weights."""
        digest = hashlib.sha256(self.kind.encode())
        if self.kind in ("tflite_bytes", "tflite_file", "keras_file"):
            digest.update(self.tflite_bytes() if self.is_tflite else Path(self.obj).read_bytes())
        elif self.kind == "saved_model":
            _hash_tree(digest, Path(self.obj))
        elif self.kind in ("tf_keras", "keras3"):
            _keras_input_specs(self.obj, self.name)  # an unbuilt model has no weights to hash
            _hash_keras(digest, self.obj)
        else:
            _hash_concrete_function(digest, self.concrete_function())
        return digest.hexdigest()

    def keras_model(self) -> Any:
        """The Keras model behind a model or model-file source, loaded once."""
        if self.kind in ("tf_keras", "keras3"):
            return self.obj
        if self._keras_model is None:
            self._keras_model = _load_keras_file(Path(self.obj), self.name)
        return self._keras_model

    def concrete_function(self) -> Any:
        if hasattr(self.obj, "structured_input_signature") or not hasattr(
            self.obj, "get_concrete_function"
        ):
            return self.obj
        try:
            return self.obj.get_concrete_function()
        except (TypeError, ValueError) as exc:
            raise SourceError(
                "this tf.function has no input_signature, so its input shapes are unknown",
                source=self.name,
                hint="Decorate it with @tf.function(input_signature=[tf.TensorSpec(shape, "
                "tf.float32)]) or pass f.get_concrete_function(tf.TensorSpec(...))",
                detail=str(exc),
            ) from exc

    def input_specs(self) -> list[InputSpec]:
        """The inputs the source declares, used to check datasets before converting."""
        if self.kind in ("tf_keras", "keras3", "keras_file"):
            return _keras_input_specs(self.keras_model(), self.name)
        if self.kind == "saved_model":
            signature = _saved_model_signature(Path(self.obj))
            specs = signature.structured_input_signature[1]
            return [_spec(name, specs[name]) for name in sorted(specs)]
        function = self.concrete_function()
        flat = tensorflow().nest.flatten(function.structured_input_signature)
        return [_spec(spec.name or f"input_{i}", spec) for i, spec in enumerate(flat)]

    def make_converter(self) -> Any:
        """A ``tf.lite.TFLiteConverter`` set up for this source (no mode applied yet)."""
        tf = tensorflow()
        if self.kind in ("tf_keras", "keras3", "keras_file"):
            model = self.keras_model()
            _keras_input_specs(model, self.name)
            return tf.lite.TFLiteConverter.from_keras_model(model)
        if self.kind == "saved_model":
            return tf.lite.TFLiteConverter.from_saved_model(str(self.obj))
        return tf.lite.TFLiteConverter.from_concrete_functions([self.concrete_function()])


def as_source(obj: Any, name: str | None = None) -> Source:
    """Recognise ``obj`` as a model source, or say clearly what is accepted."""
    if isinstance(obj, Source):
        return obj if name is None else dataclasses.replace(obj, name=name)
    kind = _kind_of(obj)
    return Source(kind=kind, name=name or _default_name(obj, kind), obj=obj)


def _kind_of(obj: Any) -> str:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "tflite_bytes"
    if isinstance(obj, (str, os.PathLike)):
        return _kind_of_path(Path(obj))
    flavor = keras_flavor(obj)
    if flavor:
        return flavor
    type_name = type(obj).__name__
    if type_name in ("ConcreteFunction", "AtomicFunction") or (
        hasattr(obj, "get_concrete_function") and callable(obj)
    ):
        return "concrete_function"
    raise SourceError(
        f"cannot convert an object of type {type(obj).__module__}.{type_name}",
        hint=f"Pass {ACCEPTED}",
    )


def _kind_of_path(path: Path) -> str:
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise SourceError(
            f"the folder {path} is not a SavedModel (it has no saved_model.pb)",
            hint=f"Pass {ACCEPTED}",
        )
    if not path.exists():
        raise SourceError(
            f"the file {path} does not exist", hint=f"Check the path; pytest-tflite takes {ACCEPTED}"
        )
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        return "tflite_file"
    if suffix in KERAS_SUFFIXES:
        return "keras_file"
    raise SourceError(
        f"the file {path} has the suffix {suffix or '(none)'!r}, which is no model format "
        "pytest-tflite reads",
        hint=f"Pass {ACCEPTED}",
    )


def _default_name(obj: Any, kind: str) -> str:
    if kind in ("tflite_file", "keras_file", "saved_model"):
        return Path(obj).stem if kind != "saved_model" else Path(obj).name
    if kind in ("tf_keras", "keras3"):
        return str(getattr(obj, "name", None) or type(obj).__name__)
    if kind == "concrete_function":
        name = getattr(obj, "__name__", None) or getattr(obj, "name", None) or "function"
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    return "model"


def _hash_tree(digest: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())


def _hash_keras(digest: Any, model: Any) -> None:
    try:
        digest.update(model.to_json().encode())
    except (NotImplementedError, TypeError, ValueError):
        cls = type(model)
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        try:
            digest.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            pass
    for weight in model.get_weights():
        digest.update(f"{weight.dtype}{weight.shape}".encode())
        digest.update(weight.tobytes())


def _hash_concrete_function(digest: Any, function: Any) -> None:
    digest.update(function.graph.as_graph_def().SerializeToString(deterministic=True))
    for variable in function.variables:
        digest.update(variable.numpy().tobytes())


def _spec(name: str, spec: Any) -> InputSpec:
    shape = tuple(None if d is None else int(d) for d in spec.shape)
    return InputSpec(name=name, shape=shape, dtype=spec.dtype.name)


def _keras_input_specs(model: Any, name: str) -> list[InputSpec]:
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise SourceError(
            "the Keras model has no defined input shape, so it cannot be traced for conversion",
            source=name,
            hint="Start it with keras.Input(shape=...) or call model.build((None, ...)) "
            "before converting",
        )
    specs = []
    for i, tensor in enumerate(inputs):
        shape = tuple(None if d is None else int(d) for d in tuple(tensor.shape))
        dtype = getattr(tensor.dtype, "name", None) or str(tensor.dtype)
        specs.append(InputSpec(name=getattr(tensor, "name", f"input_{i}"), shape=shape, dtype=dtype))
    return specs


def _saved_model_signature(path: Path) -> Any:
    loaded = tensorflow().saved_model.load(str(path))
    signatures = dict(loaded.signatures)
    if not signatures:
        raise SourceError(
            f"the SavedModel at {path} has no signatures to convert",
            hint="Save it with tf.saved_model.save(obj, path, signatures=...)",
        )
    return signatures.get("serving_default") or next(iter(signatures.values()))


def _load_keras_file(path: Path, name: str) -> Any:
    """Load with the Keras that wrote the file (Keras 3 .keras archives say so inside)."""
    tensorflow()
    loaders = ["keras3", "tf_keras"] if _written_by_keras3(path) else ["tf_keras", "keras3"]
    errors = []
    for flavor in loaders:
        try:
            if flavor == "keras3":
                import keras
            else:
                import tf_keras as keras
            return keras.models.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - both loaders are tried, then reported
            errors.append(f"{flavor}: {type(exc).__name__}: {exc}")
    raise SourceError(
        f"neither Keras 3 nor tf-keras could load {path}",
        source=name,
        hint="Check that the file is a complete Keras model (not weights only) and that "
        "custom layers are importable",
        detail="\n".join(errors),
    )


def _written_by_keras3(path: Path) -> bool:
    if path.suffix.lower() != ".keras" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        try:
            metadata = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError):
            return False
    return str(metadata.get("keras_version", "")).startswith("3")
