"""What a model can be given as, and what identifies its content.

A source is recognised without importing TensorFlow; TensorFlow is needed only to
read input shapes of graph sources and to build a converter.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
import zipfile
from pathlib import Path
from typing import Any

from ..errors import SourceError
from .tf_loader import keras_flavor, tensorflow
from .torch_source import TorchModule, is_torch_module

ACCEPTED = (
    "a tf-keras or Keras 3 model with a defined input shape, a path to a .keras/.h5 file, "
    "a SavedModel directory, a tf.function with an input_signature or a concrete function, "
    "a PyTorch module with sample inputs (TorchModule), or an existing .tflite file or its bytes"
)
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


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
    _signature: tuple[str, Any] | None = dataclasses.field(default=None, repr=False)

    @property
    def is_tflite(self) -> bool:
        """Whether the source is a flatbuffer already (or a PyTorch module, which becomes one
        without TensorFlow's converter)."""
        return self.kind in ("tflite_file", "tflite_bytes", "torch")

    def tflite_bytes(self) -> bytes:
        if self.kind == "tflite_bytes":
            return bytes(self.obj)
        if self.kind == "torch":
            return bytes(self.obj.tflite_bytes())
        return Path(self.obj).read_bytes()

    def fingerprint(self) -> str:
        """A digest of what shapes the converted model: graph, weights and layer code."""
        digest = hashlib.sha256(self.kind.encode())
        if self.kind == "torch":
            digest.update(self.obj.fingerprint().encode())
        elif self.is_tflite:
            digest.update(self.tflite_bytes())
        elif self.kind == "keras_file":
            digest.update(Path(self.obj).read_bytes())
        elif self.kind == "saved_model":
            _hash_tree(digest, Path(self.obj))
        elif self.kind in ("tf_keras", "keras3"):
            self.input_specs()  # an unbuilt model has no weights to hash: say so first
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
            if getattr(self.obj, "input_signature", None) is not None:
                raise SourceError(
                    f"tracing this tf.function failed: {str(exc).strip().splitlines()[-1]}",
                    source=self.name,
                    hint="Fix the function so that it traces for its input_signature "
                    "(the detail shows TensorFlow's error)",
                    detail=str(exc),
                ) from exc
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
            specs = self.saved_model_signature()[1].structured_input_signature[1]
            return [_spec(name, specs[name]) for name in sorted(specs)]
        function = self.concrete_function()
        flat = tensorflow().nest.flatten(function.structured_input_signature)
        return [_spec(spec.name or f"input_{i}", spec) for i, spec in enumerate(flat)]

    def saved_model_signature(self) -> tuple[str, Any]:
        """The signature a SavedModel is converted through ('serving_default' if it has one)."""
        if self._signature is None:
            self._signature = _saved_model_signature(Path(self.obj), self.name)
        return self._signature

    def make_converter(self) -> Any:
        """A ``tf.lite.TFLiteConverter`` set up for this source (no mode applied yet)."""
        tf = tensorflow()
        if self.kind in ("tf_keras", "keras3", "keras_file"):
            self.input_specs()
            return _keras_converter(tf, self.keras_model())
        if self.kind == "saved_model":
            key = self.saved_model_signature()[0]
            return tf.lite.TFLiteConverter.from_saved_model(str(self.obj), signature_keys=[key])
        return tf.lite.TFLiteConverter.from_concrete_functions([self.concrete_function()])

    def conversion_scope(self) -> contextlib.AbstractContextManager[Any]:
        """What :meth:`make_converter`'s converter must convert within."""
        if self.kind in ("tf_keras", "keras3", "keras_file") and keras_flavor(self.keras_model()) == "tf_keras":
            from tf_keras.src.saving.legacy.saved_model import utils as saved_model_utils

            return saved_model_utils.keras_option_scope(save_traces=False)  # type: ignore[no-any-return]
        return contextlib.nullcontext()

    def calibration_feed(self, samples: list[list[Any]], specs: list[InputSpec]) -> Any:
        """A ``representative_dataset`` callable that feeds several inputs by name.

        The converter matches a list sample to the converted model's input order, which
        need not be the source's; a dict sample is matched by input name.
        """
        if len(specs) > 1:
            named = [{spec.name: array for spec, array in zip(specs, sample)} for sample in samples]
            return lambda: iter(named)
        return lambda: iter(samples)


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
    if isinstance(obj, TorchModule):
        return "torch"
    if is_torch_module(obj):
        raise SourceError(
            "a PyTorch module needs sample inputs to be traced",
            source=type(obj).__name__,
            hint="Pass TorchModule(module, (torch.randn(1, 3, 224, 224),)) with the inputs forward() takes",
        )
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
    if kind == "torch":
        return str(obj.name)
    if kind == "concrete_function":
        name = getattr(obj, "__name__", None) or getattr(obj, "name", None) or "function"
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
    return "model"


def _hash_tree(digest: Any, root: Path) -> None:
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())


def _hash_keras(digest: Any, model: Any) -> None:
    """Hash the architecture with generated names made positional, the weights, and the
    source of custom layer classes (so editing a layer's ``call`` converts again)."""
    layers = _all_layers(model)
    try:
        digest.update(_canonical_json(model.to_json(), [model, *layers]).encode())
    except (NotImplementedError, TypeError, ValueError):
        pass  # subclassed models have no config; their class source below stands for it
    for cls in sorted({c for obj in [model, *layers] for c in _custom_classes(obj)}, key=repr):
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
        try:
            digest.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            pass
    for weight in model.get_weights():
        digest.update(f"{weight.dtype}{weight.shape}".encode())
        digest.update(weight.tobytes())


def _all_layers(model: Any) -> list[Any]:
    flatten = getattr(model, "_flatten_layers", None)
    if callable(flatten):
        return list(flatten(include_self=False, recursive=True))
    return list(getattr(model, "layers", []))


def _canonical_json(config_json: str, layers: list[Any]) -> str:
    """The model config with layer names replaced by their position.

    Keras numbers unnamed layers per process (dense_3 after three models), so the raw
    config of the same model differs between runs and between xdist workers.
    """
    positions: dict[str, str] = {}
    for layer in layers:
        positions.setdefault(layer.name, f"<layer {len(positions)}>")

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return positions.get(value, value)
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        return value

    return json.dumps(rename(json.loads(config_json)), sort_keys=True)


def _custom_classes(obj: Any) -> list[type]:
    """Classes in ``obj``'s hierarchy that come from user code rather than Keras or TF."""
    library = ("keras.", "tf_keras.", "tensorflow.", "builtins")
    return [c for c in type(obj).__mro__ if not (c.__module__ or "builtins").startswith(library)]


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
        built = _built_input_specs(model)
        if built:
            return built
        raise SourceError(
            "the Keras model has no defined input shape, so it cannot be traced for conversion",
            source=name,
            hint="Start it with keras.Input(shape=...), or build it with model.build((None, ...)) "
            "or one call on sample data before converting",
        )
    specs = []
    for i, tensor in enumerate(inputs):
        shape = tuple(None if d is None else int(d) for d in tuple(tensor.shape))
        dtype = getattr(tensor.dtype, "name", None) or str(tensor.dtype)
        specs.append(InputSpec(name=getattr(tensor, "name", f"input_{i}"), shape=shape, dtype=dtype))
    return specs


def _built_input_specs(model: Any) -> list[InputSpec]:
    """Input shapes of a built subclassed model, which has no symbolic inputs."""
    if keras_flavor(model) == "tf_keras":
        spec = model.save_spec(dynamic_batch=True)  # recorded by the first call
        if spec:
            flat = tensorflow().nest.flatten(spec[0])
            return [_spec(s.name or f"input_{i}", s) for i, s in enumerate(flat)]
        if getattr(model, "_build_input_shape", None) is not None:
            raise SourceError(
                "this subclassed tf-keras model was built with model.build(), which does not "
                "record the input signature the converter traces",
                source=getattr(model, "name", None),
                hint="Call the model once on a sample batch (model(x[:1])) before converting",
            )
        return []
    shape = (model.get_build_config() or {}).get("input_shape")
    if not shape or isinstance(shape[0], (list, tuple, dict)):
        return []
    rest = tuple(None if d is None else int(d) for d in shape[1:])
    return [InputSpec(name="input_0", shape=(None, *rest), dtype="float32")]


def _saved_model_signature(path: Path, name: str) -> tuple[str, Any]:
    try:
        loaded = tensorflow().saved_model.load(str(path))
    except Exception as exc:  # noqa: BLE001 - TensorFlow raises several types for a bad folder
        raise SourceError(
            f"TensorFlow cannot load the SavedModel at {path}",
            source=name,
            hint="Save it again with tf.saved_model.save or model.export, and check that the "
            "folder was copied completely",
            detail=f"{type(exc).__name__}: {exc}",
        ) from exc
    signatures = dict(loaded.signatures)
    if not signatures:
        raise SourceError(
            f"the SavedModel at {path} has no signatures to convert",
            source=name,
            hint="Save it with tf.saved_model.save(obj, path, signatures=...)",
        )
    key = "serving_default" if "serving_default" in signatures else sorted(signatures)[0]
    return key, signatures[key]


def _keras_converter(tf: Any, model: Any) -> Any:
    """``from_keras_model``'s converter, without its costly way in for a tf-keras model.

    ``from_keras_model`` saves the model as a Keras SavedModel, which traces every layer's
    call so that Keras could reload it: about 4 of the 5 s a small CNN takes to convert,
    and 8 of 11 s after quantization-aware training, for functions the converter never
    reads. The same serving function (Keras's own trace of the model), saved beside the
    model's variables without the layer traces (:meth:`Source.conversion_scope`), converts
    to the same bytes; the conversion metadata still says the model came from Keras.
    """
    if keras_flavor(model) != "tf_keras":
        return tf.lite.TFLiteConverter.from_keras_model(model)
    from tensorflow.lite.python import conversion_metadata_schema_py_generated as metadata
    from tf_keras.src.saving.legacy import saving_utils

    try:
        serving = saving_utils.trace_model_call(model)
    except (ValueError, TypeError, AttributeError):  # a model Keras cannot trace by itself
        return tf.lite.TFLiteConverter.from_keras_model(model)
    holder = tf.Module()
    holder.model = model
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serving], holder)
    converter._metadata.environment.modelType = metadata.ModelType.KERAS_MODEL
    return converter


def _load_keras_file(path: Path, name: str) -> Any:
    """Load with the Keras that wrote the file (Keras 3 .keras archives say so inside),
    compiled as it was saved when it can be (the training-time modes fine-tune with the
    file's own loss and metrics), else uncompiled (a custom loss that is not importable)."""
    tensorflow()
    loaders = ["keras3", "tf_keras"] if _written_by_keras3(path) else ["tf_keras", "keras3"]
    errors = []
    for flavor in loaders:
        try:
            if flavor == "keras3":
                import keras
            else:
                import tf_keras as keras
            return _load_compiled_if_possible(keras, path)
        except Exception as exc:  # noqa: BLE001 - both loaders are tried, then reported
            errors.append(f"{flavor}: {type(exc).__name__}: {exc}")
    raise SourceError(
        f"neither Keras 3 nor tf-keras could load {path}",
        source=name,
        hint="Check that the file is a complete Keras model (not weights only) and that "
        "custom layers are importable",
        detail="\n".join(errors),
    )


def _load_compiled_if_possible(keras: Any, path: Path) -> Any:
    try:
        return keras.models.load_model(path)
    except Exception:  # noqa: BLE001 - retried without the compile configuration
        return keras.models.load_model(path, compile=False)


def _written_by_keras3(path: Path) -> bool:
    if path.suffix.lower() != ".keras" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        try:
            metadata = json.loads(archive.read("metadata.json"))
        except (KeyError, ValueError):
            return False
    return str(metadata.get("keras_version", "")).startswith("3")
