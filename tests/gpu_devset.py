"""The gpu target's development set: small models whose placement LiteRT's GPU accelerator decides.

Each case builds one architecture from Keras or from a ``tf.function``; every case is
converted in float32, float16 and dynamic-range int8, and the int4 cases through
ai-edge-quantizer's int4 recipes. ``benchmarks/bench_gpu_devset.py`` scores the static
rules against the accelerator on all of them; ``tests/test_gpu_devset.py`` keeps each case
the rules get right.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from typing import Any

MODES = ("float32", "float16", "dynamic_int8")
INT4_RECIPES = ("dynamic_wi4_afp32", "weight_only_wi4_afp32")


@dataclasses.dataclass(frozen=True)
class Case:
    """One architecture: ``build(tf, keras)`` returns a Keras model or a ``tf.function``
    with an input signature."""

    name: str
    build: Callable[[Any, Any], Any]
    modes: tuple[str, ...] = MODES


CASES: dict[str, Case] = {}


def case(*modes: str) -> Callable[[Callable[[Any, Any], Any]], Callable[[Any, Any], Any]]:
    def register(build: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        name = build.__name__
        CASES[name] = Case(name, build, modes or MODES)
        return build

    return register


def _seq(keras: Any, shape: tuple[int, ...], *layers: Any, name: str) -> Any:
    keras.utils.set_random_seed(0)
    x = keras.Input(shape, batch_size=1, name="x")
    y = x
    for layer in layers:
        y = layer(y)
    return keras.Model(x, y, name=name)


def _fn(tf: Any, shape: tuple[int, ...], body: Callable[[Any], Any], dtype: str = "float32") -> Any:
    tf.random.set_seed(0)
    spec = tf.TensorSpec((1, *shape), getattr(tf, dtype), name="x")
    return tf.function(body, input_signature=[spec])


def _weights(tf: Any, *shape: int, seed: int = 0) -> Any:
    """Seeded constant weights, made with numpy so that tracing a ``tf.function`` can call it."""
    import numpy as np

    return (np.random.default_rng(seed).standard_normal(shape) * 0.1).astype("float32")


# --- convolution, pooling, resize -----------------------------------------------------


@case()
def conv_pool(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(
        keras,
        (32, 32, 3),
        L.Conv2D(16, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(32, 3, strides=2, activation="relu"),
        L.AveragePooling2D(),
        L.GlobalAveragePooling2D(),
        L.Dense(10, activation="softmax"),
        name="conv_pool",
    )


@case()
def depthwise_block(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(
        keras,
        (24, 24, 16),
        L.DepthwiseConv2D(3, padding="same"),
        L.BatchNormalization(),
        L.ReLU(6.0),
        L.Conv2D(32, 1),
        L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=1),
        L.Conv2D(48, 1),
        L.Lambda(lambda t: t * tf.nn.relu6(t + 3.0) / 6.0),
        name="depthwise_block",
    )


@case()
def resize_bilinear_nearest(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 8), batch_size=1, name="x")
    y = L.Conv2D(16, 3, padding="same")(x)
    a = L.UpSampling2D(2, interpolation="bilinear")(y)
    b = L.UpSampling2D(2, interpolation="nearest")(y)
    c = L.Resizing(24, 24, interpolation="bilinear")(y)
    out = L.Concatenate()([a, b])
    out = L.Conv2D(8, 3, padding="same")(out)
    c = L.Conv2D(8, 1)(c)
    return keras.Model(x, [out, c], name="resize_bilinear_nearest")


@case()
def transposed_conv(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(
        keras,
        (8, 8, 16),
        L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        L.Conv2DTranspose(8, 4, strides=2, padding="same"),
        name="transposed_conv",
    )


@case()
def unet_concat(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((32, 32, 3), batch_size=1, name="x")
    d1 = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    p1 = L.MaxPooling2D()(d1)
    d2 = L.Conv2D(32, 3, padding="same", activation="relu")(p1)
    u1 = L.Conv2DTranspose(16, 2, strides=2)(d2)
    cat = L.Concatenate()([u1, d1])
    y = L.Conv2D(16, 3, padding="same", activation="relu")(cat)
    y = L.Conv2D(2, 1, activation="sigmoid")(y)
    return keras.Model(x, y, name="unet_concat")


@case()
def dilated_separable(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(
        keras,
        (20, 20, 8),
        L.SeparableConv2D(16, 3, padding="same", activation="relu"),
        L.Conv2D(16, 3, dilation_rate=2, padding="same"),
        L.ZeroPadding2D(1),
        L.Conv2D(8, 3),
        L.Flatten(),
        L.Dense(4),
        name="dilated_separable",
    )


# --- reshape and transpose ------------------------------------------------------------


@case()
def reshape_transpose_4d(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 1, 1, 8, 16), 1, "SAME")
        y = tf.reshape(y, (1, 16, 4, 16))
        y = tf.transpose(y, (0, 2, 1, 3))
        y = tf.reshape(y, (1, 4, 256))
        return tf.nn.relu(y)

    return _fn(tf, (8, 8, 8), body)


@case()
def transpose_5d(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 1, 1, 8, 16), 1, "SAME")
        y = tf.reshape(y, (1, 8, 8, 4, 4))
        y = tf.transpose(y, (0, 1, 3, 2, 4))
        y = tf.reshape(y, (1, 8, 32, 4))
        return tf.nn.conv2d(y, _weights(tf, 1, 1, 4, 4, seed=1), 1, "SAME")

    return _fn(tf, (8, 8, 8), body)


@case()
def reshape_5d(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.reshape(x, (1, 4, 4, 4, 8))
        y = tf.reduce_mean(y, axis=3)
        return tf.nn.conv2d(y, _weights(tf, 3, 3, 8, 8), 1, "SAME")

    return _fn(tf, (16, 4, 8), body)


@case()
def pixel_shuffle(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 3, 3, 4, 16), 1, "SAME")
        y = tf.nn.depth_to_space(y, 2)
        y = tf.nn.space_to_depth(y, 2)
        return tf.nn.conv2d(y, _weights(tf, 1, 1, 16, 4, seed=2), 1, "SAME")

    return _fn(tf, (8, 8, 4), body)


# --- gather, embeddings ---------------------------------------------------------------


@case()
def embedding_classifier(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((16,), batch_size=1, dtype="int32", name="x")
    y = L.Embedding(200, 16)(x)
    y = L.GlobalAveragePooling1D()(y)
    y = L.Dense(32, activation="relu")(y)
    y = L.Dense(3)(y)
    return keras.Model(x, y, name="embedding_classifier")


@case()
def gather_1d(tf: Any, keras: Any) -> Any:
    table = _weights(tf, 64, 32, seed=3)
    rows = tf.constant([3, 1, 4, 1, 5, 9, 2, 6], dtype=tf.int32)

    def body(x: Any) -> Any:
        y = tf.matmul(x, table[:32])
        return tf.gather(y, rows, axis=1)

    return _fn(tf, (32,), body)


@case()
def gather_2d_indices(tf: Any, keras: Any) -> Any:
    idx = tf.constant([[0, 2], [1, 3]], dtype=tf.int32)

    def body(x: Any) -> Any:
        y = tf.nn.relu(x * 2.0 + 1.0)
        return tf.gather(y, idx, axis=1)

    return _fn(tf, (8, 4), body)


# --- argmax, top-k, cumsum, floor_mod -------------------------------------------------


@case()
def argmax_head(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((16, 16, 3), batch_size=1, name="x")
    y = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    y = L.Conv2D(5, 1)(y)
    y = L.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32))(y)
    return keras.Model(x, y, name="argmax_head")


@case()
def argmax_int64_cast(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 10))
        return tf.cast(tf.argmax(y, axis=-1), tf.float32)

    return _fn(tf, (32,), body)


@case()
def topk_scores(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.softmax(tf.matmul(x, _weights(tf, 32, 8)))
        values, _ = tf.math.top_k(y, k=3)
        return values

    return _fn(tf, (32,), body)


@case()
def cumsum_logits(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 16))
        return tf.math.cumsum(tf.nn.sigmoid(y), axis=-1)

    return _fn(tf, (32,), body)


@case()
def floor_mod_phase(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 16)) * 10.0
        return tf.math.floormod(y, 3.0) + tf.math.floordiv(y, 4.0)

    return _fn(tf, (32,), body)


@case()
def elementwise_mix(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 16))
        a = tf.math.sign(y) * tf.math.abs(y)
        b = tf.math.atan2(y, tf.ones_like(y))
        c = tf.math.log(tf.math.abs(y) + 1.0) - tf.math.negative(y)
        d = tf.math.reduce_prod(tf.reshape(tf.nn.sigmoid(y), (1, 4, 4)), axis=-1)
        return tf.concat([a + b + c, tf.reverse(y, axis=[-1]), d], axis=-1)

    return _fn(tf, (32,), body)


# --- slicing, pack / unpack -----------------------------------------------------------


@case()
def strided_slice_shrink(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.relu(tf.matmul(x, _weights(tf, 8, 8)))
        return y[:, 0, :] + y[:, -1, :]

    return _fn(tf, (6, 8), body)


@case()
def strided_slice_ranges(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 3, 3, 4, 8), 1, "SAME")
        a = y[:, 1:7:2, 1:, :4]
        b = y[:, ::2, 1:, 4:]
        return tf.concat([a, b[:, :3, :7]], axis=-1)

    return _fn(tf, (8, 8, 4), body)


@case()
def strided_slice_2d(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 24))
        return tf.nn.relu(y[:, 4:20:2]) + y[:, :8]

    return _fn(tf, (32,), body)


@case()
def pack_unpack(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 8, 8))
        parts = tf.unstack(y, axis=1)
        return tf.stack([parts[0] + parts[1], parts[2] * parts[3]], axis=1)

    return _fn(tf, (4, 8), body)


@case()
def split_channels(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 1, 1, 8, 12), 1, "SAME")
        a, b, c = tf.split(y, [4, 4, 4], axis=-1)
        return tf.concat([tf.nn.sigmoid(a) * b, tf.nn.tanh(c)], axis=-1)

    return _fn(tf, (8, 8, 8), body)


# --- recurrent ------------------------------------------------------------------------


@case()
def lstm_fused(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(keras, (10, 8), L.LSTM(16), L.Dense(4), name="lstm_fused")


@case()
def lstm_unrolled(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(keras, (6, 8), L.LSTM(16, unroll=True), L.Dense(4), name="lstm_unrolled")


@case()
def gru_unrolled(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(keras, (6, 8), L.GRU(16, unroll=True), L.Dense(4), name="gru_unrolled")


@case()
def gru_loop(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(keras, (6, 8), L.GRU(16), L.Dense(4), name="gru_loop")


# --- attention, normalisation ---------------------------------------------------------


@case()
def attention_layernorm(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 32), batch_size=1, name="x")
    y = L.MultiHeadAttention(num_heads=2, key_dim=16)(x, x)
    y = L.LayerNormalization()(x + y)
    z = L.Dense(64, activation="gelu")(y)
    z = L.Dense(32)(z)
    y = L.LayerNormalization()(y + z)
    return keras.Model(x, y, name="attention_layernorm")


@case()
def l2_normalize(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 32, 16))
        return tf.math.l2_normalize(y, axis=-1)

    return _fn(tf, (32,), body)


@case()
def batch_matmul_softmax(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        q = tf.matmul(x, _weights(tf, 16, 16))
        k = tf.matmul(x, _weights(tf, 16, 16, seed=1))
        scores = tf.nn.softmax(tf.matmul(q, k, transpose_b=True) / 4.0)
        return tf.matmul(scores, x)

    return _fn(tf, (8, 16), body)


@case()
def mean_reductions(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 3, 3, 4, 8), 1, "SAME")
        a = tf.reduce_mean(y, axis=[1, 2])
        b = tf.reduce_max(y, axis=[1, 2])
        c = tf.reduce_sum(y, axis=[1, 2])
        return tf.concat([a, b, c], axis=-1)

    return _fn(tf, (8, 8, 4), body)


# --- detection ------------------------------------------------------------------------


@case()
def nms_boxes(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        boxes = tf.nn.sigmoid(tf.matmul(x, _weights(tf, 16, 64)))
        boxes = tf.reshape(boxes, (16, 4))
        scores = tf.reduce_max(boxes, axis=-1)
        keep = tf.image.non_max_suppression(boxes, scores, max_output_size=5, iou_threshold=0.5)
        return tf.gather(scores, keep)

    return _fn(tf, (16,), body)


@case()
def cpu_op_in_the_middle(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.relu(tf.matmul(x, _weights(tf, 32, 32)))
        y = tf.matmul(y, _weights(tf, 32, 32, seed=1))
        pos = tf.cast(tf.argmax(y, axis=-1), tf.float32)
        z = tf.nn.relu(tf.matmul(y, _weights(tf, 32, 16, seed=2)))
        z = tf.matmul(z, _weights(tf, 16, 8, seed=3))
        return z + tf.expand_dims(pos, -1)

    return _fn(tf, (32,), body)


# --- more element-wise, shape and comparison operators ---------------------------------


@case()
def activations_mix(tf: Any, keras: Any) -> Any:
    L = keras.layers
    keras.utils.set_random_seed(0)
    x = keras.Input((12, 12, 8), batch_size=1, name="x")
    a = L.PReLU(shared_axes=[1, 2])(L.Conv2D(8, 3, padding="same")(x))
    b = L.LeakyReLU(0.2)(x)
    c = L.ELU()(x)
    y = L.Concatenate()([a, b, c])
    y = L.Conv2D(8, 1, activation="tanh")(y)
    return keras.Model(x, L.Softmax()(y), name="activations_mix")


@case()
def pad_tile_space_to_depth(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.pad(x, [[0, 0], [1, 1], [2, 2], [0, 0]], mode="REFLECT")
        y = tf.nn.space_to_depth(y[:, :8, :8, :], 2)
        y = tf.tile(y, [1, 1, 1, 2])
        return tf.nn.conv2d(y, _weights(tf, 1, 1, 32, 4), 1, "SAME")

    return _fn(tf, (8, 8, 4), body)


@case()
def compare_select(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 16, 16))
        mask = tf.greater(y, 0.0)
        z = tf.where(mask, y, y * 0.1)
        return z + tf.cast(tf.less_equal(y, 0.5), tf.float32)

    return _fn(tf, (16,), body)


@case()
def pow_rsqrt_squared_difference(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 16, 16))
        a = tf.math.squared_difference(y, tf.reduce_mean(y, axis=-1, keepdims=True))
        b = tf.math.rsqrt(a + 1.0) * tf.pow(tf.abs(y) + 1.0, 1.5)
        return tf.exp(-b) + tf.reduce_min(y, axis=-1, keepdims=True)

    return _fn(tf, (16,), body)


@case()
def broadcast_add_mul(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 1, 1, 8, 8), 1, "SAME")
        bias = tf.reduce_mean(y, axis=[1, 2])
        outer = tf.reshape(tf.reduce_mean(y, axis=[2, 3]), (1, 6, 1, 1)) * tf.reshape(bias, (1, 1, 1, 8))
        return y + tf.reshape(bias, (1, 1, 1, 8)) + tf.reduce_mean(outer)

    return _fn(tf, (6, 6, 8), body)


@case()
def depthwise_multiplier(tf: Any, keras: Any) -> Any:
    L = keras.layers
    return _seq(
        keras,
        (12, 12, 4),
        L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"),
        L.Conv2D(8, 1),
        L.DepthwiseConv2D(3, strides=2, dilation_rate=1),
        name="depthwise_multiplier",
    )


@case()
def resize_align_corners(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        a = tf.compat.v1.image.resize_bilinear(x, (12, 12), align_corners=True)
        b = tf.compat.v1.image.resize_nearest_neighbor(x, (12, 12), align_corners=True)
        return tf.nn.conv2d(tf.concat([a, b], -1), _weights(tf, 1, 1, 8, 4), 1, "SAME")

    return _fn(tf, (6, 6, 4), body)


@case()
def one_hot_argmin(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 16, 8))
        idx = tf.argmin(y, axis=-1, output_type=tf.int32)
        return tf.one_hot(idx, 8) + y

    return _fn(tf, (16,), body)


@case()
def gather_int64_indices(tf: Any, keras: Any) -> Any:
    rows = tf.constant([0, 3, 5, 7], dtype=tf.int64)

    def body(x: Any) -> Any:
        y = tf.nn.relu(tf.matmul(x, _weights(tf, 16, 8)))
        return tf.gather(y, rows, axis=1) * 2.0

    return _fn(tf, (16,), body)


@case()
def batch_matmul_constant(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        w = tf.constant(_weights(tf, 1, 16, 12))
        y = tf.matmul(x, w)
        return tf.matmul(y, y, transpose_a=True)

    return _fn(tf, (8, 16), body)


@case()
def split_batch_concat_axis0(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.nn.conv2d(x, _weights(tf, 3, 3, 4, 4), 1, "SAME")
        a, b = tf.split(y, 2, axis=1)
        return tf.concat([a, b], axis=0)

    return _fn(tf, (8, 8, 4), body)


@case()
def mean_keepdims_3d(tf: Any, keras: Any) -> Any:
    def body(x: Any) -> Any:
        y = tf.matmul(x, _weights(tf, 16, 16))
        z = y - tf.reduce_mean(y, axis=1, keepdims=True)
        return tf.reduce_max(z, axis=1) + tf.reduce_sum(z, axis=-1)[:, :1]

    return _fn(tf, (10, 16), body)


# --- building and converting ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DevModel:
    """One converted member of the set."""

    case: str
    mode: str

    @property
    def name(self) -> str:
        return f"{self.case}[{self.mode}]"


def members() -> Iterator[DevModel]:
    for c in CASES.values():
        for mode in c.modes:
            yield DevModel(c.name, mode)
    for name in INT4_CASES:
        for recipe in INT4_RECIPES:
            yield DevModel(name, recipe)


INT4_CASES = ("conv_pool", "attention_layernorm")
"""Architectures also quantized with ai-edge-quantizer's int4 recipes."""


@functools.cache
def _frameworks() -> tuple[Any, Any]:
    import tensorflow as tf
    import tf_keras

    return tf, tf_keras


def convert(member: DevModel, converter: Any | None = None) -> Any:
    """The member as a :class:`pytest_tflite.TFLiteModel`."""
    from pytest_tflite import Converter, TFLiteModel

    converter = converter or Converter()
    tf, keras = _frameworks()
    source = CASES[member.case].build(tf, keras)
    if member.mode in INT4_RECIPES:
        float_model = converter.convert(source, "float32", name=member.case)
        content = _int4(float_model.content, member.mode)
        return TFLiteModel(content, name=member.case, mode=member.mode)
    return converter.convert(source, member.mode, name=member.case)


def _int4(content: bytes, recipe_name: str) -> bytes:
    from ai_edge_quantizer import quantizer, recipe

    qt = quantizer.Quantizer(bytearray(content), getattr(recipe, recipe_name)())
    return bytes(qt.quantize(enable_progress_report=False).quantized_model)
