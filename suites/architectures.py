"""The example suite's architectures, small enough to train in seconds on the digits.

Each builder returns an untrained tf-keras model with every layer named, so the converted
bytes (which carry tensor names) do not depend on how many models a process built before.
All take the 28x28 digits as they come; the convolutional ones add the channel axis.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

INPUT_SHAPE = (28, 28)
CLASSES = 10
BATCH_SIZE = 1
"""The batch size the convolutional and recurrent models are converted with. With a free
batch dimension a Keras ``Reshape`` computes its shape at run time (SHAPE, STRIDED_SLICE,
PACK), which neither the Edge TPU nor the GPU delegate takes, and the converter cannot
fuse an LSTM; a fixed batch of 1 is what an accelerator runs anyway. Training still
takes batches of any size."""
BN_MOMENTUM = 0.9
"""Keras's 0.99 lags behind on a training split of 1,347 images: the moving statistics
that inference uses would still be far from the batches' after a dozen epochs."""


def _keras() -> Any:
    from pytest_tflite.conversion.tf_loader import tensorflow

    tensorflow()
    import tf_keras

    return tf_keras


def dense_mlp() -> Any:
    """The source articles' dense 128/32/10 classifier."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, name="image"),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense_128"),
            layers.Dense(32, activation="relu", name="dense_32"),
            layers.Dense(CLASSES, name="logits"),
        ],
        name="dense_mlp",
    )


def _image(keras: Any) -> tuple[Any, Any]:
    """The 28x28 input and its 28x28x1 view, the shape convolutions take."""
    image = keras.Input(INPUT_SHAPE, batch_size=BATCH_SIZE, name="image")
    return image, keras.layers.Reshape((*INPUT_SHAPE, 1), name="add_channel")(image)


def _conv_bn(keras: Any, x: Any, filters: int, kernel: int, stride: int, name: str, *, groups: int = 1,
             activation: bool = True) -> Any:
    """Convolution, batch norm and ReLU6 (no bias: batch norm has one)."""
    layers = keras.layers
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", groups=groups, use_bias=False,
                      name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def _depthwise_bn(keras: Any, x: Any, stride: int, name: str, *, activation: bool = True) -> Any:
    layers = keras.layers
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_dw_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_dw_relu6")(x) if activation else x


def _head(keras: Any, image: Any, x: Any, name: str) -> Any:
    layers = keras.layers
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(image, layers.Dense(CLASSES, name="logits")(x), name=name)


def mobilenet() -> Any:
    """MobileNet v1 in small: depthwise separable convolutions (3x3 depthwise, 1x1
    pointwise), each followed by batch norm and ReLU6."""
    keras = _keras()
    image, x = _image(keras)
    x = _conv_bn(keras, x, 16, 3, 2, "stem")  # 14x14
    for i, (filters, stride) in enumerate([(32, 1), (64, 2), (64, 1), (128, 2)], start=1):
        x = _depthwise_bn(keras, x, stride, f"block{i}")
        x = _conv_bn(keras, x, filters, 1, 1, f"block{i}_pw")
    return _head(keras, image, x, "mobilenet")


def channel_shuffle(keras: Any, x: Any, groups: int, name: str) -> Any:
    """ShuffleNet's channel shuffle: (h, w, g*n) -> (h, w, g, n) -> (h, w, n, g) -> back."""
    layers = keras.layers
    height, width, channels = x.shape[1:]
    x = layers.Reshape((height, width, groups, channels // groups), name=f"{name}_split")(x)
    x = layers.Permute((1, 2, 4, 3), name=f"{name}_swap")(x)
    return layers.Reshape((height, width, channels), name=f"{name}_merge")(x)


def shufflenet(groups: int = 4) -> Any:
    """ShuffleNet v1 units in small: 1x1 group convolution, channel shuffle, 3x3 depthwise,
    1x1 group convolution; a residual add where the shape stays, else a strided unit."""
    keras = _keras()
    layers = keras.layers
    image, x = _image(keras)
    x = _conv_bn(keras, x, 16, 3, 2, "stem")  # 14x14x16
    for i, (filters, stride) in enumerate([(64, 2), (64, 1), (128, 2), (128, 1)], start=1):
        name = f"unit{i}"
        shortcut = x
        y = _conv_bn(keras, x, filters // 4, 1, 1, f"{name}_gconv1", groups=groups)
        y = channel_shuffle(keras, y, groups, f"{name}_shuffle")
        y = _depthwise_bn(keras, y, stride, name, activation=False)
        y = _conv_bn(keras, y, filters, 1, 1, f"{name}_gconv2", groups=groups, activation=False)
        if stride == 1 and shortcut.shape[-1] == filters:
            y = layers.Add(name=f"{name}_add")([shortcut, y])
        x = layers.ReLU(6.0, name=f"{name}_relu6")(y)
    return _head(keras, image, x, "shufflenet")


def _squeeze_excite(keras: Any, x: Any, reduced: int, name: str) -> Any:
    """Squeeze-and-excitation: channel weights from the pooled map, gated by a sigmoid.

    The reduction uses swish, as EfficientNet-B0 does: with ReLU a reduction channel that
    dies in training is all zeros, the int8 conversion gives it a scale of about 1e-8, and
    LiteRT's XNNPACK delegate then refuses to load the model."""
    layers = keras.layers
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
    s = layers.Conv2D(reduced, 1, activation="swish", name=f"{name}_se_reduce")(s)
    s = layers.Conv2D(channels, 1, activation="sigmoid", name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se_scale")([x, s])


def _mbconv(keras: Any, x: Any, filters: int, stride: int, expand: int, name: str, *, se: bool) -> Any:
    """EfficientNet's inverted residual: 1x1 expand, 3x3 depthwise, (SE,) 1x1 linear project."""
    inputs = x.shape[-1]
    y = _conv_bn(keras, x, inputs * expand, 1, 1, f"{name}_expand") if expand > 1 else x
    y = _depthwise_bn(keras, y, stride, name)
    if se:
        y = _squeeze_excite(keras, y, max(1, inputs // 4), name)
    y = _conv_bn(keras, y, filters, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and inputs == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def efficientnet_lite(se: bool = False) -> Any:
    """EfficientNet-lite in small: MBConv blocks with ReLU6 and, as lite does, no
    squeeze-and-excitation (``se=True`` puts it back, as in EfficientNet-B0)."""
    keras = _keras()
    image, x = _image(keras)
    x = _conv_bn(keras, x, 16, 3, 2, "stem")  # 14x14
    blocks = [(16, 1, 1), (24, 2, 4), (24, 1, 4), (40, 2, 4), (40, 1, 4)]
    for i, (filters, stride, expand) in enumerate(blocks, start=1):
        x = _mbconv(keras, x, filters, stride, expand, f"block{i}", se=se)
    x = _conv_bn(keras, x, 128, 1, 1, "top")
    return _head(keras, image, x, "efficientnet_lite_se" if se else "efficientnet_lite")


def efficientnet_lite_se() -> Any:
    """EfficientNet-lite with squeeze-and-excitation: what the accelerators make of SE."""
    return efficientnet_lite(se=True)


def lstm_rows() -> Any:
    """An LSTM reading the image row by row (28 steps of 28 features)."""
    keras = _keras()
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(INPUT_SHAPE, batch_size=BATCH_SIZE, name="image"),
            layers.LSTM(64, name="lstm"),
            layers.Dense(CLASSES, name="logits"),
        ],
        name="lstm_rows",
    )


BUILDERS: dict[str, Callable[[], Any]] = {
    "dense_mlp": dense_mlp,
    "mobilenet": mobilenet,
    "shufflenet": shufflenet,
    "efficientnet_lite": efficientnet_lite,
    "efficientnet_lite_se": efficientnet_lite_se,
    "lstm_rows": lstm_rows,
}
"""Model name -> builder: the names of the declared models and of their weight files."""


def build(name: str) -> Any:
    """The untrained model called ``name``."""
    try:
        return BUILDERS[name]()
    except KeyError:
        raise ValueError(f"no architecture called {name!r}; known: {', '.join(BUILDERS)}") from None
