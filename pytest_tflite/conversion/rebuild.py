"""Rebuilding a Keras 3 model in tf-keras, for the training-time modes.

tensorflow-model-optimization wraps tf-keras (Keras 2) layers only. A Keras 3 Sequential
or functional model of built-in layers is rebuilt layer by layer from the layers'
configs, given the same weights, and checked to compute the same outputs; anything
else is refused with the way to run these modes.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from ..errors import TrainingUnavailable

LEGACY_ADVICE = (
    "Run these modes on a tf-keras model: build it with `import tf_keras as keras`, or run "
    "with TF_USE_LEGACY_KERAS=1 so that tf.keras is tf-keras"
)
_LAYER_KWARGS = {"name", "trainable", "dtype", "dynamic", "input_dim", "input_shape",
                 "batch_input_shape", "batch_size", "autocast"}
_TOLERANCE = 1e-4


def as_tf_keras(model: Any, *, source: str, mode: str) -> Any:
    """A tf-keras model with ``model``'s architecture and weights (a Keras 3 model)."""
    import tf_keras

    def refuse(problem: str, detail: str | None = None) -> TrainingUnavailable:
        return TrainingUnavailable(
            f"tensorflow-model-optimization needs a tf-keras model, and this Keras 3 model "
            f"cannot be rebuilt in tf-keras: {problem}",
            source=source,
            mode=mode,
            hint=LEGACY_ADVICE,
            detail=detail,
        )

    kind = type(model).__name__
    if kind not in ("Sequential", "Functional"):
        raise refuse(f"it is a subclassed model ({kind}), whose layers and calls have no config")
    try:
        rebuilt = _rebuild_graph(model, tf_keras)
    except TrainingUnavailable as exc:
        raise refuse(exc.problem) from None
    except Exception as exc:  # noqa: BLE001 - tf-keras raises many types on a foreign config
        raise refuse("tf-keras does not accept one of its layers", f"{type(exc).__name__}: {exc}") from exc
    _check_same_outputs(model, rebuilt, refuse)
    return rebuilt


def _rebuild_graph(model: Any, tf_keras: Any) -> Any:
    """Replay the Keras 3 graph node by node with tf-keras layers."""
    functional = getattr(model, "_functional", None) or model
    tensors = {}
    inputs = []
    for tensor in functional.inputs:
        rebuilt = tf_keras.Input(
            batch_size=tensor.shape[0], shape=tuple(tensor.shape[1:]), dtype=tensor.dtype,
            name=getattr(tensor, "name", None),
        )
        tensors[id(tensor)] = rebuilt
        inputs.append(rebuilt)
    layers: dict[int, tuple[Any, Any]] = {}
    for depth in sorted(functional._nodes_by_depth, reverse=True):
        for node in functional._nodes_by_depth[depth]:
            if node.is_input or node.operation is None:
                continue
            args, kwargs = node.arguments.fill_in(tensors)
            kwargs = {k: v for k, v in kwargs.items() if v is not None}  # Keras 3 records defaults
            if id(node.operation) not in layers:  # a shared layer is rebuilt once
                layers[id(node.operation)] = (node.operation, _tf_keras_layer(node.operation, tf_keras))
            outputs = layers[id(node.operation)][1](*args)
            for original, new in zip(node.outputs, _flat(outputs)):
                tensors[id(original)] = new
    outputs = [tensors[id(t)] for t in functional.outputs]
    rebuilt = tf_keras.Model(inputs, outputs if len(outputs) > 1 else outputs[0], name=model.name)
    for original, layer in layers.values():
        layer.set_weights(original.get_weights())
    return rebuilt


def _flat(outputs: Any) -> list[Any]:
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def _tf_keras_layer(layer: Any, tf_keras: Any) -> Any:
    """The tf-keras layer of the same class and config (Keras 3-only settings must be off)."""
    module = type(layer).__module__
    if not module.startswith("keras."):
        raise TrainingUnavailable(f"layer {layer.name!r} is a custom class ({type(layer).__qualname__})")
    name = type(layer).__name__
    cls = getattr(tf_keras.layers, name, None)
    if cls is None:
        raise TrainingUnavailable(f"tf-keras has no layer {name} (layer {layer.name!r})")
    config = dict(layer.get_config())
    for key in [k for k in config if k.endswith("_initializer")]:
        del config[key]  # the weights are copied over; Keras 3 initializers have new arguments
    policy = config.get("dtype")
    if isinstance(policy, dict):
        config["dtype"] = policy.get("config", {}).get("name", "float32")
    accepted = _LAYER_KWARGS.union(*(inspect.signature(c.__init__).parameters for c in cls.__mro__
                                     if "__init__" in vars(c)))
    for key in sorted(set(config) - accepted):
        if config[key] not in (None, False, {}, []):
            raise TrainingUnavailable(
                f"layer {layer.name!r} uses the Keras 3-only setting {key}={config[key]!r}"
            )
        del config[key]
    return cls.from_config(config)


def _check_same_outputs(model: Any, rebuilt: Any, refuse: Any) -> None:
    """The rebuilt model must compute what the original does, or it is not the same model."""
    rng = np.random.default_rng(0)
    feed = []
    for tensor in rebuilt.inputs:
        shape = [2 if d is None else int(d) for d in tensor.shape]
        feed.append(rng.random(shape).astype(tensor.dtype.as_numpy_dtype))
    try:
        expected = _flat(model(feed if len(feed) > 1 else feed[0], training=False))
        actual = _flat(rebuilt(feed if len(feed) > 1 else feed[0], training=False))
    except Exception as exc:  # noqa: BLE001 - any failure to run means it is not the same model
        raise refuse("the rebuilt model does not run", f"{type(exc).__name__}: {exc}") from exc
    for e, a in zip(expected, actual):
        if not np.allclose(np.asarray(e), np.asarray(a), atol=_TOLERANCE, rtol=_TOLERANCE):
            raise refuse("the rebuilt model computes different outputs")
